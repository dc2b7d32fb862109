"""python -m tools.mptest [substring]: the common tests under the MicroPython unix port.

Compiles the tree to .mpy (as it would be deployed) and runs each test module in its own
micropython process with the capped heap (more where a module says ``MPTEST_HEAP_KB = N``),
two at a time, then prints one summary line.
Host only (CPython).
"""
import os
import re
import subprocess
import sys

import tools
from tools.sim import mpbuild


def main(argv):
    heap = os.environ.get("HEAP", "128")
    only = argv[0] if argv else ""
    out, errors = mpbuild.build(trees=mpbuild.TEST_TREES)
    if errors:
        print("\n".join(errors))
        return 1
    names = sorted(f[:-4] for f in os.listdir(os.path.join(out, "tests", "common"))
                   if f.startswith("test_") and f.endswith(".mpy") and only in f)
    cwd = os.path.join(tools.ROOT, "build", "mpy-run")
    os.makedirs(cwd, exist_ok=True)
    raised = []

    def cmd(name):
        # a module may ask for more with a line "MPTEST_HEAP_KB = N" (whole-App tests)
        with open(os.path.join(tools.ROOT, "tests", "common", name + ".py")) as f:
            m = re.search(r"^MPTEST_HEAP_KB = (\d+)", f.read(), re.M)
        kb = max(int(heap), int(m.group(1)) if m else 0)
        if kb > int(heap):
            raised.append("%s %d" % (name, kb))
        return [mpbuild.micropython(), "-X", "heapsize=%dK" % kb, "-m", "tests.mprun", name]

    passed = failed = 0
    bad = []
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < 2:
            n = pending.pop(0)
            running.append((n, subprocess.Popen(cmd(n), cwd=cwd, env=mpbuild.env(out),
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                text=True)))
        n, p = running.pop(0)
        text, _ = p.communicate()
        m = re.search(r"MicroPython: (\d+) passed, (\d+) failed", text)
        if m is None or p.returncode not in (0, 1):
            failed += 1
            bad.append(n)
            print("== %s crashed (exit %s)\n%s" % (n, p.returncode, text[-3000:]))
            continue
        passed += int(m.group(1))
        failed += int(m.group(2))
        if int(m.group(2)):
            bad.append(n)
            print("== %s\n%s" % (n, "\n".join(ln for ln in text.splitlines() if not ln.startswith(("I ", "W ", "E ")))))
    print("MicroPython: %d passed, %d failed (tests/common, %d modules, heap %s KB%s)%s" % (
        passed, failed, len(names), heap, ("; " + ", ".join(raised)) if raised else "",
        (": " + ", ".join(bad)) if bad else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
