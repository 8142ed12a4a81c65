"""Reload on SIGHUP, under load: a good configuration takes effect (queues added and removed,
concurrency changed, secret re-read) without losing or duplicating an entry; a bad one is
refused with its key named and the old one keeps serving; systemd hears RELOADING=1 with
MONOTONIC_USEC, then READY=1."""

import json
import threading
import time
import unittest
from collections import Counter

from harness import WorldTestCase, wait_for
from test_systemd import FakeManager


class Producer:
    """Drops entries into a spool from another thread while the test reloads."""

    def __init__(self, spool, prefix, count, pause=0.002):
        self.spool, self.prefix, self.count, self.pause = spool, prefix, count, pause
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for i in range(self.count):
            self.spool.drop(f"{self.prefix}{i:05d}", f"ds-{self.prefix}{i}")
            self.dropped += 1
            time.sleep(self.pause)

    def join(self):
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()


class Reload(WorldTestCase):
    def assert_each_once(self, w, expected):
        """Every dataset id in `expected` was created exactly once, and nothing else."""
        created = Counter(b["relatedObjects"][0]["id"] for b in w.emulator.batches())
        dupes = {k: v for k, v in created.items() if v > 1}
        self.assertEqual(dupes, {}, "batches created twice")
        self.assertEqual(set(created), set(expected))

    def test_good_reload_under_load_adds_and_removes_queues(self):
        w = self.world(["--latency", "5ms"])
        mgr = FakeManager(w.dir / "notify.sock")
        self.addCleanup(mgr.close)
        w.daemon_env["NOTIFY_SOCKET"] = str(w.dir / "notify.sock")
        prod, dev = w.spool("prod"), w.spool("dev")
        cfg = w.config(queues=["prod"], http={"concurrency": 16})
        d = w.start_daemon(cfg)
        d.wait_started()
        wait_for(lambda: "READY=1" in mgr.lines(), 30, "READY=1")

        # Reload while prod is being fed: add dev, lower the concurrency.
        feeder = Producer(prod, "p", 600)
        wait_for(lambda: prod.count("done", ".json") >= 50, 60, "entries flowing before the reload")
        w.config(queues=["prod", "dev"], http={"concurrency": 4})
        d.reload()
        self.assertIn("configuration reloaded", d.log())
        self.assertRegex(d.log(), r"configuration reloaded .*changed=http,queues .*"
                                  r"queues_added=dev .*concurrency=4")
        for i in range(100):
            dev.drop(f"d{i:05d}", f"ds-d{i}")
        feeder.join()
        wait_for(lambda: prod.count("done", ".json") >= 600 and dev.count("done", ".json") >= 100, 120,
                 "every entry of both queues")

        # systemd's reload protocol: RELOADING=1 with the monotonic time, then READY=1.
        msgs = list(mgr.messages)
        reloading = [i for i, m in enumerate(msgs) if "RELOADING=1" in m]
        self.assertEqual(len(reloading), 1, msgs)
        self.assertRegex(msgs[reloading[0]], r"MONOTONIC_USEC=\d+")
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        usec = int(msgs[reloading[0]].split("MONOTONIC_USEC=")[1].split("\n")[0])
        self.assertLess(now_usec - usec, 300 * 1_000_000)
        self.assertTrue(any("READY=1" in m for m in msgs[reloading[0] + 1:]),
                        "READY=1 after RELOADING=1")

        # Remove prod while entries wait in it: they stay in its spool, neither sent nor failed.
        feeder = Producer(prod, "q", 300, pause=0)
        w.config(queues=["dev"], http={"concurrency": 4})
        d.reload()
        self.assertRegex(d.log(), r"configuration reloaded .*queues_removed=prod")
        feeder.join()
        # In-flight prod entries finish; the rest wait in incoming/ untouched.
        wait_for(lambda: prod.count("processing") == 0, 60, "prod's in-flight entries to end")
        settled = prod.count("done", ".json")
        left = prod.names("incoming")
        self.assertGreater(len(left), 0, "the removed queue's entries should wait on disk")
        self.assertEqual(settled + len(left), 900)
        self.assertEqual(prod.count("failed"), 0)
        # dev keeps working meanwhile.
        for i in range(100, 120):
            dev.drop(f"d{i:05d}", f"ds-d{i}")
        wait_for(lambda: dev.count("done", ".json") >= 120, 60, "dev entries after prod was removed")
        self.assertEqual(prod.count("done", ".json"), settled, "a removed queue must not be served")

        # Put prod back: what waited is picked up, each entry once.
        w.config(queues=["dev", "prod"], http={"concurrency": 8})
        d.reload()
        # A record is durable before its entry leaves processing/: wait for both.
        wait_for(lambda: prod.count("done", ".json") >= 900 and not prod.names("processing"), 120,
                 "prod's waiting entries")
        self.assertEqual(prod.names("incoming"), [])
        self.assertEqual(prod.names("processing"), [])
        expected = {f"ds-p{i}" for i in range(600)} | {f"ds-q{i}" for i in range(300)} | \
            {f"ds-d{i}" for i in range(120)}
        self.assert_each_once(w, expected)
        self.assertEqual(d.terminate(), 0)
        w.assert_no_secrets(self)

    def test_bad_reload_is_refused_and_the_old_config_keeps_serving(self):
        w = self.world(["--latency", "5ms"])
        mgr = FakeManager(w.dir / "notify.sock")
        self.addCleanup(mgr.close)
        w.daemon_env["NOTIFY_SOCKET"] = str(w.dir / "notify.sock")
        prod = w.spool("prod")
        cfg = w.config(queues=["prod"])
        good = cfg.read_text()
        d = w.start_daemon(cfg)
        d.wait_started()
        feeder = Producer(prod, "p", 300)

        # A broken value and an unknown key: both named, nothing applied.
        bad = json.loads(good)
        bad["http"]["concurrency"] = -1
        bad["http"]["speed"] = "max"
        cfg.write_text(json.dumps(bad))
        d.reload()
        log = d.log()
        self.assertIn("reload refused; the running configuration stays", log)
        self.assertRegex(log, r"reload refused.*error=\"?http.concurrency: must be > 0")
        self.assertRegex(log, r"reload refused.*error=\"?http.speed: unknown key")

        # YAML that does not parse, and a secret file that is gone.
        cfg.write_text("platform: [unclosed\n")
        d.reload()
        self.assertRegex(d.log(), r"reload refused.*YAML syntax error at line \d+")
        missing = json.loads(good)
        missing["auth"]["client_secret_file"] = str(w.dir / "no-such-secret")
        cfg.write_text(json.dumps(missing))
        d.reload()
        self.assertRegex(d.log(), r"reload refused.*auth.client_secret_file")
        self.assertEqual(d.log().count("reload refused; the running configuration stays"), 4)
        self.assertNotIn("configuration reloaded", d.log())

        feeder.join()
        wait_for(lambda: prod.count("done", ".json") >= 300, 120, "entries under the old configuration")
        self.assert_each_once(w, {f"ds-p{i}" for i in range(300)})
        # Each refused reload still ends with READY=1.
        msgs = list(mgr.messages)
        self.assertEqual(sum("RELOADING=1" in m for m in msgs), 3)
        last_reloading = max(i for i, m in enumerate(msgs) if "RELOADING=1" in m)
        self.assertTrue(any("READY=1" in m for m in msgs[last_reloading + 1:]))
        self.assertEqual(d.terminate(), 0)

    def test_reload_rereads_the_secret(self):
        w = self.world()
        prod = w.spool("prod")
        cfg = w.config(queues=["prod"])
        d = w.start_daemon(cfg)
        d.wait_started()
        prod.drop("a", "ds-a")
        wait_for(lambda: prod.count("done", ".json") >= 1, 60, "the first entry")
        tokens_before = w.emulator.stats()["token_requests"]

        # A rotated secret that IMS does not know yet: the daemon drops its token and asks anew.
        w.secret_file.write_text("wrong-" + w.secret + "\n")
        d.reload()
        self.assertRegex(d.log(), r"configuration reloaded .*changed=secret")
        wait_for(lambda: "cannot obtain an access token" in d.log(), 60,
                 "the token request with the new secret to be refused")
        prod.drop("b", "ds-b")
        # The right secret again: the waiting entry goes through.
        w.secret_file.write_text(w.secret + "\n")
        d.reload()
        wait_for(lambda: prod.count("done", ".json") >= 2, 120, "the entry after the secret was fixed")
        self.assertGreaterEqual(w.emulator.stats()["token_requests"], tokens_before + 2)
        self.assertEqual(prod.count("failed"), 0)
        self.assertEqual(d.terminate(), 0)
        w.assert_no_secrets(self)

    def test_reload_keeps_requests_in_flight(self):
        # Every request takes 1.5 s: a reload during them must not cut them off or resend them.
        w = self.world(["--latency", "1500ms"])
        prod = w.spool("prod")
        cfg = w.config(queues=["prod"], http={"concurrency": 8})
        d = w.start_daemon(cfg)
        d.wait_started()
        for i in range(8):
            prod.drop(f"e{i}", f"ds-{i}")
        wait_for(lambda: w.emulator.stats()["batch_requests"] >= 8, 60, "8 requests in flight")
        w.config(queues=["prod"], http={"concurrency": 2, "request_timeout": "20s"})
        d.reload()
        wait_for(lambda: prod.count("done", ".json") >= 8, 60, "the requests in flight")
        self.assertEqual(w.emulator.stats()["batch_requests"], 8, "nothing was resent")
        self.assert_each_once(w, {f"ds-{i}" for i in range(8)})
        self.assertEqual(d.terminate(), 0)


if __name__ == "__main__":
    unittest.main()
