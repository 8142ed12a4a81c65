"""The operator's spool commands on the real binary and real spools: status, list, show,
requeue and config, with good and bad input, their output and their exit codes; requeue of
entries whose batch was made after all leads to done records without a second batch."""

import json
import os
import subprocess
import time

from harness import BATCHD, WorldTestCase, wait_for


def run(*args, user=None):
    cmd = [BATCHD, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]  # uid
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class SpoolCommands(WorldTestCase):
    def fill(self, w):
        """A spool with one entry done, two failed (a 400 and a 503 given up on) and two waiting."""
        cfg = w.config(queues=["q"], retry={"max_attempts": 2})
        q = w.spool("q")
        q.drop("ok", "ds-ok")
        q.drop("bad", "status-400")
        q.drop("flaky", "status-503")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        q.drop("wait-1", "ds-w1")
        q.drop("wait-2", '{"datasetId": "ds-w2", "externalId": "mine-2"}')
        return cfg, q

    def test_status_counts_each_directory_and_says_no_daemon_holds_the_spool(self):
        w = self.world()
        cfg, q = self.fill(w)
        p = run("status", "-c", str(cfg))
        self.assertEqual(p.returncode, 0, p.stderr)
        head, row = p.stdout.splitlines()
        self.assertEqual(head.split()[:5], ["QUEUE", "INCOMING", "PROCESSING", "DONE", "FAILED"])
        self.assertEqual(row.split()[:5], ["q", "2", "0", "1", "2"])
        self.assertIn("not running", row)
        p = run("status", "--json", f"--config={cfg}")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = json.loads(p.stdout)
        self.assertEqual((s["incoming"], s["processing"], s["done"], s["failed"]), (2, 0, 1, 2))
        self.assertFalse(s["daemonRunning"])
        self.assertGreaterEqual(s["oldestWaitingSeconds"], 0)
        # While a daemon runs, its marker is held.
        d = w.start_daemon(cfg)
        d.wait_started()
        wait_for(lambda: q.count("incoming") == 0 and q.count("processing") == 0, 60, "the drain")
        s = json.loads(run("status", "--json", "-c", str(cfg)).stdout)
        self.assertTrue(s["daemonRunning"], s)
        self.assertEqual(s["done"], 3)
        self.assertEqual(d.terminate(), 0)
        self.assertFalse(json.loads(run("status", "-j", "-c", str(cfg)).stdout)["daemonRunning"])

    def test_list_gives_dataset_attempts_and_last_error_and_filters_by_state(self):
        w = self.world()
        cfg, q = self.fill(w)
        p = run("list", "-c", str(cfg), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = {r["entry"]: r for r in map(json.loads, p.stdout.splitlines())}
        self.assertEqual(set(rows), {"bad", "flaky", "wait-1", "wait-2"}, "done is left out")
        self.assertEqual(rows["bad"]["state"], "failed")
        self.assertEqual(rows["bad"]["datasetId"], "status-400")
        self.assertEqual(rows["bad"]["attempts"], 1)
        self.assertIn("HTTP 400", rows["bad"]["lastError"])
        self.assertEqual(rows["flaky"]["attempts"], 2)
        self.assertIn("gave up after 2 attempts", rows["flaky"]["lastError"])
        self.assertEqual(rows["wait-2"]["externalId"], "mine-2")
        self.assertEqual(rows["wait-1"]["lastError"], None)
        p = run("list", "-c", str(cfg), "--state", "done", "--json")
        [done] = map(json.loads, p.stdout.splitlines())
        self.assertEqual((done["state"], done["datasetId"]), ("done", "ds-ok"))
        self.assertTrue(done["batchId"])
        text = run("list", "-c", str(cfg), "-s", "failed").stdout.splitlines()
        self.assertEqual(text[0].split()[:3], ["QUEUE", "STATE", "AGE"])
        self.assertEqual(sorted(line.split()[3] for line in text[1:]), ["bad", "flaky"])
        p = run("list", "-c", str(cfg), "--state", "sideways")
        self.assertEqual(p.returncode, 64)
        self.assertIn("--state must be incoming, processing, failed or done", p.stderr)
        p = run("list", "-c", str(cfg), "--queue", "nope")
        self.assertEqual(p.returncode, 64)
        self.assertIn("no queue named 'nope'", p.stderr)

    def test_show_prints_content_progress_and_records(self):
        w = self.world()
        cfg, q = self.fill(w)
        p = run("show", "-c", str(cfg), "flaky", "ok")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("q/failed/flaky", p.stdout)
        self.assertIn("datasetId:   status-503", p.stdout)
        self.assertIn("creates sent: 2; first claimed " + time.strftime("%Y-%m-%d", time.gmtime()),
                      p.stdout, "times in UTC, this year")
        self.assertIn("error record (failed/flaky.error.json):", p.stdout)
        self.assertIn('    "reason": "gave up after 2 attempts', p.stdout, "indented JSON")
        self.assertIn("q/done/ok.json", p.stdout)
        self.assertIn('"batchId": ', p.stdout)
        by_path = run("show", "-c", str(cfg), str(q.path / "failed" / "flaky"))
        self.assertEqual(by_path.stdout.splitlines()[0], "q/failed/flaky", "a path names its entry")
        p = run("show", "-c", str(cfg), "nothing-here")
        self.assertEqual(p.returncode, 66)
        self.assertIn("no entry named 'nothing-here' in any queue", p.stderr)
        p = run("show", "-c", str(cfg))
        self.assertEqual(p.returncode, 64)
        self.assertIn("name at least one ENTRY", p.stderr)

    def test_a_queue_whose_spool_is_not_made_yet(self):
        w = self.world()
        cfg = w.config(queues=["q"])
        p = run("status", "-c", str(cfg))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no spool yet (the daemon makes it at start)", p.stdout)
        self.assertFalse(json.loads(run("status", "-j", "-c", str(cfg)).stdout)["exists"])
        p = run("list", "-c", str(cfg))
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))
        p = run("requeue", "-c", str(cfg), "--all-failed")
        self.assertEqual((p.returncode, p.stdout), (0, "no failed entries in queue q\n"))

    def test_the_spools_are_not_for_everyone(self):
        w = self.world()
        cfg, q = self.fill(w)
        os.chmod(w.dir, 0o755)
        os.chmod(cfg, 0o644)
        for cmd in (["status"], ["list"], ["show", "bad"], ["requeue", "bad"]):
            p = run(*cmd, "-c", str(cfg), user=65534)
            self.assertEqual(p.returncode, 77, (cmd, p.stdout, p.stderr))
            self.assertIn("Permission denied", p.stderr)
            self.assertIn("run this as root or as its user", p.stderr)
        self.assertEqual(sorted(q.names("failed")),
                         ["bad", "bad.error.json", "flaky", "flaky.error.json"])

    def test_requeue_moves_failed_entries_back_and_the_daemon_asks_catalog_first(self):
        # Every create's answer is lost and Catalog lists a batch only after 4 s: both creates
        # of the entry made a batch, and it failed with its outcome unknown.
        w = self.world(["--catalog-lag", "4s", "--fault", "reset-after-create=100%"])
        cfg = w.config(queues=["q"], retry={"max_attempts": 2, "catalog_lag": "300ms"})
        q = w.spool("q")
        q.drop("lost", "ds-lost")
        q.drop("refused", "status-400")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 65, log)
        self.assertEqual(sorted(q.names("failed")),
                         ["lost", "lost.error.json", "refused", "refused.error.json"])
        self.assertEqual(w.emulator.stats()["batches_created"], 2)
        xid = q.error_record("lost")["externalId"]
        w.emulator.request("POST", "/emulator/faults", b"")
        p = run("requeue", "-c", str(cfg), "--dry-run", "--all-failed")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(p.stdout.splitlines()), ["would requeue q/lost", "would requeue q/refused"])
        self.assertEqual(q.count("incoming"), 0, "a dry run moves nothing")
        p = run("requeue", "-c", str(cfg), "lost", "nobody-here")
        self.assertEqual(p.returncode, 66, p.stderr)
        self.assertEqual(p.stdout, "requeued q/lost\n")
        self.assertIn("no failed entry named 'nobody-here'", p.stderr)
        self.assertEqual(q.names("incoming"), ["lost"])
        self.assertEqual(q.names("failed"), ["refused", "refused.error.json"])
        # Catalog lists both batches now: the entry is recorded with the first, the twin
        # aborted, and no third batch is made.
        wait_for(lambda: sum(1 for b in w.emulator.batches() if b["listed"]) == 2, 60,
                 "Catalog to list both batches")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        [rec] = q.done_records()
        self.assertEqual(rec["externalId"], xid, "the entry kept its externalId")
        self.assertTrue(rec["recovered"], rec)
        stats = w.emulator.stats()
        self.assertEqual(stats["batches_created"], 2, "no create was sent again")
        self.assertEqual(stats["batches_aborted"], 1, "the twin was aborted")
        p = run("requeue", "-c", str(cfg), "lost")
        self.assertEqual(p.returncode, 66)
        p = run("requeue", "-c", str(cfg), "lost", "--all-failed")
        self.assertEqual(p.returncode, 64)
        self.assertIn("not both", p.stderr)

    def test_requeue_never_replaces_an_entry_in_incoming(self):
        w = self.world()
        cfg, q = self.fill(w)
        q.drop("bad", "ds-new")
        p = run("requeue", "-c", str(cfg), "bad")
        self.assertEqual(p.returncode, 73, p.stderr)
        self.assertIn("incoming/ already holds an entry of that name", p.stderr)
        self.assertEqual((q.path / "incoming" / "bad").read_text(), "ds-new")
        self.assertTrue((q.path / "failed" / "bad.error.json").exists(), "its record is kept")

    def test_config_prints_every_key_with_defaults_and_no_secret(self):
        w = self.world()
        creds = w.dir / "proxy-credentials"
        creds.write_text("user:hunter2\n")
        cfg = w.config(queues=["q"], http={"proxy": "http://127.0.0.1:3128",
                                           "proxy_credentials_file": str(creds)})
        p = run("config", "-c", str(cfg))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("  max_attempts: 8\n", p.stdout, "a default filled in")
        self.assertIn("  catalog_lag: 300ms\n", p.stdout, "a value from the file")
        self.assertIn("  stop_grace: 30s\n", p.stdout)
        self.assertIn('client_secret_file: "%s"' % w.secret_file, p.stdout)
        self.assertNotIn(w.secret, p.stdout)
        self.assertNotIn("hunter2", p.stdout)
        self.assertIn('proxy_credentials_file: "%s"' % creds, p.stdout)
        # What it prints is a configuration the daemon reads back the same.
        again = w.dir / "again.yaml"
        again.write_text(p.stdout)
        self.assertEqual(run("config", "-c", str(again)).stdout, p.stdout)
        p = run("config", "--defaults")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("  concurrency: 16\n", p.stdout)
        self.assertIn('  token_url: "https://ims-na1.adobelogin.com/ims/token/v3"\n', p.stdout)
        p = run("config", "-c", str(w.dir / "missing.yaml"))
        self.assertEqual(p.returncode, 78)
        self.assertIn("No such file or directory", p.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
