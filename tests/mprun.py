"""Runs tests/common under the MicroPython unix port (pytest runs them under CPython).

Usage: micropython tests/mprun.py [substring]
Prints one line per failure and a summary line that make test reports.
"""
import os
import sys

sys.path.insert(0, ".")


def main(argv):
    only = argv[1] if len(argv) > 1 else ""
    passed = failed = 0
    names = sorted(n for n in os.listdir("tests/common") if n.startswith("test_") and n.endswith(".py"))
    for fname in names:
        modname = "tests.common." + fname[:-3]
        try:
            mod = __import__(modname, None, None, ("x",))
        except Exception as e:
            failed += 1
            print("ERROR importing", modname)
            sys.print_exception(e)
            continue
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            full = modname + "::" + attr
            if only and only not in full:
                continue
            try:
                getattr(mod, attr)()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL", full)
                sys.print_exception(e)
    print("MicroPython: %d passed, %d failed (tests/common)" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv))
