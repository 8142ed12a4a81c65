"""Full ingestion (README, *Full ingestion*): entries that name data files get their files
uploaded (by PUT, or by parts above the threshold), their batch completed and followed to its
final status, exactly once across kills, faults and Catalog's answers; bad files never reach a
batch, and nothing outside data_dir is read."""

import hashlib
import json
import os
import random
import signal
import time
from collections import Counter

from harness import WorldTestCase, wait_for


class Full(WorldTestCase):
    def setup(self, emulator_args=(), threshold="1MiB", entries=(), **cfg_extra):
        w = self.world(["--processing-time", "200ms", *emulator_args])
        data = w.dir / "data"
        data.mkdir()
        cfg = json.loads(w.config(queues=["q"], retry={"max_attempts": 10, "max_age": "10m"}).read_text())
        cfg["queues"][0]["data_dir"] = str(data)
        cfg["upload"] = {"large_file_threshold": threshold, "part_size": "1MiB", "concurrency": 4}
        cfg["track"] = {"poll_initial": "100ms", "poll_max": "300ms", "max_wait": "5m"}
        cfg.update(cfg_extra)
        path = w.dir / "full.yaml"
        path.write_text(json.dumps(cfg))
        return w, data, path, w.spool("q")

    def make_files(self, data, n, rng, large_every=3):
        """n files of mixed sizes (every third one above 1 MiB), returning {path: sha256}."""
        out = {}
        for i in range(n):
            size = rng.randint(2 * 1024 * 1024, 3 * 1024 * 1024) if i % large_every == 0 else rng.randint(1, 64 * 1024)
            rel = f"2026-12-01/part-{i:04d}.json"
            p = data / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            body = rng.randbytes(size - 1) + b"\n"
            p.write_bytes(body)
            out[rel] = hashlib.sha256(body).hexdigest()
        return out

    def assert_each_entry_one_completed_batch(self, w, records):
        batches = w.emulator.batches()
        by_xid = Counter(b["externalId"] for b in batches)
        self.assertEqual({x: n for x, n in by_xid.items() if n != 1}, {}, "more than one batch for an entry")
        stored = w.emulator.request("GET", "/emulator/files")
        for r in records:
            self.assertEqual(by_xid[r["externalId"]], 1)
            files = stored[r["batchId"]]
            self.assertEqual(len(files), len(r["files"]), r)
            for f in r["files"]:
                s = files[f"{r['datasetId']}/{f['remote']}"]
                self.assertTrue(s["complete"])
                self.assertEqual((s["size"], s["sha256"]), (f["size"], f["sha256"]))

    def test_many_entries_of_mixed_files_all_succeed_with_their_bytes(self):
        rng = random.Random(18)
        w, data, cfg, q = self.setup()
        files = self.make_files(data, 60, rng)
        paths = sorted(files)
        expect = {}
        for i in range(200):
            chosen = rng.sample(paths, rng.randint(1, 5))
            expect[f"e{i:03d}"] = chosen
            q.drop(f"e{i:03d}", json.dumps({"datasetId": f"ds{i}", "files": chosen}))
        rc, log = w.run_once(cfg, timeout=600)
        self.assertEqual(rc, 0, log[-3000:])
        records = q.done_records()
        self.assertEqual(len(records), 200)
        large = 0
        for r in records:
            self.assertEqual(r["status"], "success")
            self.assertEqual([f["path"] for f in r["files"]], expect[r["entry"]])
            for f in r["files"]:
                self.assertEqual(f["sha256"], files[f["path"]], "the bytes sent are the file's")
                large += f["size"] > 1024 * 1024
            self.assertTrue(r["completedAt"] and r["finishedAt"])
        self.assertGreater(large, 100, "a third of the files went by parts")
        self.assert_each_entry_one_completed_batch(w, records)
        self.assertEqual(w.emulator.stats()["batches_completed"], 200)

    def test_faults_on_uploads_and_completes_are_retried_to_success(self):
        rng = random.Random(30)
        w, data, cfg, q = self.setup(["--upload-fault", "reset-mid-body=10%", "--upload-fault", "503=10%",
                                      "--upload-fault", "429=5%", "--upload-fault", "reset-after-complete=5%"])
        files = self.make_files(data, 12, rng)
        paths = sorted(files)
        for i in range(40):
            q.drop(f"e{i:02d}", json.dumps({"datasetId": f"ds{i}", "files": rng.sample(paths, rng.randint(1, 3))}))
        rc, log = w.run_once(cfg, timeout=600)
        self.assertEqual(rc, 0, log[-3000:])
        records = q.done_records()
        self.assertEqual(len(records), 40)
        self.assertEqual(q.names("failed"), [])
        self.assertGreater(w.emulator.stats()["upload_faults"], 10, "faults were met")
        self.assertIn("upload failed; will retry", log)
        self.assert_each_entry_one_completed_batch(w, records)

    def test_kill_nine_while_entries_flow_loses_and_doubles_nothing(self):
        rng = random.Random(9)
        w, data, cfg, q = self.setup(["--latency", "5ms"])
        files = self.make_files(data, 20, rng, large_every=2)
        paths = sorted(files)
        for i in range(100):
            q.drop(f"e{i:03d}", json.dumps({"datasetId": f"ds{i}", "files": rng.sample(paths, rng.randint(1, 3))}))
        for _ in range(10):
            d = w.start_daemon(cfg)
            d.wait_started()
            time.sleep(rng.uniform(0.2, 1.0))  # a kill at a random instant, not a synchronisation
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
        rc, log = w.run_once(cfg, timeout=600)
        self.assertEqual(rc, 0, log[-3000:])
        records = q.done_records()
        self.assertEqual(len(records), 100)
        for r in records:
            for f in r["files"]:
                self.assertEqual(f["sha256"], files[f["path"]])
        self.assert_each_entry_one_completed_batch(w, records)

    def test_max_rate_caps_the_bytes_per_second_of_all_uploads(self):
        # 4 MiB at 1 MiB/s, with a second's burst: at least 3 s (a lower bound only; a slow
        # machine only makes it longer).
        w, data, cfg, q = self.setup()
        c = json.loads(cfg.read_text())
        c["upload"]["max_rate"] = "1MiB"
        cfg.write_text(json.dumps(c))
        (data / "a.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        (data / "b.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        q.drop("e", json.dumps({"datasetId": "ds", "files": ["a.bin", "b.bin"]}))
        started = time.monotonic()
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertGreaterEqual(time.monotonic() - started, 3.0)
        self.assertEqual(w.emulator.stats()["upload_bytes"], 4 * 1024 * 1024)

    def test_a_failing_dataset_and_a_partial_success(self):
        w, data, cfg, q = self.setup(["--dataset-outcome", "dsbad=failed", "--dataset-outcome", "dspart=partial:3"])
        (data / "a.json").write_text('{"a":1}\n')
        q.drop("bad", json.dumps({"datasetId": "dsbad", "files": ["a.json"]}))
        q.drop("part", json.dumps({"datasetId": "dspart", "files": ["a.json"]}))
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        rec = q.error_record("bad")
        self.assertEqual((rec["stage"], rec["status"]), ("track", "failed"))
        self.assertEqual(rec["errors"][0]["code"], "INGEST-1212-400", "Catalog's errors, as given")
        [done] = q.done_records()
        self.assertEqual((done["entry"], done["status"], done["failedRecordCount"]), ("part", "success", 3))
        self.assertIn("batch failed", log)
        self.assertIn("batch succeeded", log)

    def test_a_changed_file_or_a_wrong_checksum_aborts_the_batch(self):
        w, data, cfg, q = self.setup()
        (data / "a.json").write_text('{"a":1}\n')
        q.drop("sum", json.dumps({"datasetId": "ds1", "files": [{"path": "a.json", "sha256": "0" * 64}]}))
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        rec = q.error_record("sum")
        self.assertEqual((rec["stage"], rec["status"], rec["file"]), ("upload", "aborted", "a.json"))
        self.assertIn("do not match the entry's sha256", rec["reason"])
        # Changed while the entry waits on a slow server: caught before it is sent, or before
        # the batch's COMPLETE.
        w2, data2, cfg2, q2 = self.setup(["--latency", "400ms"])
        (data2 / "b.json").write_text('{"b":1}\n')
        q2.drop("chg", json.dumps({"datasetId": "ds2", "files": ["b.json"]}))
        d = w2.start_daemon(cfg2)
        wait_for(lambda: "batch created" in d.log() or q2.count("failed"), 60, "the batch")
        (data2 / "b.json").write_text('{"b":12345}\n')
        wait_for(lambda: (q2.path / "failed" / "chg.error.json").exists(), 60, "the failure")
        rec = q2.error_record("chg")
        self.assertIn("changed since the entry was claimed", rec["reason"])
        self.assertEqual(rec["file"], "b.json")
        self.assertEqual(rec["status"], "aborted")
        self.assertEqual(d.terminate(), 0)
        self.assertEqual([b["status"] for b in w2.emulator.batches()], ["aborted"])

    def test_hostile_files_fail_before_any_batch_and_nothing_outside_is_read(self):
        w, data, cfg, q = self.setup()
        (w.dir / "outside.json").write_text("secret\n")
        (data / "ok.json").write_text("{}\n")
        (data / "empty.json").write_text("")
        os.symlink(w.dir / "outside.json", data / "link.json")
        os.mkfifo(data / "fifo")
        (data / "dir").mkdir()
        cases = {
            "dots": (["../outside.json"], "'..' component"),
            "abs": ([str(w.dir / "outside.json")], "must be relative"),
            "link": (["link.json"], "symbolic link"),
            "fifo": (["fifo"], "not a regular file"),
            "dir": (["dir"], "not a regular file"),
            "missing": (["nope.json"], "no such file"),
            "empty": (["empty.json"], "is empty"),
            "many": ([f"f{i}" for i in range(1501)], "at most 1500"),
        }
        for name, (files, _) in cases.items():
            q.drop(name, json.dumps({"datasetId": "ds", "files": files}))
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        for name, (_, reason) in cases.items():
            rec = q.error_record(name)
            self.assertIn(reason, rec["reason"], name)
            # A files list refused by the grammar (.., absolute, 1501) as well as a file refused
            # on disk: the record names the dataset and the stage.
            self.assertEqual((rec["datasetId"], rec["stage"]), ("ds", "validate"), name)
        self.assertEqual(w.emulator.stats()["batches_created"], 0, "no batch for a bad entry")
        # --check: a data_dir that is missing, or a file.
        import subprocess
        from harness import BATCHD
        bad = json.loads(cfg.read_text())
        bad["queues"][0]["data_dir"] = str(w.dir / "nowhere")
        checked = w.dir / "check.yaml"
        checked.write_text(json.dumps(bad))
        p = subprocess.run([BATCHD, "--check", "-c", str(checked)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 78, p.stdout)
        self.assertIn(f"queues[0].data_dir: {w.dir}/nowhere: No such file or directory", p.stdout)
        bad["queues"][0]["data_dir"] = str(data / "ok.json")
        checked.write_text(json.dumps(bad))
        p = subprocess.run([BATCHD, "--check", "-c", str(checked)], capture_output=True, text=True, timeout=60)
        self.assertIn("is not a directory", p.stdout)
        # A queue without data_dir refuses entries with files.
        cfg_json = json.loads(cfg.read_text())
        del cfg_json["queues"][0]["data_dir"]
        cfg.write_text(json.dumps(cfg_json))
        q.drop("nodir", json.dumps({"datasetId": "ds", "files": ["ok.json"]}))
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        rec = q.error_record("nodir")
        self.assertIn("has no data_dir", rec["reason"])
        self.assertEqual(rec["stage"], "validate")


if __name__ == "__main__":
    import unittest
    unittest.main()
