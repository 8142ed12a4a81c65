"""The whole path, real binaries over real TLS: entries dropped into two spools end as batches,
with correct records, log lines and emulator state."""

import json
import signal
import subprocess
import unittest
from collections import Counter

from harness import BATCH_LINE, BATCHD, World, wait_for


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)

    def test_thousand_entries_over_two_queues_in_daemon_mode(self):
        w = self.world
        cfg = w.config(queues=[{"name": "prod", "sandbox": "prod"},
                               {"name": "dev", "sandbox": "dev-1", "input_format": {"format": "parquet"}}])
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        prod, dev = w.spool("prod"), w.spool("dev")
        expected = {}  # (queue, entry) -> (datasetId, tags, format)
        for i in range(500):
            if i % 5 == 0:
                tags = {"source": [f"job-{i}"]}
                prod.drop(f"p{i:04d}", json.dumps({"datasetId": f"dsP{i}", "tags": tags,
                                                   "inputFormat": {"format": "CSV"}}))
                expected[("prod", f"p{i:04d}")] = (f"dsP{i}", tags, "CSV")
            else:
                prod.drop(f"p{i:04d}", f"dsP{i}\n")
                expected[("prod", f"p{i:04d}")] = (f"dsP{i}", None, "JSON")
            dev.drop(f"d{i:04d}", f"  dsD{i}  ")
            expected[("dev", f"d{i:04d}")] = (f"dsD{i}", None, "Parquet")

        wait_for(lambda: prod.count("done", ".json") + dev.count("done", ".json") >= 1000, 180,
                 "1000 done records (picked up by inotify, without restart)")
        self.assertEqual(daemon.terminate(), 0, daemon.log())

        records = prod.done_records() + dev.done_records()
        self.assertEqual(len(records), 1000)
        store = {b["id"]: b for b in w.emulator.batches()}
        self.assertEqual(len(store), 1000, "each entry must create exactly one batch")
        ext_counts = Counter(b["externalId"] for b in store.values())
        self.assertEqual(max(ext_counts.values()), 1, "an externalId was used for two batches")
        sandbox_of = {"prod": "prod", "dev": "dev-1"}
        for rec in records:
            key = (rec["queue"], rec["entry"])
            self.assertIn(key, expected, f"unexpected record {rec}")
            dataset, tags, fmt = expected.pop(key)
            self.assertEqual(rec["datasetId"], dataset)
            self.assertEqual(rec["status"], "loading")
            self.assertEqual(rec["attempts"], 1)
            self.assertTrue(rec["createdAt"].endswith("Z"))
            batch = store[rec["batchId"]]
            self.assertEqual(batch["externalId"], rec["externalId"])
            self.assertEqual(batch["sandbox"], sandbox_of[rec["queue"]])
            self.assertEqual(batch["relatedObjects"][0]["id"], dataset)
            self.assertEqual(batch["inputFormat"]["format"], fmt)
            self.assertEqual(rec["stagePath"], batch["tags"]["acp_stagePath"][0])
            self.assertEqual(rec["response"]["id"], rec["batchId"])
            if tags:
                self.assertEqual(batch["tags"]["source"], tags["source"])
        self.assertEqual(expected, {}, "some entries have no done record")
        for s in (prod, dev):
            self.assertEqual(s.names("incoming"), [])
            self.assertEqual(s.names("processing"), [])
            self.assertEqual(s.names("failed"), [])

        lines = [m for m in (BATCH_LINE.search(l) for l in daemon.log().splitlines()) if m]
        self.assertEqual(len(lines), 1000, "one 'batch created' log line per batch")
        logged = {(m.group(2), m.group(4), m.group(5)) for m in lines}
        self.assertEqual(logged, {(r["queue"], r["batchId"], r["stagePath"]) for r in records})

        stats = w.emulator.stats()
        self.assertEqual(stats["batch_requests"], 1000)
        self.assertEqual(stats["token_requests"], 1, "one token serves the whole run")
        # Keep-alive: connections are reused, not opened per request.
        self.assertLessEqual(stats["connections"], 16 + 2)
        w.assert_no_secrets(self)

    def test_once_drains_and_exits_zero(self):
        w = self.world
        cfg = w.config(queues=["q1"])
        q = w.spool("q1")
        for i in range(50):
            q.drop(f"e{i}", f"ds{i}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 50)
        self.assertEqual(q.names("incoming"), [])
        self.assertEqual(w.emulator.stats()["batches_created"], 50)

    def test_backlog_larger_than_the_in_memory_cap_is_drained(self):
        # The daemon holds at most 1024 names per queue in memory and lists incoming/ again as
        # it drains (at half); 6000 waiting entries need about ten refills.
        w = self.world
        cfg = w.config(queues=["big"], http={"concurrency": 32})
        q = w.spool("big")
        incoming = q.path / "incoming"
        incoming.mkdir(parents=True)
        for i in range(6000):
            (incoming / f"e{i:05d}").write_text(f"ds{i}")
        rc, log = w.run_once(cfg, timeout=600)
        self.assertEqual(rc, 0, log[-2000:])
        self.assertEqual(q.count("done", ".json"), 6000)
        self.assertEqual(q.names("incoming"), [])
        self.assertEqual(w.emulator.stats()["batches_created"], 6000)

    def test_enqueue_command_feeds_the_daemon(self):
        w = self.world
        cfg = w.config(queues=["a", "b"])

        def enqueue(*args, stdin=""):
            return subprocess.run([BATCHD, "enqueue", "--config", str(cfg), *args], input=stdin,
                                  capture_output=True, text=True, timeout=60)

        p = enqueue("ds1", "ds2")
        self.assertEqual(p.returncode, 64, "two queues: --queue is required")
        self.assertIn("--queue", p.stderr)
        p = enqueue("--queue", "nope", "ds1")
        self.assertEqual(p.returncode, 64)
        p = enqueue("--queue", "a", "ds1", "bad id!", "ds2")
        self.assertEqual(p.returncode, 65)
        self.assertIn("'bad id!'", p.stderr)
        self.assertEqual(w.spool("a").names("incoming"), [], "all or nothing")
        p = enqueue("--queue", "a", "ds1", "ds2")
        self.assertEqual(p.returncode, 0, p.stderr)
        names = p.stdout.split()
        self.assertEqual(len(names), 2)
        p = enqueue("--queue", "b", "-", stdin="ds3\n\n  ds4  \nds5\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.split()), 3)
        self.assertEqual(sorted(w.spool("a").names("incoming")), sorted(names))
        self.assertEqual(w.spool("a").names("tmp"), [], "nothing is left half-written")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        got = {(r["queue"], r["datasetId"]) for s in ("a", "b") for r in w.spool(s).done_records()}
        self.assertEqual(got, {("a", "ds1"), ("a", "ds2"), ("b", "ds3"), ("b", "ds4"), ("b", "ds5")})

    def test_entries_left_in_processing_are_resumed_without_duplicates(self):
        w = self.world
        cfg = w.config(queues=["q1"])
        q = w.spool("q1")
        q.drop("warmup", "ds0")
        q.drop("second", "ds2")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        first = {r["entry"]: r for r in q.done_records()}
        created, second = first["warmup"], first["second"]
        # A crash after the batch was created but before done/ was written: the entry is back
        # in processing/ with its externalId. The daemon must find the batch, not create another.
        (q.path / "done" / "warmup.json").unlink()
        (q.path / "processing" / "warmup").write_text(
            json.dumps({"datasetId": "ds0", "externalId": created["externalId"]}))
        # A crash after writing done/ but before removing the entry.
        (q.path / "processing" / "second").write_text(
            json.dumps({"datasetId": "ds2", "externalId": second["externalId"]}))
        # A crash before anything was sent: raw content in processing/.
        (q.path / "processing" / "fresh").write_text("ds3")

        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertIn("batch recovered", log)
        self.assertEqual(q.names("processing"), [])
        records = {r["entry"]: r for r in q.done_records()}
        self.assertEqual(set(records), {"warmup", "second", "fresh"})
        self.assertEqual(records["warmup"]["batchId"], created["batchId"])
        self.assertTrue(records["warmup"].get("recovered"))
        self.assertEqual(records["second"]["batchId"], second["batchId"])
        self.assertIn("entry was already recorded in done/", log)
        self.assertEqual(w.emulator.stats()["batches_created"], 3, "no batch was created twice")


    def test_sigterm_under_load_loses_nothing_and_a_restart_finishes(self):
        w = World(emulator_args=["--latency", "100ms"])
        self.addCleanup(w.close)
        cfg = w.config(queues=["q"], http={"concurrency": 8})
        q = w.spool("q")
        for i in range(200):
            q.drop(f"e{i:03d}", f"ds{i}")
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        wait_for(lambda: q.count("done", ".json") >= 10, 60, "the first batches")
        self.assertEqual(daemon.terminate(timeout=60), 0, daemon.log())
        self.assertIn('stopping reason=SIGTERM', daemon.log())
        first = q.count("done", ".json")
        self.assertLess(first, 200, "the stop came too late to test anything")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 200)
        self.assertEqual(q.names("failed"), [])
        externals = [b["externalId"] for b in w.emulator.batches()]
        self.assertEqual(len(externals), len(set(externals)), "a batch was created twice")
        self.assertEqual(len(externals), 200)


    def test_concurrency_bounds_requests_in_flight_and_fills_every_slot(self):
        # Entries are prepared ahead of their request, but never more than http.concurrency
        # requests are out at once; with a slow server every slot is used.
        w = World(emulator_args=["--latency", "100ms"])
        self.addCleanup(w.close)
        q = w.spool("q")
        for i in range(120):
            q.drop(f"e{i:03d}", f"ds{i}")
        rc, log = w.run_once(w.config(queues=["q"], http={"concurrency": 6}))
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 120)
        self.assertEqual(w.emulator.stats()["max_api_in_flight"], 6)

    def test_stop_grace_period_cuts_off_a_hanging_request_without_loss(self):
        w = World(emulator_args=["--fault", "hang=100%"])
        self.addCleanup(w.close)
        # The request would wait 120 s for its deadline; the stop grants it 1 s.
        cfg = w.config(queues=["q"], http={"request_timeout": "120s", "stop_grace": "1s"})
        q = w.spool("q")
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q.drop("stuck", "ds1")
        wait_for(lambda: w.emulator.stats()["batch_requests"] >= 1, 60, "the request to hang")
        daemon.proc.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.proc.wait(timeout=30), 0, daemon.log())
        self.assertIn("stop grace period over", daemon.log())
        self.assertEqual(q.names("processing"), ["stuck"], "the entry waits for the next start")
        w.emulator.request("POST", "/emulator/faults", body="")
        rc, log = w.run_once(w.config(queues=["q"]))
        self.assertEqual(rc, 0, log)
        self.assertEqual([r["entry"] for r in q.done_records()], ["stuck"])
        self.assertEqual(w.emulator.stats()["batches_created"], 1)


if __name__ == "__main__":
    unittest.main()
