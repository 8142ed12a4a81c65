"""HTTPS through an HTTP CONNECT proxy: from the config with a credentials file, and from the
https_proxy/no_proxy environment; TLS stays end to end and credentials never reach the logs."""

import base64
import subprocess
import unittest

from connect_proxy import ConnectProxy
from harness import BATCHD, WorldTestCase, wait_for


class Proxy(WorldTestCase):
    def proxy(self, required_auth=None):
        p = ConnectProxy(required_auth)
        self.addCleanup(p.close)
        return p

    def test_config_proxy_with_credentials_file(self):
        w = self.world()
        creds = "batchd:pr0xy-" + "s3cret"
        proxy = self.proxy("Basic " + base64.b64encode(creds.encode()).decode())
        creds_file = w.dir / "proxy_credentials"
        creds_file.write_text(creds + "\n")
        creds_file.chmod(0o600)
        cfg = w.config(queues=["q"], http={"proxy": f"http://127.0.0.1:{proxy.port}",
                                           "proxy_credentials_file": str(creds_file)})
        q = w.spool("q")
        for i in range(20):
            q.drop(f"e{i}", f"ds{i}")
        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 20)
        targets = {t for t, _ in proxy.connects}
        self.assertEqual(targets, {f"127.0.0.1:{w.emulator.port}"}, "IMS and API both tunnelled")
        self.assertLessEqual(len(proxy.connects), 16 + 2, "tunnels are kept alive and reused")
        self.assertNotIn(creds, log)
        self.assertNotIn(base64.b64encode(creds.encode()).decode(), log)
        w.assert_no_secrets(self)

    def test_wrong_proxy_credentials_keep_entries_waiting(self):
        w = self.world()
        proxy = self.proxy("Basic " + base64.b64encode(b"right:right").decode())
        creds_file = w.dir / "proxy_credentials"
        creds_file.write_text("wrong:wrong\n")
        cfg = w.config(queues=["q"], http={"proxy": f"http://127.0.0.1:{proxy.port}",
                                           "proxy_credentials_file": str(creds_file)})
        daemon = w.start_daemon(cfg)
        daemon.wait_started()
        q = w.spool("q")
        q.drop("a", "ds1")
        wait_for(lambda: "refused CONNECT" in daemon.log(), 30, "the proxy's refusal in the log")
        self.assertEqual(daemon.terminate(), 0)
        self.assertIn("HTTP 407", daemon.log())
        self.assertNotIn("wrong:wrong", daemon.log())
        self.assertEqual(q.count("done", ".json"), 0)
        self.assertEqual(q.names("failed"), [])

    def test_environment_proxy_and_no_proxy(self):
        w = self.world()
        proxy = self.proxy()
        q = w.spool("q")
        q.drop("a", "ds1")
        w.daemon_env["https_proxy"] = f"http://127.0.0.1:{proxy.port}"
        rc, log = w.run_once(w.config(queues=["q"]))
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 1)
        self.assertTrue(proxy.connects, "https_proxy from the environment is used")
        before = len(proxy.connects)
        w.daemon_env["no_proxy"] = "localhost,127.0.0.1"
        q.drop("b", "ds2")
        rc, log = w.run_once(w.config(queues=["q"]))
        self.assertEqual(rc, 0, log)
        self.assertEqual(q.count("done", ".json"), 2)
        self.assertEqual(len(proxy.connects), before, "no_proxy hosts are reached directly")

    def test_bad_proxy_settings_are_config_errors(self):
        w = self.world()
        path = w.config(queues=["q"], http={"proxy": "https://proxy.example:3128"})
        p = subprocess.run([BATCHD, "--config", str(path), "--check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 78)
        self.assertIn("http.proxy: must be an http://host:port URL", p.stdout)
        path = w.config(queues=["q"], http={"proxy": "http://proxy.example:3128",
                                            "proxy_credentials_file": str(w.dir / "absent")})
        p = subprocess.run([BATCHD, "--config", str(path), "--check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 78)
        self.assertIn("http.proxy_credentials_file: cannot read", p.stdout)


if __name__ == "__main__":
    unittest.main()
