"""Shared helpers of the storage tests (no tests here): a per-test directory under /tmp
and a log capture, so the tests print nothing and leave nothing behind."""
import os
from binascii import hexlify

from firmware.storage import fs
from lib import log


class Sandbox:
    """``with Sandbox("tag") as sb:`` gives a fresh directory ``sb.dir``; log lines go to
    ``sb.logs`` (the first 16) and ``sb.log_count``."""

    def __init__(self, tag):
        self.dir = "/tmp/evse-test-%s-%s" % (tag, hexlify(os.urandom(6)).decode())
        self.logs = []
        self.log_count = 0

    def __enter__(self):
        fs.makedirs(self.dir)
        log.set_sink(self._sink)
        return self

    def __exit__(self, *exc):
        log.set_sink(None)
        fs.remove_tree(self.dir)
        return False

    def _sink(self, _ticks, lvl, tag, text):
        self.log_count += 1
        if len(self.logs) < 16:  # loops log thousands of lines; keep the heap small
            self.logs.append((lvl, tag, text))

    def path(self, *names):
        return fs.join(self.dir, *names)

    def clear(self):
        """Remove everything in the directory (between iterations of a loop)."""
        for name in os.listdir(self.dir):
            fs.remove_tree(fs.join(self.dir, name))


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def get(path):
    with open(path, "rb") as f:
        return f.read()


class Patch:
    """Replace ``obj.name`` for a ``with`` block (module attributes work on both runtimes)."""

    def __init__(self, obj, name, value):
        self.obj = obj
        self.name = name
        self.value = value
        self.old = None

    def __enter__(self):
        self.old = getattr(self.obj, self.name)
        setattr(self.obj, self.name, self.value)
        return self

    def __exit__(self, *exc):
        setattr(self.obj, self.name, self.old)
        return False


def _flush_only(f):
    f.flush()


def _no_dir_sync(_path):
    pass


class NoFsync:
    """Skip fsync() in loops of thousands of reopenings: they test the logic, and on a
    busy host each fsync can take milliseconds. (MicroPython has no fsync anyway.)"""

    def __enter__(self):
        self._a = Patch(fs, "sync_file", _flush_only).__enter__()
        self._b = Patch(fs, "sync_dir", _no_dir_sync).__enter__()
        return self

    def __exit__(self, *exc):
        self._b.__exit__()
        self._a.__exit__()
        return False
