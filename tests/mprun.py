"""Runs tests/common under the MicroPython unix port (pytest runs them under CPython).

Usage: micropython -m tests.mprun [substring]      (from a tree of sources or of .mpy)
Each test module is imported only if it matches, and dropped again after its tests, so
the heap holds one test module at a time. Prints one block per failure and a summary
line that ``make test`` reports.
"""
import gc
import os
import sys


def _modules(only):
    import tests.common

    here = tests.common.__file__.rsplit("/", 1)[0] if "/" in tests.common.__file__ else "."
    names = []
    for fname in os.listdir(here):
        base, _, ext = fname.rpartition(".")
        if base.startswith("test_") and ext in ("py", "mpy") and base not in names:
            names.append(base)
    names.sort()
    return [n for n in names if not only or only in n or n in only]


def main(argv):
    only = argv[1] if len(argv) > 1 else ""
    passed = failed = 0
    for base in _modules(only.split("::")[0]):
        modname = "tests.common." + base
        try:
            mod = __import__(modname, None, None, ("x",))
        except Exception as e:
            failed += 1
            print("ERROR importing", modname)
            sys.print_exception(e)
            continue
        for attr in sorted(dir(mod)):
            full = modname + "::" + attr
            if not attr.startswith("test_") or (only and only not in full and only not in base):
                continue
            try:
                getattr(mod, attr)()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL", full)
                sys.print_exception(e)
        mod = None
        sys.modules.pop(modname, None)
        gc.collect()
    print("MicroPython: %d passed, %d failed (tests/common)" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv))
