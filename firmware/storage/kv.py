"""Small JSON documents (configuration, local authorization list) saved atomically.

A document file is one ASCII header line and the JSON text::

    #kv1 <generation> <length> <crc32 hex>\\n{...json...}

The CRC-32 covers the header up to the CRC field and the JSON bytes, so a file cut at any
byte, or holding stale or flipped bytes, is rejected instead of half-read. The header
line keeps the file readable with ``cat``. A plain JSON object (a file deployed from the
host) loads as generation 0; the first save turns it into the framed form.

``save`` writes ``<path>.tmp`` and syncs it, moves the current file to ``<path>.bak``
(the previous generation) and renames the new one into place. ``load`` reads all three
names and returns the valid document with the highest generation, so whatever step a
power cut interrupts, the result is either the document of the last completed save or
the one being saved, never an error or a mix. A newer ``.tmp`` found by ``load`` is
renamed into place so the next save cannot overwrite it.
"""
import json
from binascii import crc32

from micropython import const

from firmware.storage import fs
from lib import log

_TAG = "kv"
_MAGIC = b"#kv1"
_MAX_HEADER = const(48)


class StoreError(ValueError):
    """A document the store cannot hold (not a dict, too large)."""


def _prefix(gen, n):
    return ("#kv1 %d %d " % (gen, n)).encode()


def encode(obj, gen):
    """The exact bytes ``save`` writes for ``obj`` at generation ``gen``."""
    body = json.dumps(obj).encode()
    pre = _prefix(gen, len(body))
    return pre + ("%08x\n" % crc32(body, crc32(pre))).encode() + body


def _plain(data):
    try:
        obj = json.loads(data.decode())
    except (ValueError, UnicodeError):
        return None
    return (0, obj) if isinstance(obj, dict) else None


def decode(data):
    """``(generation, dict)`` from file bytes, or None if they are not a whole document.

    A plain JSON object without the header (written by hand or deployed from the host)
    is accepted as generation 0, so any saved generation supersedes it. It has no CRC:
    it is trusted as deployed, and only a cut that leaves it unparseable is detected.
    """
    if not data:
        return None
    if data.lstrip()[:1] == b"{":
        return _plain(data)
    nl = data.find(b"\n", 0, _MAX_HEADER)
    if nl < 0:
        return None
    fields = data[:nl].split(b" ")
    if len(fields) != 4 or fields[0] != _MAGIC:
        return None
    try:
        gen = int(fields[1])
        n = int(fields[2])
        crc = int(fields[3], 16)
    except ValueError:
        return None
    if gen < 0 or n < 0 or len(data) != nl + 1 + n or len(fields[3]) != 8:
        return None
    body = memoryview(data)[nl + 1:]
    if crc32(body, crc32(_prefix(gen, n))) != crc:
        return None
    try:
        obj = json.loads(bytes(body).decode())
    except (ValueError, UnicodeError):
        return None
    if not isinstance(obj, dict):
        return None
    return gen, obj


class Store:
    """One JSON dict kept at ``path``, with its previous generation at ``path.bak``."""

    def __init__(self, path, max_bytes=16384):
        self.path = path
        self.max_bytes = max_bytes
        self._tmp = path + ".tmp"
        self._bak = path + ".bak"
        self._gen = 0
        self._main_ok = False
        self._known = False     # _gen/_main_ok reflect the files
        self.bad_files = 0      # candidate files found present but invalid
        self.fallbacks = 0      # loads served from the previous generation
        d = fs.dirname(path)
        if d:
            fs.makedirs(d)

    @property
    def generation(self):
        """Generation of the document last loaded or saved (0: none yet)."""
        return self._gen

    def _read(self, path):
        data = fs.read_file(path, self.max_bytes + _MAX_HEADER)
        if data is None:
            if fs.exists(path):
                self.bad_files += 1  # too large or unreadable
                return False
            return None
        got = decode(data)
        if got is None:
            self.bad_files += 1
            return False
        return got

    def load(self, default=None):
        """The newest valid document, or ``default`` when there is none."""
        main = self._read(self.path)
        tmp = self._read(self._tmp)
        bak = self._read(self._bak)
        self._main_ok = bool(main)
        best = None
        src = None
        for name, got in ((self.path, main), (self._tmp, tmp), (self._bak, bak)):
            if got and (best is None or got[0] > best[0]):
                best = got
                src = name
        self._gen = best[0] if best else 0
        self._known = True
        try:
            if src == self._tmp:
                # A save was cut after its new file was complete: finish it.
                self._publish()
            elif tmp is False:
                fs.remove_if_exists(self._tmp)
        except OSError as e:
            self._known = False
            log.warn(_TAG, "%s: cannot settle after cut save: %s", self.path, e)
        if best is None:
            if main is False:
                log.warn(_TAG, "%s: no valid generation, using default", self.path)
            return default
        if src == self._bak:
            self.fallbacks += 1
            log.warn(_TAG, "%s: main copy invalid, using previous generation", self.path)
        return best[1]

    def save(self, obj):
        """Write ``obj`` (a JSON-serialisable dict) durably; returns its generation."""
        if not isinstance(obj, dict):
            raise StoreError("not a dict")
        if not self._known:
            self.load()
        text = json.dumps(obj)
        if len(text) > self.max_bytes:
            raise StoreError("document too large")
        try:
            # MicroPython's dumps() writes repr() for what JSON cannot hold; such a
            # file would never load again, so refuse it here.
            json.loads(text)
        except ValueError:
            raise StoreError("not JSON-serialisable")
        body = text.encode()
        if len(body) > self.max_bytes:
            raise StoreError("document too large")
        gen = self._gen + 1
        pre = _prefix(gen, len(body))
        self._known = False  # until every step went through
        with open(self._tmp, "wb") as f:
            f.write(pre)
            f.write(("%08x\n" % crc32(body, crc32(pre))).encode())
            f.write(body)
            fs.sync_file(f)
        self._publish()
        self._gen = gen
        self._known = True
        return gen

    def _publish(self):
        # Keep the current file as the previous generation only if it is valid: a
        # corrupt main must not push the last good copy out of .bak.
        if self._main_ok:
            fs.replace(self.path, self._bak)
            self._main_ok = False
        fs.replace(self._tmp, self.path)
        fs.sync_dir(self.path)
        self._main_ok = True
