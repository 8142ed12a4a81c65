"""--check: exit 0 on a good config, 78 with one line per problem naming the key otherwise."""

import json
import os
import subprocess
import unittest

from harness import BATCHD, World


class Check(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)

    def check(self, path):
        p = subprocess.run([BATCHD, "--config", str(path), "--check"], capture_output=True, text=True,
                           timeout=60)
        self.world.outputs.append(self.write("check-output.txt", p.stdout + p.stderr))
        return p.returncode, p.stdout + p.stderr

    def write(self, name, text):
        path = self.world.dir / name
        path.write_text(text)
        return path

    def mutate(self, fn):
        cfg = json.loads(self.world.config().read_text())
        fn(cfg)
        return self.write("mutated.yaml", json.dumps(cfg))

    def test_good_config(self):
        rc, out = self.check(self.world.config())
        self.assertEqual(rc, 0, out)
        self.assertIn("OK (1 queue)", out)
        self.assertNotIn(self.world.secret, out)

    def test_each_problem_is_one_line_naming_the_key(self):
        def bad(cfg):
            cfg["http"]["concurrency"] = 0
            cfg["http"]["request_timout"] = "5s"
            cfg["platform"]["import_url"] = "http://platform.adobe.io/x"
            cfg["queues"][0]["sandbox"] = "Prod"
        rc, out = self.check(self.mutate(bad))
        self.assertEqual(rc, 78, out)
        lines = out.strip().splitlines()
        self.assertIn("http.concurrency: must be > 0", lines)
        self.assertTrue(any(l.startswith("http.request_timout: unknown key") for l in lines), out)
        self.assertTrue(any(l.startswith("platform.import_url: must use https://") for l in lines), out)
        self.assertTrue(any(l.startswith("queues[0].sandbox:") for l in lines), out)

    def test_missing_secret_file_is_named(self):
        def bad(cfg):
            cfg["auth"]["client_secret_file"] = str(self.world.dir / "absent")
        rc, out = self.check(self.mutate(bad))
        self.assertEqual(rc, 78, out)
        self.assertIn("auth.client_secret_file: cannot read", out)

    def test_world_readable_secret_warns(self):
        self.world.secret_file.chmod(0o644)
        rc, out = self.check(self.world.config())
        self.assertEqual(rc, 0, out)
        self.assertIn("readable by group or others", out)
        self.assertNotIn(self.world.secret, out)

    def test_yaml_syntax_error_and_missing_file(self):
        rc, out = self.check(self.write("broken.yaml", "platform: [unclosed\n"))
        self.assertEqual(rc, 78)
        self.assertIn("YAML syntax error at line", out)
        self.assertIn("broken.yaml", out)
        rc, out = self.check(self.world.dir / "nope.yaml")
        self.assertEqual(rc, 78)
        self.assertIn("nope.yaml: cannot read the configuration file", out)

    def test_what_would_break_the_start_is_caught(self):
        # A quote left open: named by the line that opened it, not only where YAML noticed.
        text = self.world.config().read_text().replace('"TESTORG@AdobeOrg"', '"TESTORG@AdobeOrg')
        rc, out = self.check(self.write("quote.yaml", text))
        self.assertEqual(rc, 78, out)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if "TESTORG" in l)
        self.assertIn(f"line {line} opens a quote that it does not close", out)
        # A key given twice (appended at the end, as an operator does).
        text = self.world.config().read_text().rstrip()
        assert text.endswith("}")
        text = text[:-1] + ',\n  "log": {"level": "debug"}\n}\n'
        rc, out = self.check(self.write("twice.yaml", text))
        self.assertEqual(rc, 78, out)
        first = next(i for i, l in enumerate(text.splitlines(), 1) if '"log"' in l)
        self.assertIn(f"log: is given twice, at lines {first} and {len(text.splitlines()) - 1}",
                      out)
        # The example's placeholder, a spool below a regular file.
        (self.world.dir / "a-file").write_text("")
        def bad(cfg):
            cfg["platform"]["org_id"] = "YOUR_ORG_ID@AdobeOrg"
            cfg["queues"][0]["spool"] = str(self.world.dir / "a-file" / "spool")
        rc, out = self.check(self.mutate(bad))
        self.assertEqual(rc, 78, out)
        self.assertIn("platform.org_id: is still the example's placeholder 'YOUR_ORG_ID@AdobeOrg'",
                      out)
        self.assertIn(f"queues[0].spool: {self.world.dir}/a-file is not a directory", out)
        # A spool the daemon's user may not reach (here the checking user is that user).
        cfg = self.mutate(lambda c: c["queues"][0].update(spool=str(self.world.dir / "locked" / "s")))
        (self.world.dir / "locked").mkdir(mode=0o700)
        os.chmod(self.world.dir, 0o755)
        os.chmod(cfg, 0o644)
        os.chmod(self.world.secret_file, 0o644)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BATCHD,
                            "--config", str(cfg), "--check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
        self.assertIn(f"{self.world.dir}/locked: nobody may not pass through it", p.stdout)

    def test_the_systemd_credential_can_be_checked_by_hand(self):
        # As the README says: the unit's LoadCredential= reads /etc/aep-batchd/client_secret;
        # by hand, CREDENTIALS_DIRECTORY names the directory that holds client_secret.
        creds = self.world.dir / "creds"
        creds.mkdir(mode=0o700)
        (creds / "client_secret").write_text(self.world.secret + "\n")
        (creds / "client_secret").chmod(0o600)
        cfg = self.mutate(lambda c: c["auth"].pop("client_secret_file"))
        rc, out = self.check(cfg)
        self.assertEqual(rc, 78, out)
        self.assertIn("systemd credential named client_secret", out)
        p = subprocess.run([BATCHD, "--config", str(cfg), "--check", "--online"],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "CREDENTIALS_DIRECTORY": str(creds)})
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok: IMS issued an access token", p.stdout)

    def test_online_fetches_a_token_and_asks_catalog_for_each_sandbox(self):
        cfg = self.world.config(queues=["a", {"name": "b", "sandbox": "other"}])
        p = subprocess.run([BATCHD, "--config", str(cfg), "--check", "--online"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok: IMS issued an access token", p.stdout)
        self.assertIn("ok: Catalog lists batches of sandbox 'a'", p.stdout)
        self.assertIn("ok: Catalog lists batches of sandbox 'other'", p.stdout)
        self.assertEqual(self.world.emulator.stats()["batches_created"], 0, "read-only")
        # A wrong secret: IMS refuses, 69, and the secret is not printed.
        wrong = self.write("wrong-secret", "not-the-secret\n")
        wrong.chmod(0o600)
        cfg = self.mutate(lambda c: c["auth"].update(client_secret_file=str(wrong)))
        p = subprocess.run([BATCHD, "--config", str(cfg), "--check", "--online"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 69, p.stdout + p.stderr)
        self.assertIn("OK (1 queue)", p.stdout, "the offline checks passed")
        self.assertIn("error: IMS", p.stdout)
        self.assertIn("check auth.client_id, the client secret and auth.scopes", p.stdout)
        self.assertNotIn("not-the-secret", p.stdout + p.stderr)
        # Trust anchors that do not sign the server's certificate: OpenSSL's reason and a hint.
        other = self.world.dir / "other-ca"
        subprocess.run([os.path.join(os.path.dirname(__file__), "..", "tools", "make-test-ca"),
                        str(other)], check=True)
        cfg = self.mutate(lambda c: c["tls"].update(ca_file=str(other / "ca.pem")))
        p = subprocess.run([BATCHD, "--config", str(cfg), "--check", "--online"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 69, p.stdout + p.stderr)
        self.assertIn("certificate verify failed", p.stdout)
        self.assertIn("(self-signed certificate in certificate chain)", p.stdout)
        self.assertIn("set tls.ca_file", p.stdout)

    def test_a_failed_start_says_why_and_nothing_misleading_after(self):
        # The metrics port is taken: the start fails after the token fetch began. The journal
        # shows the cause and the stop, not token or sync warnings that follow from it.
        import socket
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        cfg = self.mutate(lambda c: c.update(metrics={"listen": f"127.0.0.1:{port}"}))
        p = subprocess.run([BATCHD, "--config", str(cfg)], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertIn("cannot start", lines[0])
        self.assertIn("Address already in use", lines[0])
        self.assertEqual([l for l in lines if "warning" in l], [], p.stderr)
        self.assertIn("aep-batchd stopped", lines[-1])

    def test_bad_config_stops_the_daemon_before_it_starts(self):
        path = self.mutate(lambda cfg: cfg["http"].update(concurrency=-3))
        p = subprocess.run([BATCHD, "--config", str(path), "--once"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 78)
        self.assertIn("config error: http.concurrency: must be > 0", p.stderr)

    def test_usage_errors(self):
        if not os.path.exists("/etc/aep-batchd/aep-batchd.yaml"):
            # No --config: the package's path, named in the message.
            p = subprocess.run([BATCHD, "--check"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 78)
            self.assertIn("/etc/aep-batchd/aep-batchd.yaml", p.stdout + p.stderr)
        p = subprocess.run([BATCHD, "--bogus"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 64)
        p = subprocess.run([BATCHD, "--version"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^aep-batchd \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
