"""systemd integration: the sd_notify protocol against a fake NOTIFY_SOCKET, and the shipped
unit file checked by systemd-analyze."""

import os
import re
import shutil
import socket
import subprocess
import threading
import unittest

from harness import BATCHD, SOURCE_DIR, DatagramSink, World, wait_for


class FakeManager(DatagramSink):
    """Collects the datagrams a service sends to $NOTIFY_SOCKET, as systemd would."""

    def __init__(self, path):
        super().__init__(path, lambda data: data.decode())

    @property
    def messages(self):
        return self.received

    def lines(self):
        return [l for m in list(self.messages) for l in m.split("\n") if l]


class Systemd(unittest.TestCase):
    def test_notify_ready_status_watchdog_and_stopping(self):
        w = World(emulator_args=["--latency", "20ms"])
        self.addCleanup(w.close)
        mgr = FakeManager(w.dir / "notify.sock")
        self.addCleanup(mgr.close)
        w.daemon_env["NOTIFY_SOCKET"] = str(w.dir / "notify.sock")
        w.daemon_env["WATCHDOG_USEC"] = "400000"  # keep-alive every 200 ms
        q = w.spool("q")
        for i in range(20):
            q.drop(f"e{i}", f"ds{i}")
        daemon = w.start_daemon(w.config(queues=["q"]))
        wait_for(lambda: "READY=1" in mgr.lines(), 60, "READY=1")
        wait_for(lambda: q.count("done", ".json") >= 20, 60, "the entries")
        wait_for(lambda: mgr.lines().count("WATCHDOG=1") >= 5, 30, "watchdog keep-alives")
        wait_for(lambda: any("done 20" in l for l in mgr.lines() if l.startswith("STATUS=")), 30,
                 "a STATUS= line with the done count")
        self.assertEqual(daemon.terminate(), 0)
        lines = mgr.lines()
        self.assertIn("STOPPING=1", lines)
        self.assertLess(lines.index("READY=1"), lines.index("STOPPING=1"))
        status = [l for l in lines if l.startswith("STATUS=")]
        self.assertTrue(any("last batch" in l for l in status), status)
        for l in lines:
            self.assertRegex(l, r"^(READY=1|STOPPING=1|WATCHDOG=1|STATUS=.+)$")

    def test_no_notify_socket_means_no_messages_and_no_harm(self):
        w = World()
        self.addCleanup(w.close)
        q = w.spool("q")
        q.drop("a", "ds1")
        w.daemon_env["WATCHDOG_USEC"] = "100000"  # without NOTIFY_SOCKET: ignored
        rc, log = w.run_once(w.config(queues=["q"]))
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 1)

    def test_unit_file_verifies(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing: daemon/install-deps --tests installs it")
        # The unit names /usr/bin/aep-batchd, which exists only once installed: verify a copy
        # that points at the binary under test, and accept no complaint at all.
        text = (SOURCE_DIR / "systemd" / "aep-batchd.service").read_text()
        self.assertIn("ExecStart=/usr/bin/aep-batchd ", text)
        w = World()
        self.addCleanup(w.close)
        unit = w.dir / "aep-batchd.service"
        unit.write_text(text.replace("/usr/bin/aep-batchd", BATCHD))
        p = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual((p.stdout + p.stderr).strip(), "")

    def test_unit_hardening_scores_two_or_lower(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing: daemon/install-deps --tests installs it")
        w = World()
        self.addCleanup(w.close)
        unit = w.dir / "aep-batchd.service"
        unit.write_text((SOURCE_DIR / "systemd" / "aep-batchd.service").read_text())
        p = subprocess.run([analyze, "security", "--offline=yes", str(unit)], capture_output=True,
                           text=True, timeout=120)
        match = re.search(r"Overall exposure level for aep-batchd.service: (\d+\.\d+)", p.stdout)
        self.assertIsNotNone(match, p.stdout + p.stderr)
        self.assertLessEqual(float(match.group(1)), 2.0, p.stdout)


    def test_sysusers_and_tmpfiles_make_the_spool_root_and_age_out_records(self):
        if os.geteuid() != 0:
            self.skipTest("creating files owned by another user needs root (CI runs as root)")
        w = World()
        self.addCleanup(w.close)
        root = w.dir / "root"
        (root / "etc").mkdir(parents=True)
        sysusers = subprocess.run(["systemd-sysusers", f"--root={root}",
                                   str(SOURCE_DIR / "systemd" / "aep-batchd.sysusers")],
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(sysusers.returncode, 0, sysusers.stderr)
        uid = next(int(l.split(":")[2]) for l in (root / "etc" / "passwd").read_text().splitlines()
                   if l.startswith("aep-batchd:"))
        tmpfiles = str(SOURCE_DIR / "systemd" / "aep-batchd.tmpfiles")
        p = subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}", tmpfiles],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        spool = root / "var" / "spool" / "aep-batchd"
        st = spool.stat()
        self.assertEqual(st.st_uid, uid)
        # Producers pass through, and what the daemon makes below inherits their group.
        gid = next(int(l.split(":")[2]) for l in (root / "etc" / "group").read_text().splitlines()
                   if l.startswith("aep-batchd-producers:"))
        self.assertEqual(st.st_gid, gid)
        self.assertEqual(st.st_mode & 0o7777, 0o2710)
        done = spool / "prod" / "done"
        done.mkdir(parents=True)
        old, new = done / "old.json", done / "new.json"
        old.write_text("{}")
        new.write_text("{}")
        forty_days = 40 * 24 * 3600
        os.utime(old, (old.stat().st_atime - forty_days, old.stat().st_mtime - forty_days))
        p = subprocess.run(["systemd-tmpfiles", "--clean", f"--root={root}", tmpfiles],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(old.exists(), "records older than 30 days are cleaned from done/")
        self.assertTrue(new.exists())


if __name__ == "__main__":
    unittest.main()
