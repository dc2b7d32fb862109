"""The Local Authorization List on flash: sorted fixed-size records searched in place,
so a list of 1000 idTags costs no heap.

File: the records (``tagrec``, sorted by key, no two alike), then a 16-byte trailer
``magic "LAL1" | listVersion u32 | count u32 | crc32 u32`` (the CRC covers the records
and the trailer's first 12 bytes). An update (full or differential) streams the old
list merged with the sorted changes into ``<path>.tmp``, syncs it and renames it into
place: a power cut leaves the old list or the new one, never a mix. At load, a file
whose size, trailer or CRC is wrong is not used (the list is then empty, version 0,
and the backend sends it again); a complete ``.tmp`` is only taken when the main file
is missing (FAT's rename is remove + rename).
"""
import struct
from binascii import crc32

from micropython import const

from lib import log
from firmware.ocpp import tagrec
from firmware.storage import fs

_TAG = "ocpp.list"
_REC = const(48)
_KEY = const(20)
_TRAILER = const(16)
_MAGIC = b"LAL1"
_CHUNK = const(8)  # records per read when checking the file


class TooLong(ValueError):
    """The update would make the list longer than allowed."""


def _read_full(f, mv):
    got = f.readinto(mv) or 0
    n = len(mv)
    while 0 < got < n:
        k = f.readinto(mv[got:])
        if not k:
            break
        got += k
    return got


def _read_rec(f, key, rest):
    return _read_full(f, key) == _KEY and _read_full(f, rest) == _REC - _KEY


class LocalList:
    """The list at ``path``: ``lookup(key)``, ``apply(...)``, ``version()``, ``count``."""

    def __init__(self, path):
        self.path = path
        self.tmp = path + ".tmp"
        self._buf = bytearray(_REC)
        self._mv = memoryview(self._buf)
        self._key = bytearray(_KEY)  # the key of a probed record (compared in place)
        self.count = 0
        self._version = 0
        self.bad_files = 0
        d = fs.dirname(path)
        if d:
            fs.makedirs(d)
        self._load()

    def version(self):
        """listVersion as GetLocalListVersion reports it (0: the list is empty)."""
        return self._version if self.count else 0

    def _check(self, path):
        """(version, count) of a complete, intact list file, else None."""
        n = fs.size(path)
        if n < 0:
            return None
        if n < _TRAILER or (n - _TRAILER) % _REC:
            self.bad_files += 1
            return None
        recs = (n - _TRAILER) // _REC
        chunk = bytearray(_REC * _CHUNK)
        mv = memoryview(chunk)
        crc = 0
        try:
            with open(path, "rb") as f:
                left = recs * _REC
                while left:
                    k = _REC * _CHUNK if left > _REC * _CHUNK else left
                    if _read_full(f, mv[:k]) != k:
                        return None
                    crc = crc32(mv[:k], crc)
                    left -= k
                if _read_full(f, mv[:_TRAILER]) != _TRAILER:
                    return None
        except OSError:
            self.bad_files += 1
            return None
        magic, version, count, want = struct.unpack_from("<4sIII", chunk, 0)
        if magic != _MAGIC or count != recs or crc32(mv[:12], crc) != want:
            self.bad_files += 1
            return None
        return version, count

    def _load(self):
        got = self._check(self.path)
        try:
            if got is None and not fs.exists(self.path):
                got = self._check(self.tmp)
                if got is not None:  # cut inside a FAT rename: finish it
                    fs.replace(self.tmp, self.path)
            else:
                fs.remove_if_exists(self.tmp)  # an update that never completed
        except OSError as e:
            log.warn(_TAG, "cannot settle %s: %s", self.tmp, e)
        if got is None:
            if fs.exists(self.path):
                log.warn(_TAG, "local list unreadable: empty until the backend sends it")
            got = (0, 0)
        self._version, self.count = got

    def lookup(self, k):
        """``(status, expiry_s, parentIdTag)`` of key ``k`` (``tagrec.key``), or None."""
        if not self.count or k is None:
            return None
        want = tagrec.padded(k)
        lo = 0
        hi = self.count - 1
        got = self._key
        try:
            with open(self.path, "rb") as f:
                while lo <= hi:
                    mid = (lo + hi) // 2
                    f.seek(mid * _REC)
                    if _read_full(f, got) != _KEY:
                        return None
                    if got == want:
                        f.seek(mid * _REC)
                        if _read_full(f, self._mv) != _REC:
                            return None
                        r = tagrec.unpack(self._buf)
                        return None if r is None else r[1:]
                    if got < want:
                        lo = mid + 1
                    else:
                        hi = mid - 1
        except OSError as e:
            log.warn(_TAG, "lookup failed: %s", e)
        return None

    def apply(self, full, version, changes, max_len):
        """Install an update: ``changes`` is a list of ``(key, idTagInfo or None)``
        sorted by key without duplicates (None removes the key). Raises TooLong or
        OSError; the installed list is unchanged then."""
        src = None
        left = 0 if full else self.count
        n = 0
        crc = 0
        # The old record in two pieces so that its key compares in place: the merge
        # allocates nothing per record.
        okey = bytearray(_KEY)
        orest = bytearray(_REC - _KEY)
        buf = self._buf
        try:
            with open(self.tmp, "wb") as out:
                if left:
                    src = open(self.path, "rb")
                have = left > 0 and _read_rec(src, okey, orest)
                i = -1
                new = None
                while True:
                    if new is None and i + 1 < len(changes):
                        i += 1
                        ck, info = changes[i]
                        new = tagrec.padded(ck)
                    elif new is None and not have:
                        break
                    if new is None or (have and okey < new):
                        out.write(okey)
                        out.write(orest)
                        crc = crc32(orest, crc32(okey, crc))
                        n += 1
                        left -= 1
                        have = left > 0 and _read_rec(src, okey, orest)
                    else:
                        if have and okey == new:  # replaced or removed
                            left -= 1
                            have = left > 0 and _read_rec(src, okey, orest)
                        if info is not None:
                            tagrec.pack_into(buf, 0, ck, info)
                            out.write(buf)
                            crc = crc32(buf, crc)
                            n += 1
                        new = None  # the next change
                    if n > max_len:
                        raise TooLong("more than %d idTags" % max_len)
                tr = struct.pack("<4sII", _MAGIC, version, n)
                out.write(tr)
                out.write(struct.pack("<I", crc32(tr, crc)))
                fs.sync_file(out)
        except BaseException:
            if src is not None:
                src.close()
            fs.remove_if_exists(self.tmp)
            raise
        if src is not None:
            src.close()
        fs.replace(self.tmp, self.path)
        fs.sync_dir(self.path)
        self._version = version
        self.count = n
        log.info(_TAG, "%s update: version %d, %d idTags", "full" if full else "differential",
                 version, n)
