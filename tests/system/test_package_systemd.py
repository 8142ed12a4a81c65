"""The installed package under a real systemd, fed by other users, as its users run it.

A Debian bookworm root (debootstrap, cached) is booted with systemd-nspawn --boot; the .deb that
cpack builds from this tree is installed in it with apt-get; the service runs against the
emulator on the host's loopback. The stages run in order, each on what the one before left:
install, start, producers (root, a member of aep-batchd-producers, a user outside it), the
journal, metrics and health, reload, the watchdog, the maintainer scripts on upgrade, stop and
purge. Each failure says in words what went wrong."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import CLIENT_ID, ORG_ID, World, wait_for  # noqa: E402

from container import Container, base_root  # noqa: E402

BUILD_DIR = Path(os.environ.get("AEP_BUILD_DIR", ""))
CACHE_DIR = Path(os.environ.get("AEP_SYSTEM_CACHE", BUILD_DIR / "system-cache"))
CONFIG = "/etc/aep-batchd/aep-batchd.yaml"
SPOOL = "/var/spool/aep-batchd"
# By name, as its users type it: found in an ordinary user's PATH (which has no sbin).
BATCHD = "aep-batchd"
GROUP = "aep-batchd-producers"
# Lintian tags that remain, and why (README, Install).
LINTIAN_ACCEPTED = {
    # The compiler's version note; dh_strip removes it, cpack's strip does not. Info only.
    "binary-has-unneeded-section",
    # systemd is the only init system the daemon is made for (Type=notify, watchdog,
    # credentials). Info only.
    "package-supports-alternative-init-but-no-init.d-script",
}


def build_deb(out):
    p = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "--config",
                        str(BUILD_DIR / "CPackConfig.cmake")], capture_output=True, text=True,
                       timeout=900)
    if p.returncode != 0:
        raise AssertionError(f"cpack failed:\n{p.stdout}\n{p.stderr}")
    debs = list(Path(out).glob("aep-batchd_*.deb"))
    if len(debs) != 1:
        raise AssertionError(f"expected one aep-batchd_*.deb in {out}: {list(Path(out).iterdir())}")
    return debs[0]


class InstalledPackage(unittest.TestCase):
    """The stages share one booted container; unittest runs them in name order."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("the system tests boot a container: run them as root")
        if not (BUILD_DIR / "CPackConfig.cmake").exists():
            raise AssertionError("AEP_BUILD_DIR is not a configured build tree (run through ctest)")
        cls.world = World()
        cls.deb = build_deb(cls.world.dir / "deb")
        cls.ct = Container(base_root(CACHE_DIR), cls.world.dir)
        shutil.copy(cls.deb, cls.ct.path("/root/aep-batchd.deb"))
        cls.datasets = []  # every dataset id dropped, each exactly once

    @classmethod
    def tearDownClass(cls):
        ct = getattr(cls, "ct", None)
        if ct:
            (cls.world.dir / "journal.txt").write_text(ct.journal("-b"))
            ct.stop()
        if os.environ.get("AEP_KEEP_TEST_DIRS"):
            print(f"kept {cls.world.dir}", file=sys.stderr)
        cls.world.close()

    # Helpers ---------------------------------------------------------------------------------

    def config(self, queues=("prod",), extra=None):
        base = self.world.emulator.base
        cfg = {
            "platform": {"import_url": f"{base}/data/foundation/import",
                         "catalog_url": f"{base}/data/foundation/catalog",
                         "org_id": ORG_ID, "api_key": CLIENT_ID},
            "auth": {"token_url": f"{base}/ims/token/v3", "client_id": CLIENT_ID},
            "tls": {"ca_file": "/etc/aep-batchd/test-ca.pem"},
            "retry": {"initial_backoff": "200ms", "max_backoff": "2s"},
            "queues": [{"name": q, "spool": f"{SPOOL}/{q}", "sandbox": "prod"} for q in queues],
            "log": {"journal_fields": True},
            "metrics": {"listen": "127.0.0.1:0"},
            **(extra or {}),
        }
        self.ct.path(CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")

    def enqueue(self, *ids, user=None, queue=None, check=True):
        self.datasets += ids
        q = f"--queue {queue} " if queue else ""
        p = self.ct.run(f"{BATCHD} enqueue --config {CONFIG} {q}{' '.join(ids)}", user=user,
                        check=False)
        if check and p.returncode != 0:
            self.fail(f"aep-batchd enqueue{' as ' + user if user else ''} exited {p.returncode}: "
                      f"{p.stderr}")
        return p

    def records(self, queue="prod"):
        done = self.ct.path(f"{SPOOL}/{queue}/done")
        return [json.loads(p.read_text()) for p in done.iterdir() if p.suffix == ".json"] \
            if done.exists() else []

    def wait_done(self, ids, queue="prod", timeout=120):
        def ready():
            got = {r["datasetId"] for r in self.records(queue)}
            return set(ids) <= got
        try:
            wait_for(ready, timeout, f"records in {SPOOL}/{queue}/done for {sorted(ids)}")
        except AssertionError:
            got = sorted(r["datasetId"] for r in self.records(queue))
            left = sorted(p.name for sub in ("incoming", "processing", "failed")
                          for p in self.ct.path(f"{SPOOL}/{queue}/{sub}").iterdir())
            self.fail(f"entries did not reach done/ within {timeout}s: wanted {sorted(ids)}, "
                      f"done has {got}, still elsewhere: {left}\njournal:\n"
                      f"{self.ct.journal('-u aep-batchd')[-4000:]}")

    def daemon_journal(self):
        return self.ct.journal("-u aep-batchd")

    def assert_each_batch_once(self):
        created = [o["id"] for b in self.world.emulator.batches() for o in b["relatedObjects"]]
        twice = sorted({d for d in created if created.count(d) > 1})
        self.assertEqual(twice, [], f"datasets with more than one batch at the emulator: {twice}")
        missing = sorted(set(self.datasets) - set(created))
        self.assertEqual(missing, [], f"entries dropped but never created at the emulator: {missing}")

    # Stages ----------------------------------------------------------------------------------

    def test_00_lintian_finds_nothing_unjustified(self):
        if not shutil.which("lintian"):
            self.fail("lintian is missing: daemon/install-deps --system installs it")
        p = subprocess.run(["lintian", "--tag-display-limit", "0", str(self.deb)],
                           capture_output=True, text=True, timeout=600)
        tags = [l for l in p.stdout.splitlines() if re.match(r"^[EWIP]: ", l)]
        unjustified = [t for t in tags if t.split()[2] not in LINTIAN_ACCEPTED]
        self.assertEqual(unjustified, [], "lintian tags with no justification in LINTIAN_ACCEPTED")
        self.assertFalse(any(t.startswith(("E:", "W:")) for t in tags), tags)

    def test_01_installs_with_its_users_and_spool_root(self):
        ct = self.ct
        # As the README says: apt-get fetches the libraries the package depends on.
        p = ct.run("cd /root && apt-get update -qq && apt-get install -y -qq ./aep-batchd.deb",
                   check=False, timeout=900)
        self.assertEqual(p.returncode, 0, f"apt-get install ./aep-batchd.deb failed:\n{p.stdout}\n{p.stderr}")
        self.assertIn("installed but not started", p.stdout + p.stderr,
                      "an unconfigured install says what to do next")
        g = ct.run(f"getent group {GROUP}", check=False)
        self.assertEqual(g.returncode, 0, f"the package created no group {GROUP} (sysusers.d)")
        members = g.stdout.strip().split(":")[3].split(",")
        self.assertIn("aep-batchd", members, f"the daemon's user is not in {GROUP}")
        st = ct.path(SPOOL).stat()
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o2710, f"{SPOOL} mode")
        group = ct.run(f"stat -c %G {SPOOL}").stdout.strip()
        self.assertEqual(group, GROUP, f"{SPOOL} must be passable by the producer group")
        self.assertEqual(ct.run("systemctl is-enabled aep-batchd", check=False).stdout.strip(),
                         "enabled")
        self.assertNotEqual(ct.run("systemctl is-active aep-batchd", check=False).stdout.strip(),
                            "active", "no configuration yet: the service must not run")
        self.assertTrue(ct.path("/usr/share/man/man8/aep-batchd.8.gz").exists())

    def test_02_starts_and_is_ready(self):
        ct = self.ct
        shutil.copy(self.world.ca / "ca.pem", ct.path("/etc/aep-batchd/test-ca.pem"))
        secret = ct.path("/etc/aep-batchd/client_secret")
        secret.write_text(self.world.secret + "\n")
        secret.chmod(0o600)
        self.config()
        ct.run(f"chmod 644 {CONFIG}")
        p = ct.run("systemctl start aep-batchd", check=False, timeout=120)
        self.assertEqual(p.returncode, 0, f"systemctl start failed: {p.stderr}\n{self.daemon_journal()}")
        # Type=notify: start returns once READY=1 arrived, and STATUS= is shown.
        u = ct.unit("ActiveState", "SubState", "StatusText", "Type")
        self.assertEqual((u["Type"], u["ActiveState"], u["SubState"]), ("notify", "active", "running"))
        self.assertRegex(u["StatusText"], r"^pending \d+, in flight \d+, done \d+, failed \d+")
        self.assertIn("Status: \"pending", ct.run("systemctl status aep-batchd --no-pager",
                                                  check=False).stdout)
        # The queue's spool was made for the producer model.
        q = ct.path(f"{SPOOL}/prod")
        modes = {sub: stat.S_IMODE((q / sub).stat().st_mode) for sub in
                 ("tmp", "incoming", "processing", "done", "failed")}
        self.assertEqual(modes, {"tmp": 0o1730, "incoming": 0o1730, "processing": 0o700,
                                 "done": 0o700, "failed": 0o700})
        self.assertEqual(stat.S_IMODE(q.stat().st_mode), 0o2710)
        groups = {ct.run(f"stat -c %G {SPOOL}/prod/{sub}").stdout.strip() for sub in modes}
        self.assertEqual(groups, {GROUP})
        self.assertIn(b"\x02\x00\x00\x00", os.getxattr(q / "incoming", "system.posix_acl_default"))

    def test_03_producers_feed_it_and_others_are_refused(self):
        ct = self.ct
        ct.run(f"useradd -m -G {GROUP} alice && useradd -m mallory")
        self.enqueue("ds-root-1", "ds-root-2")
        self.enqueue("ds-alice-1", user="alice")
        # A plain producer, with the strictest umask: tmp/, then rename.
        self.datasets.append("ds-alice-raw")
        ct.run(f"umask 077; printf 'ds-alice-raw\\n' > {SPOOL}/prod/tmp/raw-alice && "
               f"mv {SPOOL}/prod/tmp/raw-alice {SPOOL}/prod/incoming/raw-alice", user="alice")
        # chmod 640 keeps the ACL but masks its write: the daemon may read the entry, not write
        # it; its record is a file of its own.
        self.datasets.append("ds-alice-readonly")
        ct.run(f"printf 'ds-alice-readonly\\n' > {SPOOL}/prod/tmp/ro-alice && "
               f"chmod 640 {SPOOL}/prod/tmp/ro-alice && "
               f"mv {SPOOL}/prod/tmp/ro-alice {SPOOL}/prod/incoming/", user="alice")
        # The fix the failure below advises, for a file install -m made (its ACL replaced by
        # the mode): the group, and g+rw; the daemon reads it as a member of the group.
        self.datasets.append("ds-alice-fixed")
        ct.run(f"echo ds-alice-fixed > /tmp/fx && install -m 600 /tmp/fx {SPOOL}/prod/tmp/fx && "
               f"chgrp {GROUP} {SPOOL}/prod/tmp/fx && chmod g+rw {SPOOL}/prod/tmp/fx && "
               f"mv {SPOOL}/prod/tmp/fx {SPOOL}/prod/incoming/fixed-alice", user="alice")
        # An explicit mode 0600 (mktemp) defeats the ACL: the entry fails, with the fix.
        ct.run(f"f=$(mktemp -p {SPOOL}/prod/tmp) && echo ds-alice-strict > $f && "
               f"mv $f {SPOOL}/prod/incoming/strict-alice", user="alice")
        # Outside the group: refused at once, told how to join, nothing written.
        p = self.enqueue("ds-mallory", user="mallory", check=False)
        self.datasets.remove("ds-mallory")
        self.assertEqual(p.returncode, 77, f"enqueue by a non-member: {p.stderr}")
        self.assertIn(GROUP, p.stderr)
        self.assertIn(f"usermod -aG {GROUP} mallory", p.stderr)
        p = ct.run(f"echo x > {SPOOL}/prod/tmp/m", user="mallory", check=False)
        self.assertNotEqual(p.returncode, 0, "a non-member wrote into tmp/")
        # Members drop, and nothing more: no listing, no records.
        self.assertNotEqual(ct.run(f"ls {SPOOL}/prod/incoming", user="alice", check=False).returncode, 0)
        self.assertNotEqual(ct.run(f"ls {SPOOL}/prod/done", user="alice", check=False).returncode, 0)

        self.wait_done(["ds-root-1", "ds-root-2", "ds-alice-1", "ds-alice-raw", "ds-alice-readonly",
                        "ds-alice-fixed"])
        wait_for(lambda: ct.path(f"{SPOOL}/prod/failed/strict-alice.error.json").exists(), 60,
                 "the unreadable entry in failed/")
        reason = json.loads(ct.path(f"{SPOOL}/prod/failed/strict-alice.error.json").read_text())["reason"]
        self.assertIn("may not read the entry", reason)
        self.assertIn("owned by alice:alice with mode 0600", reason)
        self.assertIn(f"chgrp {GROUP} and chmod g+rw", reason)
        self.assertEqual(ct.run(f"find {SPOOL} -user mallory").stdout, "", "mallory left files")
        self.assertEqual(sorted(p.name for p in ct.path(f"{SPOOL}/prod/tmp").iterdir()), [],
                         "enqueue left files in tmp/")
        self.assert_each_batch_once()

    def test_03b_the_operator_s_tools_on_the_running_service(self):
        ct = self.ct
        # --check as root, as the README says: the spools are checked for the unit's user, the
        # secret is the credential's file.
        p = ct.run(f"CREDENTIALS_DIRECTORY=/etc/aep-batchd {BATCHD} --check --online", check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok: Catalog lists batches of sandbox 'prod'", p.stdout)
        self.assertNotIn("warning", p.stdout, "the packaged spool is as the unit wants it")
        p = ct.run(f"{BATCHD} status --json")  # the default --config is the packaged one
        s = json.loads(p.stdout)
        self.assertTrue(s["daemonRunning"], s)
        self.assertEqual(s["failed"], 1, s)
        for user in ("root", "aep-batchd"):
            p = ct.run(f"{BATCHD} list --state failed", user=None if user == "root" else user)
            self.assertIn("strict-alice", p.stdout, user)
            self.assertIn("may not read the entry", p.stdout, user)
        p = ct.run(f"{BATCHD} status", user="alice", check=False)
        self.assertEqual(p.returncode, 77, p.stdout + p.stderr)
        self.assertIn("sudo -u aep-batchd", p.stderr)
        # The producer's fix for its unreadable entry, then requeue: it is created.
        ct.run(f"chgrp {GROUP} {SPOOL}/prod/failed/strict-alice && "
               f"chmod g+rw {SPOOL}/prod/failed/strict-alice")
        self.datasets.append("ds-alice-strict")
        p = ct.run(f"{BATCHD} requeue strict-alice", user="aep-batchd")
        self.assertEqual(p.stdout, "requeued prod/strict-alice\n")
        self.wait_done(["ds-alice-strict"])
        self.assertEqual(json.loads(ct.run(f"{BATCHD} status --json").stdout)["failed"], 0)
        p = ct.run(f"{BATCHD} show strict-alice")
        self.assertIn("prod/done/strict-alice", p.stdout)
        self.assertIn("ds-alice-strict", p.stdout)
        self.assert_each_batch_once()
        # The man page and the completion are installed where man and bash find them.
        self.assertTrue(ct.path("/usr/share/bash-completion/completions/aep-batchd").exists())

    def test_03c_a_producer_s_data_files_are_ingested_end_to_end(self):
        # Full ingestion under the unit: a data_dir outside the spools (read-only to the
        # daemon under ProtectSystem=strict), owned by a producer, readable by the producer
        # group the daemon belongs to; the entry written by the producer through tmp/.
        ct = self.ct
        ct.run(f"install -d -o alice -g {GROUP} -m 2750 /srv/aep-data/prod")
        ct.run("umask 027; printf '{\"id\": 1}\\n{\"id\": 2}\\n' > /srv/aep-data/prod/a.json && "
               "head -c 2100000 /dev/urandom > /srv/aep-data/prod/b.bin", user="alice")
        self.config(extra={"upload": {"large_file_threshold": "1MiB", "part_size": "1MiB"},
                           "track": {"poll_initial": "200ms", "poll_max": "500ms"}})
        cfg = json.loads(ct.path(CONFIG).read_text())
        cfg["queues"][0]["data_dir"] = "/srv/aep-data/prod"
        ct.path(CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
        p = ct.run(f"CREDENTIALS_DIRECTORY=/etc/aep-batchd {BATCHD} --check", check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.reload("configuration reloaded")
        entry = json.dumps({"datasetId": "ds-full", "files": ["a.json", {"path": "b.bin", "remote": "part=1/b.bin"}]})
        ct.run(f"printf '%s\\n' '{entry}' > {SPOOL}/prod/tmp/full-alice && "
               f"mv {SPOOL}/prod/tmp/full-alice {SPOOL}/prod/incoming/full-alice", user="alice")
        self.datasets.append("ds-full")
        self.wait_done(["ds-full"])
        [rec] = [r for r in self.records() if r["datasetId"] == "ds-full"]
        self.assertEqual(rec["status"], "success")
        import hashlib
        want = hashlib.sha256(ct.path("/srv/aep-data/prod/b.bin").read_bytes()).hexdigest()
        self.assertEqual([f["sha256"] for f in rec["files"] if f["path"] == "b.bin"], [want])
        stored = self.world.emulator.request("GET", "/emulator/files")[rec["batchId"]]
        self.assertEqual(stored["ds-full/part=1/b.bin"]["sha256"], want)
        log = self.daemon_journal()
        self.assertIn("file uploaded", log)
        self.assertIn("batch succeeded", log)
        self.assert_each_batch_once()

    def test_04_journal_is_clean_and_has_fields(self):
        log = self.daemon_journal()
        self.assertNotIn("cannot mark this run", log, "the run marker must work under the unit")
        for bad in ("Permission denied", "Operation not permitted", "EPERM", "SIGSYS", "31/SYS"):
            lines = [l for l in log.splitlines() if bad in l and "strict-alice" not in l]
            self.assertEqual(lines, [], f"the unit's hardening blocks something: {bad}")
        batch = next(r for r in self.records() if r["datasetId"] == "ds-alice-1")["batchId"]
        found = self.ct.journal("-u aep-batchd", f"BATCH_ID={batch}")
        self.assertIn("batch created", found, f"journalctl BATCH_ID={batch} finds nothing")
        self.assertEqual(self.ct.unit("NRestarts")["NRestarts"], "0")

    def test_05_metrics_and_health_on_loopback(self):
        m = re.findall(r"metrics and health listening.*?(127\.0\.0\.1:\d+)", self.daemon_journal())
        self.assertTrue(m, "no 'metrics and health listening' line in the journal")
        base = f"http://{m[-1]}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=30) as r:
            self.assertEqual((r.status, r.read().strip()), (200, b"ok"))
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as r:
            text = r.read().decode()
        # Six done by test_03, one failed there and done once requeued by test_03b, one full
        # entry by test_03c.
        self.assertRegex(text, r'aep_batchd_entries_total\{queue="prod",outcome="done"\} 8\b')
        self.assertRegex(text, r'aep_batchd_entries_total\{queue="prod",outcome="failed"\} 1\b')

    def reload(self, expect):
        before = self.daemon_journal().count(expect)
        self.ct.run("systemctl reload aep-batchd", timeout=120)
        wait_for(lambda: self.daemon_journal().count(expect) > before, 60, f"'{expect}' after reload")

    def test_06_reload_adds_a_queue_and_refuses_a_bad_config(self):
        ct = self.ct
        self.config(queues=("prod", "dev"))
        self.reload("configuration reloaded")
        self.enqueue("ds-dev-1", user="alice", queue="dev")
        self.wait_done(["ds-dev-1"], queue="dev")
        self.config(queues=("prod", "dev"), extra={"http": {"concurrency": 0}})
        self.reload("reload refused")
        self.assertEqual(ct.run("systemctl is-active aep-batchd", check=False).stdout.strip(), "active")
        # (enqueue reads the same file, and refuses it too: a producer drops by hand meanwhile.)
        self.datasets.append("ds-after-bad")
        ct.run(f"printf 'ds-after-bad\\n' > {SPOOL}/prod/tmp/after-bad && "
               f"mv {SPOOL}/prod/tmp/after-bad {SPOOL}/prod/incoming/after-bad", user="alice")
        self.wait_done(["ds-after-bad"])
        self.config(queues=("prod", "dev"))
        self.reload("configuration reloaded")

    def test_06b_an_old_spool_is_audited_and_the_printed_fix_works(self):
        # A queue's spool made before the producer model (or by hand): everything the daemon's.
        ct = self.ct
        ct.run(f"install -d -m 0750 -o aep-batchd -g aep-batchd {SPOOL}/legacy && for d in tmp "
               f"incoming processing done failed; do install -d -m 0750 -o aep-batchd "
               f"-g aep-batchd {SPOOL}/legacy/$d; done")
        self.config(queues=("prod", "dev", "legacy"))
        # By hand, the unit's credential is the file it is loaded from.
        check = f"CREDENTIALS_DIRECTORY=/etc/aep-batchd {BATCHD} --check --config {CONFIG}"
        p = ct.run(check, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        fixes = re.findall(r"^warning: queues\[2\]\.spool: .*?fix[^:]*: (.*)$", p.stdout, re.M)
        self.assertGreaterEqual(len(fixes), 4, f"--check said too little about the old spool:\n{p.stdout}")
        self.assertNotRegex(p.stdout, r"queues\[[01]\]", "the spools the daemon made are right")
        p = self.enqueue("ds-legacy-0", user="alice", queue="legacy", check=False)
        self.datasets.remove("ds-legacy-0")
        self.assertEqual(p.returncode, 77, "a producer dropped into a spool closed to the group")
        # The operator runs what --check printed, word for word.
        ct.run("apt-get install -y -qq acl", timeout=600)
        for fix in fixes:
            ct.run(fix)
        p = ct.run(check)
        self.assertNotIn("warning", p.stdout, "the printed fixes did not satisfy --check")
        self.reload("configuration reloaded")
        self.enqueue("ds-legacy-1", user="alice", queue="legacy")
        self.datasets.append("ds-legacy-raw")
        ct.run(f"umask 077; echo ds-legacy-raw > {SPOOL}/legacy/tmp/raw && "
               f"mv {SPOOL}/legacy/tmp/raw {SPOOL}/legacy/incoming/raw", user="alice")
        self.wait_done(["ds-legacy-1", "ds-legacy-raw"], queue="legacy")

    def test_07_watchdog_restarts_a_stopped_daemon_and_nothing_is_lost(self):
        ct = self.ct
        before = ct.unit("MainPID", "NRestarts")
        self.assertGreater(int(before["MainPID"]), 0, "the service has no main process")
        ct.run(f"kill -STOP {int(before['MainPID'])}")
        ids = [f"ds-wd-{i}" for i in range(3)]
        self.enqueue(*ids, queue="prod")
        wait_for(lambda: int(ct.unit("NRestarts")["NRestarts"]) > int(before["NRestarts"]) and
                 ct.unit("ActiveState")["ActiveState"] == "active", 180,
                 "systemd's watchdog to restart the stopped daemon (WatchdogSec=30s)")
        self.assertNotEqual(ct.unit("MainPID")["MainPID"], before["MainPID"])
        self.wait_done(ids)
        self.assertIn("Watchdog timeout", ct.journal("-u aep-batchd"))
        self.assert_each_batch_once()

    def test_08_upgrades_keep_the_administrators_choices(self):
        ct = self.ct
        ct.run("systemctl disable aep-batchd")
        p = ct.run("cd /root && apt-get install -y -qq --reinstall ./aep-batchd.deb", check=False,
                   timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(ct.run("systemctl is-enabled aep-batchd", check=False).stdout.strip(),
                         "disabled", "an upgrade re-enabled a unit the administrator disabled")
        ct.run("systemctl enable aep-batchd")
        # A broken configuration: the upgrade's restart fails, dpkg does not, and the unit ends
        # failed without restarting in a loop.
        self.config(extra={"http": {"concurrency": 0}})
        p = ct.run("cd /root && apt-get install -y -qq --reinstall ./aep-batchd.deb", check=False,
                   timeout=600)
        self.assertEqual(p.returncode, 0, "a failed restart failed the package installation:\n"
                         + p.stdout + p.stderr)
        self.assertIn("the service did not restart", p.stdout + p.stderr)
        wait_for(lambda: ct.unit("ActiveState")["ActiveState"] == "failed", 60,
                 "the unit with a bad config to be failed")
        self.assertEqual(ct.unit("NRestarts")["NRestarts"], "0", "a config error was restarted")
        self.config(queues=("prod", "dev"))
        ct.run("systemctl reset-failed aep-batchd && systemctl start aep-batchd", timeout=120)
        self.enqueue("ds-after-upgrade", user="alice", queue="prod")
        self.wait_done(["ds-after-upgrade"])

    def test_09_stops_cleanly(self):
        ct = self.ct
        ct.run("systemctl stop aep-batchd", timeout=180)
        u = ct.unit("ActiveState", "Result", "ExecMainStatus")
        self.assertEqual((u["ActiveState"], u["Result"], u["ExecMainStatus"]),
                         ("inactive", "success", "0"))
        self.assert_each_batch_once()

    def test_10_purge_keeps_the_spool_and_the_config(self):
        ct = self.ct
        p = ct.run("apt-get purge -y -qq aep-batchd", check=False, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertFalse(ct.path("/usr/bin/aep-batchd").exists())
        self.assertTrue(ct.path(CONFIG).exists(), "purge removed the operator's configuration")
        self.assertTrue(ct.path("/etc/aep-batchd/client_secret").exists())
        self.assertGreaterEqual(len(self.records()), 7, "purge removed the records")


if __name__ == "__main__":
    unittest.main()
