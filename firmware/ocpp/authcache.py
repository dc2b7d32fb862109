"""The Authorization Cache on flash: a fixed number of slots, each an idTag record
(``tagrec``) with a use stamp and its own CRC, updated in place.

Slot (56 bytes): record 48 | stamp u32 | crc32 u32 over the first 52 bytes. A write
cut half-way spoils only its own slot, which then reads as empty (a cache may forget).
A new idTag takes an empty slot, else one whose entry expired, else the one updated
least recently. Nothing is held in RAM but one slot buffer.
"""
import struct
from binascii import crc32

from micropython import const

from lib import log
from firmware.ocpp import tagrec
from firmware.storage import fs

_TAG = "ocpp.cache"
_REC = const(48)
_SLOT = const(56)
_KEY = const(20)


class AuthCache:
    """``slots`` idTags at ``path``: ``get(key, now_s)``, ``put(key, info)``, ``clear()``."""

    def __init__(self, path, slots=64):
        self.path = path
        self.slots = slots
        self._buf = bytearray(_SLOT)
        self._mv = memoryview(self._buf)
        self._stamp = 0
        d = fs.dirname(path)
        if d:
            fs.makedirs(d)
        for _i, _r, st in self._scan():
            if st > self._stamp:
                self._stamp = st

    def _scan(self):
        """Yield ``(slot, record, stamp)`` of every valid slot (record from unpack)."""
        if fs.size(self.path) < _SLOT:
            return
        mv = self._mv
        try:
            with open(self.path, "rb") as f:
                for i in range(self.slots):
                    if (f.readinto(mv) or 0) != _SLOT:
                        return
                    if crc32(mv[:52]) != struct.unpack_from("<I", mv, 52)[0]:
                        continue
                    r = tagrec.unpack(self._buf)
                    if r is not None:
                        yield i, r, struct.unpack_from("<I", mv, _REC)[0]
        except OSError as e:
            log.warn(_TAG, "read failed: %s", e)

    def get(self, k):
        """``(status, expiry_s, parentIdTag)`` cached for key ``k``, or None."""
        if k is None:
            return None
        g = self._scan()
        try:
            for _i, r, _st in g:
                if r[0] == k:
                    return r[1:]
        finally:
            g.close()  # closes the file now (MicroPython has no generator finaliser)
        return None

    def put(self, k, info, now_s=0):
        """Remember the idTagInfo the backend gave for key ``k``."""
        if k is None:
            return
        free = None
        old = None
        oldest = None
        used = bytearray(self.slots)
        g = self._scan()
        try:
            for i, r, st in g:
                used[i] = 1
                if r[0] == k:
                    free = i
                    break
                if old is None and r[2] and r[2] <= now_s:
                    old = i  # expired: the first to go
                if oldest is None or st < oldest[1]:
                    oldest = (i, st)
        finally:
            g.close()
        if free is None:
            for i in range(self.slots):
                if not used[i]:
                    free = i
                    break
        if free is None:
            free = old if old is not None else oldest[0]
        self._stamp += 1
        buf = self._buf
        tagrec.pack_into(buf, 0, k, info)
        struct.pack_into("<I", buf, _REC, self._stamp)
        struct.pack_into("<I", buf, 52, crc32(self._mv[:52]))
        try:
            self._write(free)
        except OSError as e:
            log.warn(_TAG, "write failed: %s", e)

    def _write(self, slot):
        n = fs.size(self.path)
        if n < self.slots * _SLOT:
            # First use (or a file cut short): every slot exists, the new ones empty
            # (a torn last slot fails its CRC).
            z = bytes(_SLOT)
            left = self.slots * _SLOT - max(n, 0)
            with open(self.path, "ab") as f:
                while left > 0:  # in small pieces: the heap may have no larger hole
                    f.write(z[:left] if left < _SLOT else z)
                    left -= _SLOT
                fs.sync_file(f)
        with open(self.path, "r+b") as f:
            f.seek(slot * _SLOT)
            f.write(self._buf)
            fs.sync_file(f)

    def clear(self):
        """ClearCache: forget every idTag."""
        fs.remove_if_exists(self.path)
        self._stamp = 0
