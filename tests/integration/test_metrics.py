"""/metrics and /healthz on the loopback listener: the values match what happened in a run, and
health turns bad when no token can be had or nothing succeeds while work waits."""

import http.client
import re
import subprocess
import time
import unittest

from harness import BATCHD, WorldTestCase, wait_for

LISTENING = re.compile(r"metrics and health listening address=127\.0\.0\.1:(\d+)")


def parse_metrics(text):
    """{'name{labels}': float} for every sample; checks the exposition format on the way."""
    samples = {}
    families = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        assert m, f"not a sample line: {line!r}"
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert m.group(1) in families or base in families, f"sample without TYPE: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


class Metrics(WorldTestCase):
    def endpoint(self, daemon):
        m = wait_for(lambda: LISTENING.search(daemon.log()), 60, "the metrics listener")
        return int(m.group(1))

    def get(self, port, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, path)
            res = conn.getresponse()
            return res.status, res.getheader("Content-Type"), res.read().decode()
        finally:
            conn.close()

    def test_every_series_is_there_from_the_start_and_promtool_accepts_the_output(self):
        w = self.world()
        d = w.start_daemon(w.config(queues=["prod", "quiet"], metrics={"listen": "127.0.0.1:0"}))
        port = self.endpoint(d)
        _, _, body = self.get(port, "/metrics")
        m = parse_metrics(body)
        for series in ('aep_batchd_entries_total{queue="quiet",outcome="done"}',
                       'aep_batchd_entries_total{queue="quiet",outcome="failed"}',
                       'aep_batchd_retries_total{queue="quiet"}',
                       'aep_batchd_last_success_timestamp_seconds{queue="quiet"}',
                       'aep_batchd_entry_duration_seconds_count{queue="quiet"}',
                       'aep_batchd_requests_total{kind="create",class="429"}',
                       'aep_batchd_requests_total{kind="lookup",class="transport"}',
                       'aep_batchd_request_duration_seconds_count{kind="abort"}'):
            self.assertEqual(m[series], 0, series)
        self.assertTrue(any(k.startswith('aep_batchd_build_info{version="') and ',revision="' in k
                            for k in m), "build_info carries the revision")
        self.assertGreater(m["process_open_fds"], 3)
        self.assertGreater(m["process_max_fds"], m["process_open_fds"])
        self.assertGreater(m["process_virtual_memory_bytes"], m["process_resident_memory_bytes"])
        # Prometheus's own checker: format, names, units and HELP (Debian's prometheus package).
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, "", "no lint warning either")
        self.assertEqual(d.terminate(), 0)

    def test_metrics_match_the_run(self):
        w = self.world(["--latency", "5ms"])
        q = w.spool("prod")
        good, bad_request, unavailable = 40, 3, 2
        for i in range(good):
            q.drop(f"ok{i}", f"ds-{i}")
        for i in range(bad_request):
            q.drop(f"b{i}", "status-400")
        for i in range(unavailable):
            q.drop(f"u{i}", "status-503")
        started = time.time()
        d = w.start_daemon(w.config(queues=["prod"], retry={"max_attempts": 2},
                                    metrics={"listen": "127.0.0.1:0"}))
        port = self.endpoint(d)
        total = good + bad_request + unavailable
        wait_for(lambda: q.count("done", ".json") + q.count("failed", ".error.json") >= total, 120,
                 "every entry to end")
        # A record is on disk a moment before the entry is counted (its processing/ file goes
        # first): wait until the counters have caught up with the files.
        outcome = 'aep_batchd_entries_total{queue="prod",outcome="%s"}'
        wait_for(lambda: (m := parse_metrics(self.get(port, "/metrics")[2])).get(
            outcome % "done", 0) + m.get(outcome % "failed", 0) >= total, 60,
            "the counters to count every entry")

        status, ctype, body = self.get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        m = parse_metrics(body)
        self.assertEqual(m['aep_batchd_entries_total{queue="prod",outcome="done"}'], good)
        self.assertEqual(m['aep_batchd_entries_total{queue="prod",outcome="failed"}'],
                         bad_request + unavailable)
        self.assertEqual(m['aep_batchd_requests_total{kind="create",class="2xx"}'], good)
        self.assertEqual(m['aep_batchd_requests_total{kind="create",class="4xx"}'], bad_request)
        # status-503 is answered 503 every time: 2 attempts each, one retry between them.
        self.assertEqual(m['aep_batchd_requests_total{kind="create",class="5xx"}'],
                         2 * unavailable)
        self.assertEqual(m['aep_batchd_retries_total{queue="prod"}'], unavailable)
        sent = good + bad_request + 2 * unavailable
        self.assertEqual(m['aep_batchd_request_duration_seconds_count{kind="create"}'], sent)
        self.assertEqual(m['aep_batchd_request_duration_seconds_bucket{kind="create",le="+Inf"}'],
                         sent)
        # The server answers after 5 ms (the forced errors at once): 7 requests at most in the
        # lowest bucket.
        self.assertLessEqual(
            m['aep_batchd_request_duration_seconds_bucket{kind="create",le="0.005"}'],
            bad_request + 2 * unavailable)
        self.assertGreaterEqual(m['aep_batchd_request_duration_seconds_sum{kind="create"}'],
                                sent * 0.005)
        self.assertEqual(m["aep_batchd_entries_in_flight"], 0)
        self.assertEqual(m['aep_batchd_pending_entries{queue="prod"}'], 0)
        self.assertEqual(m['aep_batchd_oldest_pending_age_seconds{queue="prod"}'], 0)
        last = m['aep_batchd_last_success_timestamp_seconds{queue="prod"}']
        self.assertGreaterEqual(last, started - 1)
        self.assertLessEqual(last, time.time() + 1)
        # Every entry's time from claim to record, in the queue's histogram.
        self.assertEqual(m['aep_batchd_entry_duration_seconds_count{queue="prod"}'], total)
        self.assertEqual(m['aep_batchd_entry_duration_seconds_bucket{queue="prod",le="+Inf"}'],
                         total)
        self.assertGreater(m['aep_batchd_entry_duration_seconds_sum{queue="prod"}'], 0)
        stats = w.emulator.stats()  # the test's first connection to the emulator
        self.assertEqual(m['aep_batchd_token_refreshes_total{result="success"}'],
                         stats["tokens_issued"])
        self.assertEqual(m['aep_batchd_token_refreshes_total{result="failure"}'], 0)
        self.assertEqual(m["aep_batchd_connections_opened_total"], stats["connections"] - 1)
        self.assertEqual(m["aep_batchd_healthy"], 1)
        self.assertGreater(m["process_resident_memory_bytes"], 1 << 20)
        self.assertGreater(m["process_cpu_seconds_total"], 0)

        status, _, body = self.get(port, "/healthz")
        self.assertEqual((status, body), (200, "ok\n"))
        status, _, _ = self.get(port, "/nope")
        self.assertEqual(status, 404)
        status, _, _ = self.get(port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        status, _, body = self.get(port, "/healthz", method="HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(d.terminate(), 0)

    def test_unhealthy_without_a_token(self):
        w = self.world(["--ims-down"])
        q = w.spool("prod")
        q.drop("a", "ds-a")
        d = w.start_daemon(w.config(queues=["prod"], metrics={"listen": "127.0.0.1:0"}))
        port = self.endpoint(d)
        status, _, body = wait_for(lambda: (r := self.get(port, "/healthz"))[0] == 503 and r,
                                   60, "/healthz to report the missing token")
        self.assertIn("no access token", body)
        m = parse_metrics(self.get(port, "/metrics")[2])
        self.assertEqual(m["aep_batchd_healthy"], 0)
        self.assertGreaterEqual(m['aep_batchd_token_refreshes_total{result="failure"}'], 1)
        self.assertEqual(m['aep_batchd_entries_in_flight'], 1)  # waiting for a token
        # IMS comes back: healthy again, the entry goes through.
        w.emulator.request("POST", "/emulator/ims-up")
        wait_for(lambda: q.count("done", ".json") >= 1, 120, "the entry once IMS is back")
        wait_for(lambda: self.get(port, "/healthz")[0] == 200, 60, "/healthz to recover")
        self.assertEqual(d.terminate(), 0)

    def test_unhealthy_when_nothing_succeeds_while_work_waits(self):
        # Each request takes 4 s; with stall_after 1 s the daemon is stalled in the meantime.
        w = self.world(["--latency", "4s"])
        q = w.spool("prod")
        d = w.start_daemon(w.config(queues=["prod"],
                                    metrics={"listen": "127.0.0.1:0", "stall_after": "1s"}))
        port = self.endpoint(d)
        d.wait_started()
        wait_for(lambda: self.get(port, "/healthz")[0] == 200, 60, "a healthy idle daemon")
        q.drop("a", "ds-a")
        status, _, body = wait_for(lambda: (r := self.get(port, "/healthz"))[0] == 503 and r,
                                   60, "/healthz to report the stall", interval=0.2)
        self.assertRegex(body, r"no batch created for \d+ s while 1 entries wait")
        m = parse_metrics(self.get(port, "/metrics")[2])
        self.assertGreater(m['aep_batchd_oldest_pending_age_seconds{queue="prod"}'], -1)
        wait_for(lambda: q.count("done", ".json") >= 1, 60, "the slow entry")
        self.assertEqual(self.get(port, "/healthz")[:2], (200, "text/plain; charset=utf-8"))
        self.assertEqual(d.terminate(), 0)

    def test_reload_moves_the_listener_or_keeps_it(self):
        import socket
        w = self.world()
        cfg = w.config(queues=["a"], metrics={"listen": "127.0.0.1:0"})
        d = w.start_daemon(cfg)
        old = self.endpoint(d)
        # A port someone else holds: the reload is refused and the old listener still answers.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        w.config(queues=["a"], metrics={"listen": f"127.0.0.1:{busy.getsockname()[1]}"})
        d.reload()
        self.assertIn("reload refused", d.log())
        self.assertEqual(self.get(old, "/healthz")[0], 200)
        # A free port: the listener moves there.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        w.config(queues=["a"], metrics={"listen": f"127.0.0.1:{free}"})
        d.reload()
        self.assertRegex(d.log(), r"configuration reloaded .*changed=metrics")
        self.assertEqual(self.get(free, "/healthz")[0], 200)
        with self.assertRaises(OSError):
            self.get(old, "/healthz")
        m = parse_metrics(self.get(free, "/metrics")[2])
        self.assertEqual(m['aep_batchd_config_reloads_total{result="success"}'], 1)
        self.assertEqual(m['aep_batchd_config_reloads_total{result="failure"}'], 1)
        self.assertEqual(d.terminate(), 0)

    def test_metrics_listen_must_be_loopback(self):
        w = self.world()
        cfg = w.config(metrics={"listen": "0.0.0.0:9464"})
        out = subprocess.run([BATCHD, "--config", str(cfg), "--check"], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 78)
        self.assertIn("metrics.listen: must be a loopback address", out.stdout)

    def test_port_in_use_is_a_clear_start_failure(self):
        w = self.world()
        first = w.start_daemon(w.config(queues=["a"], metrics={"listen": "127.0.0.1:0"},
                                        name="a.yaml"))
        port = self.endpoint(first)
        second = w.start_daemon(w.config(queues=["b"], metrics={"listen": f"127.0.0.1:{port}"},
                                         name="b.yaml"))
        self.assertEqual(second.proc.wait(timeout=60), 1)
        self.assertRegex(second.log(),
                         rf"metrics.listen: cannot listen on 127.0.0.1:{port}: Address already in use")
        self.assertEqual(first.terminate(), 0)


if __name__ == "__main__":
    unittest.main()
