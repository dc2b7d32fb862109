"""Host tools. Importing this package under CPython makes the device code importable:
it puts the MicroPython stand-ins (``lib/cpython``) and the project root on sys.path.
Parts of ``tools.sim`` also run under MicroPython, where this does nothing."""
import sys

if sys.implementation.name != "micropython":
    import os

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _p in (os.path.join(ROOT, "lib", "cpython"), ROOT):
        if _p not in sys.path:
            sys.path.insert(0, _p)
