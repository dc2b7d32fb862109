"""Tests in the common subset: pytest runs them under CPython and ``tests/mprun.py``
runs them under the MicroPython unix port. Plain ``test_*`` functions and asserts only."""
