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
