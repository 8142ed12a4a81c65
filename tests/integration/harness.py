"""Shared fixtures for the integration tests: a throwaway CA, the real aep-emulator over TLS on
loopback (port chosen by the OS), config files, spool helpers and the real aep-batchd binary.

Waiting is always for a condition with a generous deadline, never a fixed sleep."""

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

BATCHD = os.environ.get("AEP_BATCHD", "")
EMULATOR = os.environ.get("AEP_EMULATOR", "")
SOURCE_DIR = Path(os.environ.get("AEP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
OPENAPI_DIR = Path(os.environ.get("AEP_OPENAPI_DIR", SOURCE_DIR / "tests" / "openapi"))

CLIENT_ID = "aep-batchd-test"
ORG_ID = "TESTORG@AdobeOrg"

BATCH_LINE = re.compile(
    r"batch (created|recovered) queue=(\S+) dataset_id=(\S+) batch_id=(\S+) stage_path=(\S+) "
    r"attempts=(\d+) latency_ms=(\d+)")


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls predicate until it is truthy; fails the test with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class DatagramSink:
    """Binds a Unix datagram socket at `path` and collects what arrives, decoded by `decode`:
    a stand-in for systemd's notify socket or journald's."""

    def __init__(self, path, decode):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.decode = decode
        self.received = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(self.decode(data))

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class Emulator:
    def __init__(self, world, args=()):
        self.world = world
        port_file = world.dir / f"emulator-{secrets.token_hex(3)}.port"
        self.log_path = world.dir / "emulator.log"
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [EMULATOR, "--cert", str(world.ca / "server.pem"), "--key", str(world.ca / "server.key"),
             "--client-id", CLIENT_ID, "--client-secret-file", str(world.secret_file),
             "--org-id", ORG_ID, "--port-file", str(port_file),
             *(a.replace("{ca}", str(world.ca)) for a in args)],
            stdout=subprocess.PIPE, stderr=self.log_file, text=True)
        line = self.proc.stdout.readline()  # blocks until the emulator is listening
        match = re.search(r"listening on .*:(\d+)", line)
        if not match:
            raise AssertionError(f"aep-emulator did not start: {line!r}, see {self.log_path}")
        self.port = int(match.group(1))
        self.base = f"https://127.0.0.1:{self.port}"

    def request(self, method, path, body=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.world.ssl_context,
                                           timeout=30)
        try:
            conn.request(method, path, body=body)
            res = conn.getresponse()
            data = res.read()
            if res.status != 200:
                raise AssertionError(f"emulator {method} {path}: {res.status} {data!r}")
            return json.loads(data)
        finally:
            conn.close()

    def stats(self):
        return self.request("GET", "/emulator/stats")

    def batches(self):
        return self.request("GET", "/emulator/batches")

    def tokens(self):
        return self.request("GET", "/emulator/tokens")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log_file.close()


class Daemon:
    def __init__(self, world, config, args=()):
        self.log_path = world.dir / f"daemon-{secrets.token_hex(3)}.log"
        world.outputs.append(self.log_path)
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BATCHD, "--config", str(config), *args],
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=world.daemon_env)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_started(self, timeout=60):
        wait_for(lambda: "aep-batchd started" in self.log() or self.proc.poll() is not None,
                 timeout, "the daemon to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"aep-batchd exited with {self.proc.returncode}:\n{self.log()}")

    def reload(self, timeout=60):
        """SIGHUP, then waits for the daemon's verdict; returns the log lines it added."""
        before = self.log().count("configuration reloaded") + self.log().count("reload refused")
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.log().count("configuration reloaded") +
                 self.log().count("reload refused") > before or self.proc.poll() is not None,
                 timeout, "the reload to finish")
        if self.proc.poll() is not None:
            raise AssertionError(f"aep-batchd exited on SIGHUP:\n{self.log()}")

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


