"""IMS tokens: proactive refresh, single flight, outages, with the real emulator."""

import json
import subprocess
import time
import unittest

from harness import WorldTestCase, BATCHD, World, wait_for


class Auth(WorldTestCase):
    def test_short_lived_tokens_are_refreshed_ahead_of_expiry(self):
        # 3 s tokens, refreshed 1 s before expiry: one request every 2 s, and no entry ever
        # meets an expired token.
        w = self.world(["--token-lifetime", "3s"])
        cfg = w.config(queues=["q"], auth={"refresh_margin": "1s"})
        q = w.spool("q")
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 30:
            q.drop(f"e{sent:04d}", f"ds{sent}")
            sent += 1
            time.sleep(0.1)  # pacing of the trickle, not synchronisation
        wait_for(lambda: q.count("done", ".json") >= sent, 60, "every trickled entry")
        duration = time.monotonic() - started
        self.assertEqual(daemon.terminate(), 0)
        stats = w.emulator.stats()
        expected = duration / (3 - 1)
        self.assertLessEqual(abs(stats["token_requests"] - expected), 1.0,
                             f"{stats['token_requests']} token requests in {duration:.1f}s, expected about {expected:.1f}")
        self.assertEqual(stats["unauthorized"], 0, "no request may carry an expired token")
        self.assertEqual(q.names("failed"), [])

    def test_two_hundred_waiters_cause_one_token_request(self):
        w = self.world(["--ims-latency", "1s"])
        cfg = w.config(queues=["q"], http={"concurrency": 200})
        q = w.spool("q")
        for i in range(200):
            q.drop(f"e{i:03d}", f"ds{i}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 200)
        self.assertEqual(w.emulator.stats()["token_requests"], 1)

    def test_ims_down_for_ten_seconds_entries_wait_then_complete(self):
        w = self.world(["--ims-down-for", "10s"])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        for i in range(20):
            q.drop(f"e{i:02d}", f"ds{i}")
        wait_for(lambda: q.count("done", ".json") >= 20, 120, "entries to complete after IMS recovers")
        self.assertEqual(daemon.terminate(), 0)
        self.assertEqual(q.names("failed"), [])
        stats = w.emulator.stats()
        self.assertGreaterEqual(stats["token_requests"], 3, "IMS was retried during the outage")
        self.assertLessEqual(stats["token_requests"], 40, "with back-off, not in a tight loop")
        self.assertIn("cannot obtain an access token; retrying", daemon.log())
        w.assert_no_secrets(self)


    def test_once_without_a_token_gives_up_after_a_minute_and_keeps_the_entries(self):
        # For cron: --once that can get no token exits 69 with the cause, instead of waiting
        # for ever; nothing is lost.
        w = self.world(["--ims-down"])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        q.drop("a", "ds1")
        started = time.monotonic()
        rc, log = w.run_once(cfg, timeout=180)
        elapsed = time.monotonic() - started
        self.assertEqual(rc, 69, log)
        self.assertIn("no access token within 60 s (--once)", log)
        self.assertIn("IMS answered 503", log, "the cause is named")
        self.assertGreaterEqual(elapsed, 59)
        self.assertLess(elapsed, 120)
        self.assertEqual(q.names("incoming") + q.names("processing"), ["a"], "the entry stays")
        self.assertEqual(w.emulator.stats()["batch_requests"], 0)

    def test_second_401_in_a_row_is_a_recorded_failure_not_a_loop(self):
        w = self.world()
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        q.drop("refused", "status-401")  # the emulator refuses every token for this dataset
        q.drop("fine", "ds1")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        rec = q.error_record("refused")
        self.assertEqual(rec["httpStatus"], 401)
        self.assertEqual(rec["attempts"], 2, "one resend with a fresh token, no more")
        self.assertIn("401 twice in a row", rec["reason"])
        self.assertEqual([r["entry"] for r in q.done_records()], ["fine"])
        self.assertEqual(w.emulator.stats()["token_requests"], 2)

    def test_systemd_credential_is_used_when_the_config_names_no_source(self):
        w = self.world()
        cfg_path = w.config(queues=["q"])
        cfg = json.loads(cfg_path.read_text())
        del cfg["auth"]["client_secret_file"]
        cfg_path.write_text(json.dumps(cfg))
        creds = w.dir / "credentials"
        creds.mkdir(mode=0o700)
        (creds / "client_secret").write_text(w.secret + "\n")
        w.daemon_env["CREDENTIALS_DIRECTORY"] = str(creds)
        q = w.spool("q")
        q.drop("a", "ds1")
        rc, log = w.run_once(cfg_path)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 1)
        del w.daemon_env["CREDENTIALS_DIRECTORY"]
        rc, log = w.run_once(cfg_path)
        self.assertEqual(rc, 78)
        self.assertIn("no client secret", log)


    def test_client_certificate_for_servers_that_require_one(self):
        w = self.world(["--client-ca", "{ca}/ca.pem"])
        q = w.spool("q")
        q.drop("a", "ds1")
        with_cert = w.config(queues=["q"], name="mtls.yaml")
        cfg = json.loads(with_cert.read_text())
        cfg["tls"]["client_cert"] = str(w.ca / "client.pem")
        cfg["tls"]["client_key"] = str(w.ca / "client.key")
        with_cert.write_text(json.dumps(cfg))
        rc, log = w.run_once(with_cert)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 1)

        # Without a certificate the server refuses the handshake: the entry waits, unsent.
        daemon = w.start_daemon(w.config(queues=["q"]))
        daemon.wait_started()
        q.drop("b", "ds2")
        wait_for(lambda: "cannot obtain an access token" in daemon.log(), 30, "the refused handshake")
        self.assertEqual(daemon.terminate(), 0)
        self.assertIn("certificate required", daemon.log())
        self.assertEqual(q.count("done", ".json"), 1)
        self.assertEqual(q.names("failed"), [])

    def test_server_not_trusted_means_nothing_is_sent(self):
        # Without tls.ca_file the emulator's throwaway CA is not trusted: verification refuses
        # the handshake, the secret is never sent, and entries wait.
        w = self.world()
        path = w.config(queues=["q"])
        cfg = json.loads(path.read_text())
        del cfg["tls"]["ca_file"]
        path.write_text(json.dumps(cfg))
        daemon = w.start_daemon(path)
        daemon.wait_started()
        q = w.spool("q")
        q.drop("a", "ds1")
        wait_for(lambda: "certificate verify failed" in daemon.log(), 30, "the refused certificate")
        self.assertEqual(daemon.terminate(), 0)
        stats = w.emulator.stats()
        self.assertEqual(stats["token_requests"], 0, "no request crosses an unverified connection")
        self.assertEqual(stats["batch_requests"], 0)
        self.assertEqual(q.names("failed"), [])

    def test_check_names_unreadable_or_mismatched_tls_files(self):
        w = self.world()
        path = w.config(queues=["q"])
        cfg = json.loads(path.read_text())
        cfg["tls"]["client_cert"] = str(w.ca / "client.pem")
        cfg["tls"]["client_key"] = str(w.ca / "server.key")  # not the certificate's key
        path.write_text(json.dumps(cfg))
        p = subprocess.run([BATCHD, "--config", str(path), "--check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 78, p.stdout)
        self.assertIn("tls.client_key:", p.stdout)
        self.assertIn("mismatch", p.stdout)
        cfg["tls"]["client_key"] = str(w.ca / "client.key")
        cfg["tls"]["ca_file"] = str(w.dir / "missing.pem")
        path.write_text(json.dumps(cfg))
        p = subprocess.run([BATCHD, "--config", str(path), "--check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 78, p.stdout)
        self.assertIn("tls.ca_file: cannot load", p.stdout)


if __name__ == "__main__":
    unittest.main()
