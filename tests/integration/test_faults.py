"""Faults injected by the emulator: every entry still ends exactly once, as a batch or a
reasoned failure, with no duplicate batch."""

import json
import re
import unittest
from collections import Counter

from harness import WorldTestCase, World, wait_for


def duplicates(world):
    counts = Counter(b["externalId"] for b in world.emulator.batches())
    return {k: v for k, v in counts.items() if v > 1}


class Faults(WorldTestCase):
    def fill(self, spool, n, prefix="e"):
        for i in range(n):
            spool.drop(f"{prefix}{i:04d}", f"ds{i}")

    def test_transient_faults_are_retried_until_done(self):
        # 30% of creates fail transiently: 429 with Retry-After, 5xx, resets, and hangs beyond
        # the request timeout.
        w = self.world(["--fault", "429=10%", "--fault", "500=5%", "--fault", "503=5%",
                        "--fault", "reset=5%", "--fault", "hang=5%", "--seed", "7"])
        cfg = w.config(queues=["q"], http={"request_timeout": "1s"}, retry={"max_attempts": 30})
        q = w.spool("q")
        self.fill(q, 300)
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 300, log[-3000:])
        self.assertEqual(q.names("failed"), [])
        stats = w.emulator.stats()
        self.assertGreater(stats["faults_injected"], 30, "the faults must really have happened")
        self.assertEqual(duplicates(w), {})
        retried = [r for r in q.done_records() if r["attempts"] > 1]
        self.assertTrue(retried, "some records show the retries they took")

    def test_reset_after_create_never_duplicates(self):
        w = self.world(["--fault", "reset-after-create=30%", "--seed", "11"])
        cfg = w.config(queues=["q"], retry={"max_attempts": 30})
        q = w.spool("q")
        self.fill(q, 200)
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 200)
        self.assertEqual(duplicates(w), {}, "a batch was created twice for one entry")
        self.assertEqual(w.emulator.stats()["batches_created"], 200)
        recovered = [r for r in q.done_records() if r.get("recovered")]
        self.assertGreater(len(recovered), 20, "resets after create are recovered via Catalog")
        store = {b["id"] for b in w.emulator.batches()}
        self.assertEqual({r["batchId"] for r in q.done_records()}, store)

    def test_malformed_created_response_is_resolved_by_lookup(self):
        w = self.world(["--fault", "malformed=25%", "--seed", "3"])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        self.fill(q, 100)
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 100)
        self.assertEqual(duplicates(w), {})
        self.assertEqual(w.emulator.stats()["batches_created"], 100)

    def test_hanging_server_is_cut_off_by_the_deadline(self):
        w = self.world(["--fault", "hang=5%", "--seed", "5"])
        cfg = w.config(queues=["q"], http={"request_timeout": "1s"}, retry={"max_attempts": 20})
        q = w.spool("q")
        self.fill(q, 60)
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 60)
        self.assertIn("timeout", log)
        self.assertEqual(duplicates(w), {})

    def test_trickling_server_is_cut_off_by_the_deadline(self):
        # Bytes keep coming, but the response never ends: the deadline covers the whole read,
        # not each byte, so the request still ends after request_timeout.
        w = self.world(["--fault", "trickle=100%"])
        cfg = w.config(queues=["q"], http={"request_timeout": "1s"}, retry={"max_attempts": 2})
        q = w.spool("q")
        q.drop("slow", "ds1")
        rc, log = w.run_once(cfg, timeout=120)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        rec = q.error_record("slow")
        self.assertIn("timeout", rec["reason"])
        self.assertEqual(rec["attempts"], 2)
        # A trickled 201 may have created the batch: the daemon asked Catalog before giving up.
        self.assertGreaterEqual(w.emulator.stats()["lookups"], 1)

    def test_revoked_token_is_refreshed_once_without_failures(self):
        w = self.world()
        cfg = w.config(queues=["q"])
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q = w.spool("q")
        self.fill(q, 20, "a")
        wait_for(lambda: q.count("done", ".json") >= 20, 60, "the first 20 entries")
        w.emulator.request("POST", "/emulator/revoke-tokens")
        self.fill(q, 20, "b")
        wait_for(lambda: q.count("done", ".json") >= 40, 60, "the entries after the revocation")
        self.assertEqual(daemon.terminate(), 0)
        self.assertEqual(q.names("failed"), [])
        stats = w.emulator.stats()
        self.assertEqual(stats["token_requests"], 2, "one refresh after the revocation")
        self.assertGreaterEqual(stats["unauthorized"], 1)
        self.assertEqual(duplicates(w), {})

    def test_wrong_secret_keeps_entries_waiting_without_hammering(self):
        w = self.world()
        cfg = w.config(queues=["q"])
        w.secret_file.write_text("not-the-secret\n")
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q = w.spool("q")
        self.fill(q, 5)
        wait_for(lambda: "invalid_client" in daemon.log(), 30, "the cause to be logged")
        self.assertEqual(daemon.terminate(), 0)
        self.assertIn("check auth.client_id, the client secret and auth.scopes", daemon.log())
        self.assertEqual(q.names("failed"), [], "entries wait while no token can be had")
        self.assertEqual(len(q.names("incoming")) + len(q.names("processing")), 5)
        self.assertLessEqual(w.emulator.stats()["token_requests"], 2, "no tight loop against IMS")

    def test_ims_down_then_up(self):
        w = self.world(["--ims-down"])
        cfg = w.config(queues=["q"])
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q = w.spool("q")
        self.fill(q, 10)
        wait_for(lambda: w.emulator.stats()["token_requests"] >= 3, 60, "token retries while IMS is down")
        self.assertEqual(q.count("done", ".json"), 0)
        w.emulator.request("POST", "/emulator/ims-up")
        wait_for(lambda: q.count("done", ".json") >= 10, 90, "entries to complete after IMS recovers")
        self.assertEqual(daemon.terminate(), 0)
        self.assertEqual(q.names("failed"), [])

    def test_retries_exhausted_end_in_failed_with_the_last_error(self):
        w = self.world(["--fault", "503=100%"])
        cfg = w.config(queues=["q"], retry={"max_attempts": 3})
        q = w.spool("q")
        q.drop("e", "ds1")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        rec = q.error_record("e")
        self.assertEqual(rec["attempts"], 3)
        self.assertEqual(rec["httpStatus"], 503)
        self.assertIn("gave up after 3 attempts", rec["reason"])
        self.assertEqual(w.emulator.stats()["batch_requests"], 3)
        # The log: a retry line for each attempt but the last (with the delay, the limit and
        # the dataset), then one `entry failed` with the record's path and the request id.
        retries = [l for l in log.splitlines() if "batch creation failed; will retry" in l]
        self.assertEqual(len(retries), 2, log)
        for n, line in enumerate(retries, 1):
            self.assertIn(f"attempt={n} max_attempts=3", line)
            self.assertRegex(line, r"retry_in_ms=\d+ error=\"HTTP 503\"")
            self.assertIn("dataset_id=ds1", line)
        [failed] = [l for l in log.splitlines() if "entry failed" in l]
        self.assertIn(f"record={q.path}/failed/e.error.json", failed)
        self.assertIn("http_status=503", failed)
        self.assertRegex(failed, r"request_id=\S+")
        self.assertIn('error="gave up after 3 attempts: HTTP 503"', failed)

    def test_no_secret_or_token_in_any_output(self):
        w = self.world(["--fault", "500=20%", "--token-lifetime", "2s"])
        cfg = w.config(queues=["q"], log={"level": "debug"})
        q = w.spool("q")
        self.fill(q, 30)
        q.drop("bad", "not valid!")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        cfg_json = w.config(queues=["q"], log={"level": "debug", "format": "json"}, name="json.yaml")
        self.fill(q, 10, "j")
        rc, log = w.run_once(cfg_json)
        self.assertEqual(rc, 0, log)
        for line in log.strip().splitlines():
            json.loads(line)  # every JSON log line is one valid object
        needles, files = w.assert_no_secrets(self)
        self.assertGreaterEqual(needles, 2)
        self.assertGreater(files, 40)


if __name__ == "__main__":
    unittest.main()
