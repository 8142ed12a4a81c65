"""The command line of the real binary, as a new operator types it: getopt_long's forms, help
and version for each command, errors that name the option, and `--` before odd dataset ids."""

import os
import subprocess
import unittest

from harness import BATCHD, World


def run(*args, stdin=None):
    return subprocess.run([BATCHD, *args], input=stdin, capture_output=True, text=True, timeout=60)


class CommandLine(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)

    def test_help_and_version_exit_0_for_each_command(self):
        for args in (["--help"], ["-h"], ["enqueue", "--help"], ["enqueue", "-h"]):
            p = run(*args)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
            self.assertIn("usage: aep-batchd", p.stdout)
            self.assertEqual(p.stderr, "")
        self.assertIn("--queue NAME", run("enqueue", "--help").stdout)
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        first, libs = p.stdout.splitlines()[:2]
        self.assertRegex(first, r"^aep-batchd \d+\.\d+\.\d+ \(git [0-9a-f]{7,}(-dirty)?|unknown\)")
        for lib in ("Boost 1.", "OpenSSL 3", "yaml-cpp 0.", "libsystemd "):
            self.assertIn(lib, libs)

    def test_mistakes_exit_64_naming_the_option(self):
        cases = [
            (["--config"], "option '--config' needs a value"),
            (["enqueue", "--config"], "option '--config' needs a value"),
            (["--bogus"], "unknown option '--bogus'"),
            (["--check", "--once", "--config", "/x"], "--check and --once cannot be combined"),
            (["enqueue", "-abc"], "unknown option '-a'"),
            (["stray"], "unexpected argument 'stray'"),
        ]
        for args, message in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 64, (args, p.stderr))
            self.assertIn(message, p.stderr)
            self.assertIn("--help", p.stderr, "the message points at the help")

    def test_config_in_every_form_and_ids_after_the_double_dash(self):
        cfg = self.world.config(queues=["q"])
        q = self.world.spool("q")
        for form in (["--config", str(cfg)], [f"--config={cfg}"], ["-c", str(cfg)]):
            self.assertEqual(run(*form, "--check").returncode, 0, form)
        p = run("enqueue", f"--config={cfg}", "--", "-abc", "ds-2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.split()), 2)
        contents = sorted((q.path / "incoming" / n).read_text().strip() for n in q.names("incoming"))
        self.assertEqual(contents, ["-abc", "ds-2"])
        p = run("enqueue", "ds3", "-c", str(cfg))  # options after operands, as GNU tools allow
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(q.names("incoming")), 3)

    def test_without_config_the_packaged_path_is_used_and_named(self):
        if os.path.exists("/etc/aep-batchd/aep-batchd.yaml"):
            self.skipTest("this machine has the package's configuration")
        p = run("enqueue", "ds1")
        self.assertEqual(p.returncode, 78)
        self.assertIn("/etc/aep-batchd/aep-batchd.yaml", p.stderr)
        self.assertIn("give --config FILE", p.stderr)

    def test_bash_completes_commands_options_queues_and_failed_entries(self):
        script = os.path.join(os.path.dirname(__file__), "..", "..", "systemd",
                              "aep-batchd.bash-completion")
        main = "/usr/share/bash-completion/bash_completion"
        self.assertTrue(os.path.exists(main), "daemon/install-deps --tests installs bash-completion")
        cfg = self.world.config(queues=["prod", "dev"])
        q = self.world.spool("prod")
        q.drop("e1", "status-400")
        rc, log = self.world.run_once(cfg)
        self.assertEqual(rc, 65, log)
        bindir = self.world.dir / "bin"
        bindir.mkdir()
        (bindir / "aep-batchd").symlink_to(os.path.abspath(BATCHD))

        def complete(line):
            words = line.split(" ")
            prog = (f"source {main}; source {script}; COMP_WORDS=({' '.join(map(repr, words))}); "
                    f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
                    "_aep_batchd; printf '%s\\n' \"${COMPREPLY[@]}\"")
            p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"})
            return sorted(p.stdout.split())

        self.assertEqual(complete("aep-batchd re"), ["requeue"])
        self.assertEqual(complete("aep-batchd --ch"), ["--check"])
        self.assertEqual(complete("aep-batchd list --st"), ["--state"])
        self.assertEqual(complete("aep-batchd list --state f"), ["failed"])
        self.assertEqual(complete(f"aep-batchd status -c {cfg} --queue "), ["dev", "prod"])
        self.assertEqual(complete(f"aep-batchd requeue --config={cfg} e"), ["e1"])


if __name__ == "__main__":
    unittest.main()
