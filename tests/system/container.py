"""A booted Debian bookworm system in a container, for the system tests: debootstrap makes its
root once (cached, by default under the build tree's system-cache/), each test run boots a copy
of it with systemd-nspawn --boot (its own systemd as PID 1, journald, users), and commands run
inside it through nsenter, as root or as one of its users. The container shares the host's
network, so it reaches the emulator on 127.0.0.1."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

MIRROR = os.environ.get("AEP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What the DEVELOPERS' recipe boots: a minimal system with systemd, D-Bus and the CA store.
BASE_PACKAGES = "systemd,systemd-sysv,dbus,ca-certificates"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_root(cache_dir):
    """The cached bookworm root, made with debootstrap when missing (a few minutes once)."""
    cache_dir = Path(cache_dir)
    root = cache_dir / "bookworm"
    if (root / ".aep-complete").exists():
        return root
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if not shutil.which(tool):
            raise AssertionError(f"{tool} is missing: daemon/install-deps --system installs it")
    partial = cache_dir / "bookworm.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    log = cache_dir / "debootstrap.log"
    with open(log, "wb") as out:
        p = subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                            "bookworm", str(partial), MIRROR], stdout=out, stderr=subprocess.STDOUT,
                           timeout=1800)
    if p.returncode != 0:
        raise AssertionError(f"debootstrap failed ({p.returncode}); see {log}")
    (partial / ".aep-complete").write_text("debootstrap --variant=minbase bookworm\n")
    partial.rename(root)
    return root


class Container:
    def __init__(self, base, workdir, name="aep-system"):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(self.root)], check=True,
                       timeout=600)
        (self.root / ".aep-complete").unlink()
        self.console = self.workdir / "console.log"
        self._console = open(self.console, "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "-D", str(self.root), "-M", name, "--register=no",
             "--keep-unit", "--boot", "--console=read-only"],
            stdin=subprocess.DEVNULL, stdout=self._console, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.leader = self._find_leader(60)
        # Booted: the manager has finished start-up (degraded is fine: a unit of the minimal
        # system that needs hardware may fail in a container).
        deadline = time.monotonic() + 120
        while True:
            state = self.run("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the container did not finish booting (state {state!r}); "
                                     f"see {self.console}")
            time.sleep(0.2)

    def _find_leader(self, timeout):
        """The container's PID 1 (systemd), a child of systemd-nspawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited with {self.proc.returncode}; "
                                     f"see {self.console}")
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.proc.pid and \
                            (entry / "comm").read_text().strip() == "systemd":
                        return int(entry.name)
                except (OSError, IndexError, ValueError):
                    continue
            time.sleep(0.1)
        raise AssertionError(f"the container's systemd did not start; see {self.console}")

    def run(self, command, user=None, input=None, check=True, timeout=300):
        """Runs a shell command inside the container, as root or as `user` (with that user's
        groups, a clean environment and the user's umask left to the command)."""
        argv = ["/bin/sh", "-c", command]
        if user:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                    "--reset-env", "--"] + argv
        p = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-p", "-C", "-r",
                            "-w", "--", "/usr/bin/env", "-i", f"PATH={PATH}", "LANG=C.UTF-8",
                            "DEBIAN_FRONTEND=noninteractive", *argv],
                           input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"in the container, `{command}`"
                                 f"{' as ' + user if user else ''} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def path(self, inside):
        """A path inside the container, seen from the host."""
        return self.root / inside.lstrip("/")

    def journal(self, *args):
        return self.run("journalctl --no-pager -o cat " + " ".join(args), check=False).stdout

    def unit(self, *props, unit="aep-batchd"):
        out = self.run(f"systemctl show {unit} -p {','.join(props)}").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def stop(self):
        if self.proc.poll() is None:
            self.run("systemctl poweroff --no-block", check=False, timeout=60)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                # PID 1 of the container's PID namespace takes every process in it along.
                for pid in (self.leader, self.proc.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait(timeout=30)
        self._console.close()
