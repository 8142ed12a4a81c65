"""Bad input gets a clear reason in failed/ and never takes the daemon down."""

import json
import os
import signal
import stat
import subprocess
import unittest

from harness import BATCHD, World, wait_for


class InvalidEntries(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)

    def test_each_kind_of_bad_entry_fails_with_a_reason_and_the_daemon_keeps_going(self):
        w = self.world
        cfg = w.config(queues=["q"])
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q = w.spool("q")
        incoming = q.path / "incoming"
        cases = {
            "bad-chars": ("id with spaces", "not a dataset id"),
            "too-long": ("a" * 129, "not a dataset id"),
            "empty": ("", "entry is empty"),
            "bad-json": ('{"datasetId": ', "invalid JSON"),
            "json-array": ('["ds1"]', "not a dataset id"),
            "unknown-key": ('{"datasetId":"ds1","datasetID":"x"}', "unknown key in JSON entry"),
            "no-dataset": ('{"inputFormat":{"format":"JSON"}}', "JSON entry has no datasetId"),
            "bad-format": ('{"datasetId":"ds1","inputFormat":{"format":"xml"}}', "inputFormat.format must be one of"),
            "bad-tags": ('{"datasetId":"ds1","tags":{"a":"b"}}', "tags values must be arrays of strings"),
            "huge": ("a" * (512 * 1024 + 1), "larger than 512 KiB"),
            "binary": (b"\x00\xff\xfe", "not a dataset id"),
            "new\nline": ("ds1\nds2", "not a dataset id"),
        }
        for name, (content, _) in cases.items():
            q.drop(name, content)
        # Files that must never be read: a symlink to a secret, a fifo, a directory (each made in
        # tmp/ and renamed in, as the spool protocol says).
        target = w.dir / "not-for-the-daemon"
        target.write_text("ds-secret")
        tmp = q.path / "tmp"
        os.symlink(target, tmp / "symlink")
        os.mkfifo(tmp / "fifo")
        (tmp / "a-directory").mkdir()
        for name in ("symlink", "fifo", "a-directory"):
            os.rename(tmp / name, incoming / name)
        # ... and the same kinds made in place, as a careless or hostile writer would: they are
        # seen on creation, not left for a rescan.
        os.symlink(target, incoming / "symlink-in-place")
        os.mkfifo(incoming / "fifo-in-place")
        (incoming / "directory-in-place").mkdir()
        os.link(target, incoming / "hardlink-in-place")
        # Hidden names are writers' scratch files: ignored, left alone.
        (incoming / ".scratch").write_text("ds1")
        # A good entry after all of them proves the daemon is still serving.
        q.drop("good", "ds-good")

        expected_failures = set(cases) | {"symlink", "fifo", "a-directory", "symlink-in-place",
                                          "fifo-in-place", "directory-in-place", "hardlink-in-place"}
        wait_for(lambda: q.count("failed", ".error.json") >= len(expected_failures) and q.count("done", ".json") >= 1,
                 30, "every bad entry in failed/ and the good one in done/ (event-driven, no rescan)")
        self.assertIsNone(daemon.proc.poll(), "the daemon must keep running")

        for name, (_, reason) in cases.items():
            rec = q.error_record(name)
            self.assertIn(reason, rec["reason"], f"{name!r}: {rec}")
            # A valid datasetId beside a bad field is kept in the record; none otherwise.
            self.assertEqual(rec["datasetId"], "ds1" if name in ("bad-format", "bad-tags") else None,
                             name)
            self.assertIsNone(rec["httpStatus"])
            self.assertEqual(rec["attempts"], 0)
            self.assertEqual(rec["queue"], "q")
            self.assertEqual(rec["entry"], name)
            self.assertTrue((q.path / "failed" / name).exists(), f"{name!r} kept beside its error")
        self.assertIn("symbolic link", q.error_record("symlink")["reason"])
        self.assertTrue(os.path.islink(q.path / "failed" / "symlink"), "the link itself is moved")
        self.assertEqual(target.read_text(), "ds-secret", "the link target is untouched")
        self.assertIn("not a regular file", q.error_record("fifo")["reason"])
        self.assertIn("not a regular file", q.error_record("a-directory")["reason"])
        self.assertIn("symbolic link", q.error_record("symlink-in-place")["reason"])
        self.assertIn("not a regular file", q.error_record("fifo-in-place")["reason"])
        self.assertIn("not a regular file", q.error_record("directory-in-place")["reason"])
        self.assertIn("hard links", q.error_record("hardlink-in-place")["reason"])
        self.assertEqual(target.read_text(), "ds-secret")
        self.assertEqual(q.names("incoming"), [".scratch"])
        self.assertEqual([r["entry"] for r in q.done_records()], ["good"])
        self.assertEqual(w.emulator.stats()["batch_requests"], 1, "bad entries are never sent")

        log = daemon.log()
        # A name with a newline is escaped: it cannot start a forged log line.
        self.assertIn('entry="new\\nline"', log)
        self.assertFalse(any(l.startswith("line") for l in log.splitlines()))
        self.assertEqual(daemon.terminate(), 0)

    def test_impolite_writer_is_not_read_half_way(self):
        # A writer that writes in place, slowly: the daemon must wait for it to close the file.
        w = self.world
        cfg = w.config(queues=["q"], log={"level": "debug"})
        q = w.spool("q")
        (q.path / "incoming").mkdir(parents=True)
        writer = open(q.path / "incoming" / "slow", "w")
        self.addCleanup(writer.close)
        writer.write("ds-par")
        writer.flush()
        log_path = w.dir / "impolite.log"
        w.outputs.append(log_path)
        with open(log_path, "wb") as out:
            proc = subprocess.Popen([BATCHD, "--config", str(cfg), "--once"], stdout=out,
                                    stderr=subprocess.STDOUT, env=w.daemon_env)
            wait_for(lambda: "still being written" in log_path.read_text(), 60,
                     "the daemon to notice the open writer")
            # A writer that opens a file in the instant the daemon holds its read lease makes
            # the kernel send the daemon SIGIO, whose default action is to end the process.
            os.kill(proc.pid, signal.SIGIO)
            writer.write("tial-id\n")
            writer.close()
            self.assertEqual(proc.wait(timeout=60), 0, log_path.read_text())
        records = q.done_records()
        self.assertEqual([r["datasetId"] for r in records], ["ds-partial-id"])

    def test_devices_and_non_utf8_names(self):
        w = self.world
        cfg = w.config(queues=["q"], log={"format": "json"})
        q = w.spool("q")
        incoming = q.path / "incoming"
        incoming.mkdir(parents=True)
        odd = os.fsencode(incoming) + b"/bad\xff\xfename"
        with open(odd, "wb") as f:
            f.write(b"not an id!")
        if os.geteuid() == 0:
            os.mknod(incoming / "device", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, "--once: entries went to failed/\n" + log)
        for line in log.strip().splitlines():
            json.loads(line)  # a non-UTF-8 name cannot break a JSON log line
        failed = os.listdir(os.fsencode(q.path / "failed"))
        self.assertIn(b"bad\xff\xfename", failed)
        self.assertIn(b"bad\xff\xfename.error.json", failed)
        with open(os.fsencode(q.path / "failed") + b"/bad\xff\xfename.error.json", "rb") as f:
            rec = json.loads(f.read().decode("utf-8"))  # valid UTF-8 JSON, whatever the name
        self.assertEqual(rec["entry"], "bad\ufffd\ufffdname")
        if os.geteuid() == 0:
            self.assertIn("not a regular file", q.error_record("device")["reason"])

    def test_permanent_api_errors_fail_after_one_request_with_status_and_body(self):
        w = self.world
        cfg = w.config(queues=["q"])
        q = w.spool("q")
        for status in (400, 403, 404, 409, 413, 422):
            q.drop(f"e{status}", f"status-{status}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, "--once: entries went to failed/\n" + log)
        for status in (400, 403, 404, 409, 413, 422):
            rec = q.error_record(f"e{status}")
            self.assertEqual(rec["httpStatus"], status)
            self.assertIn("forced by the datasetId test hook", rec["responseBody"])
            self.assertEqual(rec["attempts"], 1)
            self.assertEqual(rec["datasetId"], f"status-{status}")
            self.assertTrue(rec["requestId"])
            self.assertIn(f"HTTP {status}", rec["reason"])
        self.assertEqual(w.emulator.stats()["batch_requests"], 6, "exactly one request each")


if __name__ == "__main__":
    unittest.main()
