"""Delivery guarantees under crashes, rivals, full disks and a server that says "slow down"."""

import os
import random
import signal
import subprocess
import threading
import time
import unittest
from collections import Counter

from harness import WorldTestCase, BATCH_LINE, World, wait_for

XATTR = "user.aepb"  # the externalId stamp (and its progress, after a space)


def assert_exactly_once(test, world, spools, expected):
    """Every entry has one done record, the emulator holds one batch per entry, nothing else."""
    records = [r for s in spools for r in s.done_records()]
    names = Counter((r["queue"], r["entry"]) for r in records)
    test.assertEqual(len(names), expected, "entries without a done record")
    test.assertEqual(max(names.values()), 1, "an entry was recorded twice")
    batches = world.emulator.batches()
    ext = Counter(b["externalId"] for b in batches)
    test.assertEqual({k: v for k, v in ext.items() if v > 1}, {}, "duplicate batches")
    test.assertEqual(len(batches), expected)
    test.assertEqual({r["batchId"] for r in records}, {b["id"] for b in batches})
    for s in spools:
        test.assertEqual(s.names("processing"), [])
        test.assertEqual(s.names("incoming"), [])
        test.assertEqual(s.names("failed"), [])


def tear_record(q, name):
    """What a crash while done/<name>.json was written in place leaves: the file back in
    processing/ (its move into done/ lost), cut to half the record (extended attributes kept)."""
    record = q.path / "done" / f"{name}.json"
    size = record.stat().st_size
    os.rename(record, q.path / "processing" / name)
    with open(q.path / "processing" / name, "r+b") as f:
        f.truncate(size // 2)


class Delivery(WorldTestCase):
    def test_kill_9_ten_times_while_3000_entries_flow(self):
        w = self.world(["--latency", "5ms"])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        total = 3000
        writer_done = threading.Event()

        def writer():
            for i in range(total):
                q.drop(f"e{i:05d}", f"ds{i}")
                if i % 100 == 99:
                    time.sleep(0.02)  # a steady flow rather than one burst
            writer_done.set()

        t = threading.Thread(target=writer)
        t.start()
        rng = random.Random(1234)
        for kill in range(10):
            daemon = w.start_daemon(cfg)
            daemon.wait_started()
            before = q.count("done", ".json")
            # Kill at a random moment once some progress was made (so each kill interrupts work).
            wait_for(lambda: q.count("done", ".json") > before or writer_done.is_set() and q.count("done", ".json") >= total,
                     60, f"progress before kill {kill}")
            time.sleep(rng.uniform(0.0, 0.3))  # the random instant of the crash
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait()
        t.join()
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        assert_exactly_once(self, w, [q], total)

    def killed_with_a_request_in_flight(self):
        """A daemon killed while the server holds entry e1's request, once its batch exists.
        Returns the world, the config and the spool; e1 is left in processing/."""
        w = self.world(["--latency", "3s"])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        d = w.start_daemon(cfg)
        d.wait_started()
        q.drop("e1", "ds-1")
        wait_for(lambda: w.emulator.stats()["batch_requests"] >= 1, 60, "the request in flight")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        wait_for(lambda: w.emulator.stats()["batches_created"] >= 1, 60, "the batch to exist")
        return w, cfg, q

    def test_claim_undone_by_a_power_loss_is_not_sent_twice(self):
        # A power loss may undo the claim's rename while write-back had already taken the
        # entry's stamp to the disk. Simulated: the daemon is killed while the server holds the
        # request, and the entry is put back in incoming/ by hand.
        w, cfg, q = self.killed_with_a_request_in_flight()
        os.rename(q.path / "processing" / "e1", q.path / "incoming" / "e1")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertIn("batch recovered", log)
        self.assertEqual(w.emulator.stats()["batch_requests"], 1, "no second create request")
        self.assertGreaterEqual(w.emulator.stats()["lookups"], 1)
        assert_exactly_once(self, w, [q], 1)
        self.assertEqual(q.path.joinpath("incoming").exists() and q.names("incoming"), [])

    def test_power_loss_that_took_stamp_and_claim_is_looked_up_not_sent_twice(self):
        # An entry's externalId is derived from its file and stamped on it without a sync before
        # the request leaves; a power loss can take the stamp and the claim. Simulated: the
        # daemon is killed while the server holds the request, the entry put back in incoming/
        # without its stamp, and the run's marker made one of an earlier boot.
        w, cfg, q = self.killed_with_a_request_in_flight()
        entry = q.path / "processing" / "e1"
        try:
            os.removexattr(entry, XATTR)
        except OSError:
            self.skipTest("this file system takes no user extended attributes")
        os.rename(entry, q.path / "incoming" / "e1")
        markers = [p for p in q.path.iterdir() if p.name.startswith(".aep-batchd-run.")]
        self.assertEqual(len(markers), 1, "a killed run leaves its marker")
        markers[0].rename(q.path / ".aep-batchd-run.00000000-0000-0000-0000-000000000000.1")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertIn("ended with its machine", log)
        self.assertIn("batch recovered", log)
        self.assertEqual(w.emulator.stats()["batch_requests"], 1, "no second create request")
        self.assertGreaterEqual(w.emulator.stats()["lookups"], 1)
        assert_exactly_once(self, w, [q], 1)
        # Entries born after that start are not in doubt: sent without a look-up.
        lookups = w.emulator.stats()["lookups"]
        q.drop("e2", "ds-2")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertNotIn("ended with its machine", log)
        self.assertEqual(w.emulator.stats()["lookups"], lookups)
        assert_exactly_once(self, w, [q], 2)
        self.assertEqual([p.name for p in q.path.iterdir() if p.name.startswith(".aep-batchd-run.")],
                         [], "clean stops leave no marker")

    def test_lost_machine_leaves_records_without_stamps_and_nothing_is_sent_twice(self):
        # A derived externalId's stamp is never synced, so a power loss can leave a record
        # written in place (complete or torn) without it. The next start derives the id again
        # for every entry from before the lost machine; an unstamped file that is not an entry
        # is looked up, and fails for what it is only when Catalog knows no batch for it.
        w = self.world()
        cfg = w.config(queues=["q"], retry={"max_attempts": 2})
        q = w.spool("q")
        for name in ("complete", "torn"):
            q.drop(name, f"ds-{name}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        done = q.path / "done"
        try:
            os.getxattr(done / "complete.json", XATTR)
        except OSError:
            self.skipTest("this file system takes no user extended attributes")
        first = {r["entry"]: r for r in q.done_records()}
        created = w.emulator.stats()["batch_requests"]
        os.rename(done / "complete.json", q.path / "incoming" / "complete")
        tear_record(q, "torn")
        for name in ("complete", "torn"):
            sub = "incoming" if name == "complete" else "processing"
            os.removexattr(q.path / sub / name, XATTR)
        q.drop("junk", "not a dataset id!")
        (q.path / ".aep-batchd-run.00000000-0000-0000-0000-000000000000.1").write_text("x\n")

        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        self.assertEqual(w.emulator.stats()["batch_requests"], created, "nothing was sent again")
        records = {r["entry"]: r for r in q.done_records()}
        self.assertEqual(set(records), {"complete", "torn"})
        self.assertEqual(records["complete"], first["complete"])
        self.assertEqual(records["torn"]["batchId"], first["torn"]["batchId"])
        self.assertEqual(records["torn"]["externalId"], first["torn"]["externalId"])
        self.assertTrue(records["torn"]["recovered"])
        self.assertEqual(q.names("failed"), ["junk", "junk.error.json"])
        reason = q.error_record("junk")["reason"]
        self.assertIn("when the machine went down", reason)
        self.assertIn(q.error_record("junk")["externalId"], reason)
        # The same junk without a lost machine fails at once, without a look-up.
        lookups = w.emulator.stats()["lookups"]
        q.drop("junk2", "not a dataset id!")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        self.assertEqual(w.emulator.stats()["lookups"], lookups)
        self.assertNotIn("machine went down", q.error_record("junk2")["reason"])

    def test_record_written_in_place_survives_a_crash_at_every_step(self):
        # A stamped entry's record replaces its content in place (same file, no new one), is
        # synced, then moved into done/. Each state a crash can leave is rebuilt by hand from
        # real records, and a restart must finish each without a second create request.
        w = self.world()
        cfg = w.config(queues=["q"], retry={"max_attempts": 2})
        q = w.spool("q")
        for name in ("complete", "torn", "undone"):
            q.drop(name, f"ds-{name}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        done = q.path / "done"
        try:
            stamp = os.getxattr(done / "complete.json", XATTR)
        except OSError:
            self.skipTest("this file system takes no user extended attributes")
        first = {r["entry"]: r for r in q.done_records()}
        self.assertEqual(stamp.decode().split(" ")[0], first["complete"]["externalId"],
                         "the record is the entry's own file")
        self.assertRegex(stamp.decode(), r"^\S+ 1 \d+ \d+$", "with its progress: one create")
        created = w.emulator.stats()["batch_requests"]
        # Content replaced and synced, the move into done/ lost.
        os.rename(done / "complete.json", q.path / "processing" / "complete")
        # Content torn by a crash while the record was written: half a record, stamp kept.
        tear_record(q, "torn")
        # A power loss undid the claim too: the complete record is back in incoming/.
        os.rename(done / "undone.json", q.path / "incoming" / "undone")
        # Torn, and Catalog never lists a batch with its externalId: failed after the look-ups.
        lost = q.path / "processing" / "lost"
        lost.write_bytes(b'{"queue":"q","entry":"lost","datas')
        os.setxattr(lost, XATTR, b"aepb-00000000000000000000000000000000")

        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)  # --once: an entry went to failed/
        self.assertEqual(w.emulator.stats()["batch_requests"], created, "nothing was sent again")
        records = {r["entry"]: r for r in q.done_records()}
        self.assertEqual(set(records), {"complete", "torn", "undone"})
        self.assertEqual(records["complete"], first["complete"])
        self.assertEqual(records["undone"], first["undone"])
        self.assertEqual(records["torn"]["batchId"], first["torn"]["batchId"])
        self.assertEqual(records["torn"]["datasetId"], "ds-torn", "dataset id from Catalog")
        self.assertTrue(records["torn"]["recovered"])
        self.assertEqual(log.count("already held its record"), 2, log)
        self.assertEqual(q.names("processing"), [])
        self.assertEqual(q.names("incoming"), [])
        self.assertEqual(q.names("failed"), ["lost", "lost.error.json"])
        err = q.error_record("lost")
        self.assertIn("Catalog lists no batch with externalId aepb-00000000000000000000000000000000",
                      err["reason"])

    def test_two_daemons_on_one_spool_process_each_entry_once(self):
        w = self.world(["--latency", "2ms"])
        cfg = w.config(queues=["q"], http={"concurrency": 8})
        q = w.spool("q")
        a, b = w.start_daemon(cfg), w.start_daemon(cfg)
        a.wait_started()
        b.wait_started()
        for i in range(1000):
            q.drop(f"e{i:04d}", f"ds{i}")
        wait_for(lambda: q.count("done", ".json") >= 1000, 120, "1000 entries done by two daemons")
        self.assertEqual(a.terminate(), 0)
        self.assertEqual(b.terminate(), 0)
        assert_exactly_once(self, w, [q], 1000)
        lines = [l for d in (a, b) for l in d.log().splitlines() if BATCH_LINE.search(l)]
        self.assertEqual(len(lines), 1000, "each batch logged once, by one of the two")

    def test_full_disk_loses_nothing_and_resumes_when_space_returns(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root (CI runs as root)")
        w = self.world()
        spool_root = w.dir / "spool" / "q"
        spool_root.mkdir(parents=True)
        # A tmpfs with few inodes: every new file (temp files, records) needs one, so filling
        # the inode table is a full disk that the daemon meets at once.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=420", "tmpfs", str(spool_root)],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", str(spool_root)])
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        for i in range(300):
            q.drop(f"e{i:03d}", f"ds{i}")
        for sub in ("done", "failed", "processing"):
            (spool_root / sub).mkdir(exist_ok=True)
        fillers = spool_root / "fillers"
        fillers.mkdir()
        n = 0
        while True:
            try:
                (fillers / str(n)).touch()
                n += 1
            except OSError:
                break
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        wait_for(lambda: "No space left on device" in daemon.log(), 60, "the disk to fill up")
        self.assertLess(q.count("done", ".json"), 300)
        for f in fillers.iterdir():
            f.unlink()  # space returns
        wait_for(lambda: q.count("done", ".json") >= 300, 120, "every entry once space returns")
        self.assertEqual(daemon.terminate(), 0)
        assert_exactly_once(self, w, [q], 300)
        self.assertIn("retrying", daemon.log())

    def test_429_pauses_every_request_not_just_the_one_told(self):
        w = self.world(["--fault", "429=5%", "--seed", "21"])  # 429 comes with Retry-After: 1
        cfg = w.config(queues=["q"], http={"concurrency": 8})
        q = w.spool("q")
        for i in range(120):
            q.drop(f"e{i:03d}", f"ds{i}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        reqs = w.emulator.request("GET", "/emulator/requests")
        throttles = [r["t_ms"] for r in reqs if r["status"] == 429]
        self.assertGreaterEqual(len(throttles), 2, "the test needs some 429s to mean anything")
        for t in throttles:
            # Requests already on their way may land just after the 429; none may be sent
            # after the daemon saw it, until Retry-After has passed.
            inside = [r for r in reqs if t + 300 <= r["t_ms"] <= t + 950]
            self.assertEqual(inside, [], f"requests sent during the pause after the 429 at {t} ms")
        self.assertIn("pausing all requests", log)
        assert_exactly_once(self, w, [q], 120)

    def test_client_side_rate_limit(self):
        w = self.world()
        cfg = w.config(queues=["q"], http={"concurrency": 4, "rate_limit": 600})  # 10/s, burst 4
        q = w.spool("q")
        for i in range(40):
            q.drop(f"e{i:02d}", f"ds{i}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        times = sorted(r["t_ms"] for r in w.emulator.request("GET", "/emulator/requests"))
        self.assertEqual(len(times), 40)
        span = (times[-1] - times[0]) / 1000
        self.assertGreaterEqual(span, (40 - 4) / 10 * 0.9, "requests left faster than the limit allows")
        # In any one-second window, at most the burst plus one second's worth.
        for i, t in enumerate(times):
            in_window = [x for x in times[i:] if x < t + 1000]
            self.assertLessEqual(len(in_window), 4 + 10 + 1)


if __name__ == "__main__":
    unittest.main()
