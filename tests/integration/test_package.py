"""The Debian package: cpack builds it from the build tree, its content list is exactly what an
operator needs, its dependencies are declared, and its maintainer scripts install cleanly into a
scratch root (dpkg's DPKG_ROOT), creating the service user and the spool root and enabling the
unit. systemctl and deb-systemd-* are stand-ins that record their calls: this machine runs no
systemd, and the host must not be changed by a test."""

import gzip
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from harness import World

BUILD_DIR = Path(os.environ.get("AEP_BUILD_DIR", ""))

EXPECTED_FILES = {
    "./etc/aep-batchd/aep-batchd.example.yaml",
    "./usr/lib/systemd/system/aep-batchd.service",
    "./usr/lib/sysusers.d/aep-batchd.conf",
    "./usr/lib/tmpfiles.d/aep-batchd.conf",
    "./usr/bin/aep-batchd",
    "./usr/share/doc/aep-batchd/README.md",
    "./usr/share/doc/aep-batchd/SECURITY.md",
    "./usr/share/doc/aep-batchd/changelog.gz",
    "./usr/share/doc/aep-batchd/copyright",
    "./usr/share/man/man8/aep-batchd.8.gz",
    "./usr/share/bash-completion/completions/aep-batchd",
}


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
            if not shutil.which(tool):
                raise AssertionError(f"{tool} is missing: daemon/install-deps --tests installs it")
        if not (BUILD_DIR / "CPackConfig.cmake").exists():
            raise unittest.SkipTest("AEP_BUILD_DIR is not a configured build tree (run through ctest)")
        cls.world = World()
        out = cls.world.dir / "deb"
        p = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "--config",
                            str(BUILD_DIR / "CPackConfig.cmake")],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"cpack failed:\n{p.stdout}\n{p.stderr}")
        debs = list(out.glob("aep-batchd_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one .deb in {out}: {list(out.iterdir())}")
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        cls.world.close()

    def dpkg_deb(self, *args):
        p = subprocess.run(["dpkg-deb", *args, str(self.deb)], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_content_list(self):
        files = set()
        for line in self.dpkg_deb("-c").splitlines():
            mode, _owner, _size, _date, _time, path = line.split(None, 5)
            if not mode.startswith("d"):
                files.add(path)
                self.assertIn(" root/root ", line)
            if path == "./usr/bin/aep-batchd":
                self.assertEqual(mode, "-rwxr-xr-x")
        self.assertEqual(files, EXPECTED_FILES)

    def test_control_declares_dependencies_and_scripts(self):
        info = self.dpkg_deb("-I")
        self.assertRegex(info, r"Package: aep-batchd\n")
        depends = next(l for l in info.splitlines() if l.strip().startswith("Depends:"))
        for lib in ("libboost-json1.81.0", "libyaml-cpp0.7", "libssl3", "libsystemd0", "systemd", "procps"):
            self.assertIn(lib, depends)
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            self.assertRegex(info, rf"\s{script}\s")
        self.assertNotRegex(info, r"Maintainer: .*@localhost", "lintian: bogus-mail-host")

    def test_binary_is_stripped_with_symbols_apart_and_hardened(self):
        self.assertEqual(len(list(self.deb.parent.glob("aep-batchd-dbgsym_*.ddeb"))), 1,
                         "no -dbgsym package beside the .deb")
        root = self.world.dir / "strip-check"
        subprocess.run(["dpkg-deb", "-x", str(self.deb), str(root)], check=True, timeout=120)
        binary = root / "usr/bin/aep-batchd"
        sections = subprocess.run(["readelf", "-S", "-W", str(binary)], capture_output=True,
                                  text=True, check=True).stdout
        self.assertNotIn(".debug_info", sections, "the packaged binary is not stripped")
        cache = (BUILD_DIR / "CMakeCache.txt").read_text()
        if re.search(r"^AEP_HARDENING:BOOL=OFF$", cache, re.M):
            self.skipTest("this tree is built with -DAEP_HARDENING=OFF (tests/run --sanitize); "
                          "the hardening of the packaged build is checked by a plain tests/run")
        dynamic = subprocess.run(["readelf", "-d", "-W", str(binary)], capture_output=True,
                                 text=True, check=True).stdout
        self.assertRegex(dynamic, r"BIND_NOW|FLAGS.*\bNOW\b", "linked without -z now")
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(binary)], capture_output=True,
                                 text=True, check=True).stdout
        self.assertIn("__stack_chk_fail", symbols, "built without the stack protector")
        self.assertRegex(symbols, r"__\w+_chk\b(?<!__stack_chk)", "built without _FORTIFY_SOURCE")

    def test_changelog_names_the_package_version(self):
        version = re.search(r"Version: (\S+)", self.dpkg_deb("-I")).group(1)
        root = self.world.dir / "changelog-check"
        subprocess.run(["dpkg-deb", "-x", str(self.deb), str(root)], check=True, timeout=120)
        with gzip.open(root / "usr/share/doc/aep-batchd/changelog.gz", "rt") as f:
            first = f.readline()
        self.assertTrue(first.startswith(f"aep-batchd ({version}) "),
                        f"systemd/deb/changelog's first entry is not the package's version: {first}")

    def test_man_page_renders_without_warnings_and_tells_every_command(self):
        root = self.world.dir / "man-check"
        subprocess.run(["dpkg-deb", "-x", str(self.deb), str(root)], check=True, timeout=120)
        page = root / "usr/share/man/man8/aep-batchd.8.gz"
        p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "MANWIDTH": "80"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "groff warnings")
        for command in ("enqueue", "status", "list", "show", "requeue", "config", "--online"):
            self.assertIn(command, p.stdout)
        completion = root / "usr/share/bash-completion/completions/aep-batchd"
        self.assertEqual(subprocess.run(["bash", "-n", str(completion)]).returncode, 0)

    def test_installs_cleanly_into_a_scratch_root(self):
        w = self.world
        root = w.dir / "root"
        control = w.dir / "control"
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(self.deb), str(root)], check=True, timeout=120)
        subprocess.run(["dpkg-deb", "-e", str(self.deb), str(control)], check=True, timeout=120)
        (root / "etc").mkdir(exist_ok=True)

        # The binary runs, and the unit names where the package put it.
        v = subprocess.run([str(root / "usr/bin/aep-batchd"), "--version"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^aep-batchd \d+\.\d+\.\d+")
        unit = (root / "usr/lib/systemd/system/aep-batchd.service").read_text()
        self.assertIn("ExecStart=/usr/bin/aep-batchd --config /etc/aep-batchd/aep-batchd.yaml",
                      unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        self.assertIn("ConditionPathExists=/etc/aep-batchd/aep-batchd.yaml", unit)

        # Maintainer scripts, with recording stand-ins for the systemd helpers.
        stubs = w.dir / "stubs"
        stubs.mkdir(exist_ok=True)
        calls = w.dir / "calls.log"
        # deb-systemd-helper's was-enabled answers as its state file would: yes for a unit never
        # seen (a new install), no once the administrator disabled it (the file `disabled`);
        # deb-systemd-invoke fails while the file `broken` exists (a start that fails).
        disabled, broken = w.dir / "disabled", w.dir / "broken"
        scripts = {
            "systemctl": "",
            "deb-systemd-helper": f'[ "$1 $2" = "--quiet was-enabled" ] && [ -e "{disabled}" ] && exit 1\n',
            "deb-systemd-invoke": f'[ -e "{broken}" ] && exit 1\n',
        }
        for tool, body in scripts.items():
            stub = stubs / tool
            stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n{body}exit 0\n')
            stub.chmod(0o755)
        env = dict(os.environ, DPKG_ROOT=str(root), PATH=f"{stubs}:{os.environ['PATH']}")
        for script in ("postinst", "prerm", "postrm"):
            mode = (control / script).stat().st_mode & 0o777
            self.assertEqual(mode, 0o755, script)
            self.assertEqual(subprocess.run(["sh", "-n", str(control / script)]).returncode, 0)
        p = subprocess.run([str(control / "postinst"), "configure"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        passwd = (root / "etc/passwd").read_text()
        self.assertRegex(passwd, r"(?m)^aep-batchd:x:\d+:\d+:.*:/usr/sbin/nologin$")
        uid = int(next(l for l in passwd.splitlines() if l.startswith("aep-batchd:")).split(":")[2])
        spool = root / "var/spool/aep-batchd"
        self.assertTrue(spool.is_dir())
        if os.geteuid() == 0:
            self.assertEqual(spool.stat().st_uid, uid)
        # Producers read the configuration (enqueue): the directory is open; secrets are files
        # of their own.
        self.assertEqual((root / "etc/aep-batchd").stat().st_mode & 0o777, 0o755)
        group = (root / "etc/group").read_text()
        self.assertRegex(group, r"(?m)^aep-batchd-producers:x:\d+:aep-batchd$",
                         "the producer group, with the daemon as a member")
        spool_group = next(l for l in group.splitlines() if l.startswith("aep-batchd-producers:"))
        self.assertEqual(spool.stat().st_mode & 0o7777, 0o2710)
        if os.geteuid() == 0:
            self.assertEqual(spool.stat().st_gid, int(spool_group.split(":")[2]))
        self.assertIn("deb-systemd-helper enable aep-batchd.service", calls.read_text())
        # No systemd runs in the scratch root: nothing is started.
        self.assertNotIn("deb-systemd-invoke", calls.read_text())

        # With systemd running and a configuration in place, postinst starts the service on a
        # new install and restarts it on an upgrade.
        (root / "run/systemd/system").mkdir(parents=True)
        (root / "etc/aep-batchd/aep-batchd.yaml").write_text("# configured\n")
        p = subprocess.run([str(control / "postinst"), "configure"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("systemctl --system daemon-reload", calls.read_text())
        self.assertIn("deb-systemd-invoke start aep-batchd.service", calls.read_text())
        p = subprocess.run([str(control / "postinst"), "configure", "0.0.9"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("deb-systemd-invoke restart aep-batchd.service", calls.read_text())

        # An upgrade keeps a unit the administrator disabled disabled, and a restart that fails
        # (a broken configuration) is reported without failing the installation.
        disabled.touch()
        broken.touch()
        calls.write_text("")
        p = subprocess.run([str(control / "postinst"), "configure", "0.1.0"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, "a failed restart must not fail dpkg --configure")
        self.assertIn("the service did not restart", p.stderr)
        self.assertNotIn("deb-systemd-helper enable", calls.read_text(),
                         "an upgrade re-enabled a disabled unit")
        self.assertIn("deb-systemd-helper update-state", calls.read_text())
        broken.unlink()
        p = subprocess.run([str(control / "prerm"), "remove"], env=env, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertIn("deb-systemd-invoke stop aep-batchd.service", calls.read_text())
        p = subprocess.run([str(control / "postrm"), "purge"], env=env, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertIn("deb-systemd-helper purge aep-batchd.service", calls.read_text())
        self.assertTrue(spool.is_dir(), "the spool is the operator's data: kept on purge")


if __name__ == "__main__":
    unittest.main()
