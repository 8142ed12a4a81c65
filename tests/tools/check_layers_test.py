"""The layering check (tests/tools/check-layers): passes on src/, and fails on a copy of src/
with an include that points upwards, a bare include and a stray file (a negative control)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check-layers")
SRC = os.path.normpath(os.path.join(HERE, "..", "..", "src"))


def run(src):
    return subprocess.run([sys.executable, CHECK, src], capture_output=True, text=True)


class CheckLayers(unittest.TestCase):
    def test_src_is_layered(self):
        r = run(SRC)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_wrong_includes_fail(self):
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "src")
            shutil.copytree(SRC, copy)
            with open(os.path.join(copy, "io", "spool.cpp"), "a") as f:
                f.write('\n#include "app/daemon.hpp"\n#include "entry.hpp"\n')
            with open(os.path.join(copy, "stray.cpp"), "w") as f:
                f.write("")
            r = run(copy)
            self.assertEqual(r.returncode, 1)
            self.assertIn('src/io/spool.cpp', r.stdout)
            self.assertIn('io/ may not include app/, a higher layer', r.stdout)
            self.assertIn('#include "entry.hpp" must name its layer folder', r.stdout)
            self.assertIn('src/stray.cpp: every source file belongs in a layer folder', r.stdout)
            self.assertEqual(len(r.stdout.strip().splitlines()), 3, r.stdout)


if __name__ == "__main__":
    unittest.main()
