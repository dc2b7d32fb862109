"""Path and file helpers that behave the same on CPython, the unix port and littlefs.

MicroPython has no ``os.path``, no ``shutil`` and no file ``truncate()``; these are the
few pieces the storage modules need, written against the common ``os`` subset.
"""
import os

_S_IFDIR = 0x4000
_ENOENT = 2
_EEXIST = 17


def join(base, *parts):
    """Join path pieces with "/" (the separator of every target we run on)."""
    out = base
    for p in parts:
        if not p:
            continue
        if p[0] == "/" or not out:
            out = p
        elif out[-1] == "/":
            out = out + p
        else:
            out = out + "/" + p
    return out


def dirname(path):
    """Everything before the last "/" ("" for a bare name, "/" for a file in the root)."""
    i = path.rfind("/")
    if i < 0:
        return ""
    if i == 0:
        return "/"
    return path[:i]


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def exists(path):
    return _stat(path) is not None


def isdir(path):
    st = _stat(path)
    return st is not None and (st[0] & _S_IFDIR) != 0


def size(path):
    """Size of the file in bytes, or -1 when it does not exist."""
    st = _stat(path)
    return -1 if st is None else st[6]


def makedirs(path):
    """Create ``path`` and any missing parents; an existing directory is fine."""
    if not path or isdir(path):
        return
    parent = dirname(path)
    if parent and parent != path:
        makedirs(parent)
    try:
        os.mkdir(path)
    except OSError as e:
        if e.args[0] != _EEXIST or not isdir(path):
            raise


def remove_if_exists(path):
    """Remove a file; True if it was there. Other errors (e.g. a directory) propagate."""
    try:
        os.remove(path)
        return True
    except OSError as e:
        if e.args[0] == _ENOENT:
            return False
        raise


def remove_tree(path):
    """Remove a file or a directory with everything below it (no error if missing)."""
    if not isdir(path):
        remove_if_exists(path)
        return
    for name in os.listdir(path):
        remove_tree(join(path, name))
    os.rmdir(path)


def replace(src, dst):
    """Rename ``src`` over ``dst``.

    Atomic on POSIX and littlefs. FAT refuses to rename onto an existing name, so there
    the old ``dst`` is removed first; callers tolerate that window by recovering from
    ``src`` when ``dst`` is missing.
    """
    try:
        os.rename(src, dst)
        return
    except OSError as e:
        if e.args[0] != _EEXIST or not exists(src):
            raise
    os.remove(dst)
    os.rename(src, dst)


def sync_file(f):
    """Flush a file opened for writing down to the medium, as far as the runtime allows.

    On littlefs, flush() commits the file. On a host filesystem fsync() is needed for the
    data to be durable before a rename publishes it.
    """
    f.flush()
    fsync = getattr(os, "fsync", None)
    if fsync is not None:
        try:
            fsync(f.fileno())
            return
        except (AttributeError, OSError):
            pass
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


def sync_dir(path):
    """Make a rename in the directory of ``path`` durable (host only; no-op elsewhere)."""
    opener = getattr(os, "open", None)
    fsync = getattr(os, "fsync", None)
    if opener is None or fsync is None:
        return
    try:
        fd = opener(dirname(path) or ".", getattr(os, "O_RDONLY", 0))
    except OSError:
        return
    try:
        fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_file(path, limit=-1):
    """The whole file as bytes, None if missing or larger than ``limit`` (when >= 0)."""
    n = size(path)
    if n < 0 or (limit >= 0 and n > limit):
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
