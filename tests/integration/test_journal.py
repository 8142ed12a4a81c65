"""journald: with log.journal_fields the daemon sends native journal entries through libsystemd,
one field per value (QUEUE=, DATASET_ID=, BATCH_ID=, STAGE_PATH=, EXTERNAL_ID=), so that
`journalctl BATCH_ID=...` finds a batch; without it (or when the journal cannot be reached) it
writes <N>-prefixed lines to stderr.

libsystemd talks to /run/systemd/journal/socket, so the daemon runs in a private mount namespace
(root and unshare(1) needed; skipped otherwise) where that directory is a folder of this test's,
with a fake journal listening in it."""

import os
import shutil
import struct
import subprocess
import unittest

from harness import BATCHD, DatagramSink, WorldTestCase, wait_for


def parse_native(datagram):
    """The journal's native protocol: KEY=value lines, or KEY\\n<le64 size><bytes>\\n."""
    fields = {}
    i = 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields[k.decode()] = v.decode()
            i = nl + 1
        else:
            (size,) = struct.unpack_from("<Q", datagram, nl + 1)
            start = nl + 9
            fields[line.decode()] = datagram[start:start + size].decode()
            i = start + size + 1
    return fields


class Journal(WorldTestCase):
    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare(1) for a private /run")
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                               capture_output=True)
        if probe.returncode != 0:
            self.skipTest("mount namespaces are not available here")

    def fake_journal(self, w):
        """A folder to bind over /run/systemd/journal, with a fake journald listening in it."""
        jdir = w.dir / "journal"
        jdir.mkdir()
        journal = DatagramSink(jdir / "socket", parse_native)
        self.addCleanup(journal.close)
        return jdir, journal

    def start(self, w, cfg, journal_dir):
        """The daemon with stderr a file named by $JOURNAL_STREAM, /run/systemd/journal bound
        to journal_dir."""
        log_path = w.dir / "stderr.log"
        w.outputs.append(log_path)
        log = open(log_path, "wb")
        st = os.fstat(log.fileno())
        env = dict(w.daemon_env, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
                  'mount --bind "$1" /run/systemd/journal && exec "$2" --config "$3"')
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script, "sh", str(journal_dir), BATCHD, str(cfg)],
                                stdout=log, stderr=log, env=env)

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        self.addCleanup(stop)
        return proc, log_path

    def test_native_fields_find_each_batch(self):
        w = self.world()
        jdir, journal = self.fake_journal(w)
        q = w.spool("prod")
        for i in range(3):
            q.drop(f"e{i}", f"ds-{i}")
        proc, log_path = self.start(w, w.config(queues=["prod"], log={"journal_fields": True}),
                                    jdir)
        wait_for(lambda: q.count("done", ".json") >= 3, 60, "three batches")
        def batch_entries():
            found = [e for e in list(journal.received)
                     if e.get("MESSAGE", "").startswith("batch created")]
            return found if len(found) >= 3 else None
        created = wait_for(batch_entries, 30, "three journal entries for the batches")
        records = {r["batchId"]: r for r in q.done_records()}
        self.assertEqual({e["BATCH_ID"] for e in created}, set(records))
        for e in created:
            r = records[e["BATCH_ID"]]
            self.assertEqual(e["QUEUE"], "prod")
            self.assertEqual(e["DATASET_ID"], r["datasetId"])
            self.assertEqual(e["STAGE_PATH"], r["stagePath"])
            self.assertEqual(e["EXTERNAL_ID"], r["externalId"])
            self.assertEqual(e["PRIORITY"], "6")
            self.assertEqual(e["SYSLOG_IDENTIFIER"], "aep-batchd")
            self.assertIn(f"batch_id={e['BATCH_ID']}", e["MESSAGE"])
            self.assertFalse(e["MESSAGE"].startswith("<"))
        started = [e for e in journal.received
                   if e.get("MESSAGE", "").startswith("aep-batchd started")]
        self.assertEqual(len(started), 1)
        # Sent natively, so not written to stderr a second time.
        self.assertNotIn("batch created", log_path.read_text())
        proc.terminate()
        self.assertEqual(proc.wait(timeout=60), 0)
        w.assert_no_secrets(self)
        for e in journal.received:
            for v in e.values():
                self.assertNotIn(w.secret, v)

    def test_without_journal_fields_lines_carry_priorities(self):
        w = self.world()
        jdir, journal = self.fake_journal(w)
        q = w.spool("prod")
        q.drop("e0", "ds-0")
        proc, log_path = self.start(w, w.config(queues=["prod"]), jdir)
        wait_for(lambda: q.count("done", ".json") >= 1, 60, "the batch")
        wait_for(lambda: "<6>batch created queue=prod" in log_path.read_text(), 30,
                 "a <6>-prefixed line on stderr")
        self.assertEqual(journal.received, [])
        proc.terminate()
        self.assertEqual(proc.wait(timeout=60), 0)

    def test_unreachable_journal_falls_back_to_stderr(self):
        w = self.world()
        jdir = w.dir / "journal"
        jdir.mkdir()  # no socket in it
        q = w.spool("prod")
        q.drop("e0", "ds-0")
        proc, log_path = self.start(w, w.config(queues=["prod"], log={"journal_fields": True}),
                                    jdir)
        wait_for(lambda: q.count("done", ".json") >= 1, 60, "the batch")
        wait_for(lambda: "<6>batch created queue=prod" in log_path.read_text(), 30,
                 "the line on stderr when the journal is unreachable")
        proc.terminate()
        self.assertEqual(proc.wait(timeout=60), 0)


if __name__ == "__main__":
    unittest.main()
