import tools  # noqa: F401  (puts the MicroPython shims on sys.path for CPython)