class World:
    """One test's private universe: temp dir, CA, secret, emulator, spools, configs."""

    def __init__(self, emulator_args=()):
        for name, path in (("AEP_BATCHD", BATCHD), ("AEP_EMULATOR", EMULATOR)):
            if not path or not os.access(path, os.X_OK):
                raise unittest.SkipTest(f"{name} is not set to a built binary (run through ctest)")
        self.dir = Path(tempfile.mkdtemp(prefix="aep-it-"))
        self.ca = self.dir / "ca"
        subprocess.run([str(SOURCE_DIR / "tests" / "tools" / "make-test-ca"), str(self.ca)], check=True)
        self.secret = "s3cr3t-" + secrets.token_hex(16)
        self.secret_file = self.dir / "client_secret"
        self.secret_file.write_text(self.secret + "\n")
        self.secret_file.chmod(0o600)
        self.ssl_context = ssl.create_default_context(cafile=str(self.ca / "ca.pem"))
        self.outputs = []  # files whose content must never hold a secret
        self.daemons = []
        # The daemon sees no systemd credential and no proxy unless a test sets one.
        ignored = {"CREDENTIALS_DIRECTORY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
                   "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"}
        self.daemon_env = {k: v for k, v in os.environ.items() if k not in ignored}
        self.emulator = Emulator(self, emulator_args)

    def spool(self, name):
        path = self.dir / "spool" / name
        return Spool(path)

    def config(self, queues=("prod",), *, http=None, retry=None, auth=None, log=None,
               import_url=None, catalog_url=None, token_url=None, name="aep-batchd.yaml",
               metrics=None):
        base = self.emulator.base
        cfg = {
            "platform": {
                "import_url": import_url or f"{base}/data/foundation/import",
                "catalog_url": catalog_url or f"{base}/data/foundation/catalog",
                "org_id": ORG_ID,
                "api_key": CLIENT_ID,
            },
            "auth": {
                "token_url": token_url or f"{base}/ims/token/v3",
                "client_id": CLIENT_ID,
                "client_secret_file": str(self.secret_file),
                **(auth or {}),
            },
            "tls": {"ca_file": str(self.ca / "ca.pem")},
            "http": {"concurrency": 16, "request_timeout": "10s", "rate_limit": 0, **(http or {})},
            "retry": {"initial_backoff": "20ms", "max_backoff": "500ms", "catalog_lag": "300ms",
                      **(retry or {})},
            "queues": [],
            "log": {"format": "text", "level": "info", **(log or {})},
        }
        for q in queues:
            if isinstance(q, str):
                q = {"name": q}
            entry = {"name": q["name"], "spool": str(self.dir / "spool" / q["name"]),
                     "sandbox": q.get("sandbox", q["name"])}
            if "input_format" in q:
                entry["input_format"] = q["input_format"]
            cfg["queues"].append(entry)
        if metrics is not None:
            cfg["metrics"] = metrics
        path = self.dir / name
        # JSON is valid YAML: no YAML library is needed in the tests.
        path.write_text(json.dumps(cfg, indent=2))
        return path

    def start_daemon(self, config, args=()):
        d = Daemon(self, config, args)
        self.daemons.append(d)
        return d

    def run_once(self, config, timeout=300):
        log_path = self.dir / f"once-{secrets.token_hex(3)}.log"
        self.outputs.append(log_path)
        with open(log_path, "wb") as out:
            proc = subprocess.run([BATCHD, "--config", str(config), "--once"], stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, env=self.daemon_env)
        return proc.returncode, log_path.read_text(errors="replace")

    def assert_no_secrets(self, test):
        """No daemon output nor spool file holds the client secret or any issued token."""
        needles = [self.secret] + self.emulator.tokens()
        files = list(self.outputs)
        spool_root = self.dir / "spool"
        if spool_root.exists():
            files += [p for p in spool_root.rglob("*") if p.is_file() and not p.is_symlink()]
        for f in files:
            data = f.read_bytes()
            for n in needles:
                test.assertNotIn(n.encode(), data, f"a secret or token leaked into {f}")
        return len(needles), len(files)

    def close(self):
        for d in self.daemons:
            d.kill()
        self.emulator.stop()
        if os.environ.get("AEP_KEEP_TEST_DIRS"):
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Spool:
    def __init__(self, path):
        self.path = Path(path)

    def drop(self, name, content):
        """Writes like a polite producer: into tmp/, then rename(2) into incoming/."""
        (self.path / "tmp").mkdir(parents=True, exist_ok=True)
        (self.path / "incoming").mkdir(parents=True, exist_ok=True)
        tmp = self.path / "tmp" / name
        tmp.write_bytes(content.encode() if isinstance(content, str) else content)
        os.rename(tmp, self.path / "incoming" / name)

    def names(self, sub):
        d = self.path / sub
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def done_records(self):
        d = self.path / "done"
        if not d.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(d.iterdir()) if p.suffix == ".json"]

    def error_record(self, name):
        return json.loads((self.path / "failed" / f"{name}.error.json").read_text())

    def count(self, sub, suffix=""):
        """Files in sub/ whose names end with suffix. Records are counted as
        count("done", ".json"): a record being written is a temp file (.NAME.json.PID.tmp) in
        done/ until its rename, and must not be taken for one."""
        d = self.path / sub
        return sum(1 for p in d.iterdir() if p.name.endswith(suffix)) if d.exists() else 0


class WorldTestCase(unittest.TestCase):
    """A test case whose tests each make their own World (emulator flags differ per test)."""

    def world(self, args=()):
        w = World(emulator_args=args)
        self.addCleanup(w.close)
        return w
