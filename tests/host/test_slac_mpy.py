"""The whole SLAC matchings of tests/common/test_slac_match.py under the MicroPython unix
port with *both* sides on QCA7000 register models + drivers (SLAC_QCA=1).

CPython-only: it compiles the tree and starts micropython with a 256 KB heap, because two
complete modem models, two drivers and both SLAC sides in one process do not fit the
suite's 128 KB (a device runs one driver and one SLAC side). In the 128 KB suite the same
module runs with DirectPorts instead (see its docstring).
"""
import os
import re
import subprocess

import tools
from tools.sim import mpbuild


def test_slac_match_over_qca_models_under_micropython():
    out, errors = mpbuild.build(trees=mpbuild.TEST_TREES)
    assert not errors, errors
    cwd = os.path.join(tools.ROOT, "build", "mpy-run")
    os.makedirs(cwd, exist_ok=True)
    env = mpbuild.env(out)
    env["SLAC_QCA"] = "1"
    r = subprocess.run([mpbuild.micropython(), "-X", "heapsize=256K", "-m", "tests.mprun",
                        "test_slac_match"], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    m = re.search(r"MicroPython: (\d+) passed, (\d+) failed", r.stdout)
    assert m is not None, r.stdout[-3000:] + r.stderr[-2000:]
    assert int(m.group(1)) >= 6 and int(m.group(2)) == 0, r.stdout[-3000:]
