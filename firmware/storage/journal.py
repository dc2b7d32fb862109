"""Append-only record journal that survives a power cut at any byte.

File layout (all integers little-endian)::

    file header, 16 bytes: magic u16 | version u16 | next_seq u32 | kept u32 | crc32 u32
    record header, 12 bytes: magic u16 | length u16 | seq u32 | crc32 u32
    record payload: ``length`` bytes

The file header is only ever written into a temporary file that is renamed into place,
so a power cut cannot tear it. ``next_seq`` is the number the first appended record
gets; ``kept`` is how many records a compaction carried over (they have older numbers).
A record's CRC-32 covers its first 8 header bytes and its payload. The record magic
starts with 0xFE, a byte that never occurs in UTF-8 text, so JSON payloads cannot
contain something that looks like a record start.

A record is valid when its magic is right, its length is within ``max_record`` and the
file, its CRC matches and its sequence number is in order: the first ``kept`` records
increase and stay below ``next_seq``, every later one is above its predecessor and at
least ``next_seq``. The order check keeps stale bytes (blocks a filesystem hands back
after a cut, an old copy of this very journal) from being taken for new records.

Corruption policy: the journal keeps the valid prefix and drops everything from the
first invalid record on. A record is only trusted if everything before it is, so nothing
partial or out of order is ever returned, and appends always land right after the last
good record. An incomplete last record (a cut during an append, which therefore never
returned) counts as a torn tail; anything else (a flipped bit, garbage, stale data) as a
bad record. The dropped bytes are copied to ``<path>.lost`` (one generation, best
effort) and searched for intact records: their number goes into ``lost_records`` and
sequence numbering continues above the highest one found, so a number that was ever
handed out is not handed out again. ``firmware.storage.salvage`` reads such a file.

Intended use, e.g. the OCPP transaction queue: append each message; when the central
system confirms one, append a small "done <seq>" record; at boot replay ``records()``
to find what is still pending; when :meth:`Journal.over_limit` says so, ``compact()``
keeping only pending messages (their sequence numbers do not change).
"""
import struct
from binascii import crc32

from micropython import const

from firmware.storage import fs
from lib import log

_TAG = "journal"

_FILE_MAGIC = const(0x4A56)
_VERSION = const(1)
_REC_MAGIC = const(0xA5FE)
_FHDR = const(16)
_HDR = const(12)
_CHUNK = const(256)
_MAX_LEN = const(0xFFFF)
_SEQ_MASK = const(0xFFFFFFFF)

_FHDR_FMT = "<HHIII"
_REC_FMT = "<HHII"

# Result of probing one record.
_OK = const(0)
_TORN = const(1)
_BAD = const(2)


class JournalError(ValueError):
    """A payload or setting the journal cannot take (record too long)."""


def _read_full(f, mv):
    """readinto until ``mv`` is full or the file ends; the number of bytes read."""
    got = f.readinto(mv)
    n = len(mv)
    while got and got < n:
        k = f.readinto(mv[got:])
        if not k:
            break
        got += k
    return got or 0


class _Bufs:
    """The scratch buffers one reader/writer reuses for every record."""

    def __init__(self):
        self.hdr = bytearray(_HDR)
        self.hmv = memoryview(self.hdr)
        self.hmv8 = self.hmv[0:8]
        self.chunk = bytearray(_CHUNK)
        self.cmv = memoryview(self.chunk)

    def seal(self, n, seq, payload):
        """Fill ``hdr`` for a record holding ``payload``."""
        struct.pack_into(_REC_FMT, self.hdr, 0, _REC_MAGIC, n, seq, 0)
        struct.pack_into("<I", self.hdr, 8, crc32(payload, crc32(self.hmv8)))

    def probe(self, f, off, size, max_record):
        """Check the record at ``off`` of a file of ``size`` bytes: (status, seq, n)."""
        left = size - off
        if left < _HDR:
            return _TORN, 0, 0
        f.seek(off)
        if _read_full(f, self.hmv) != _HDR:
            return _TORN, 0, 0
        magic, n, seq, crc = struct.unpack_from(_REC_FMT, self.hdr, 0)
        if magic != _REC_MAGIC or n > max_record:
            return _BAD, seq, n
        if _HDR + n > left:
            return _TORN, seq, n
        c = crc32(self.hmv8)
        cmv = self.cmv
        todo = n
        while todo:
            part = cmv if todo >= _CHUNK else cmv[0:todo]
            if _read_full(f, part) != len(part):
                return _TORN, seq, n
            c = crc32(part, c)
            todo -= len(part)
        return (_OK if c == crc else _BAD), seq, n


class Journal:
    """Durable append-only list of byte records, each with a sequence number.

    ``max_bytes`` is the size past which :meth:`over_limit` asks the owner to compact;
    ``max_record`` bounds one payload (at most 65535) and so the read buffer. One
    writer only; do not append or compact while consuming a :meth:`records` generator.
    Sequence numbers are 32-bit and not expected to wrap.
    """

    def __init__(self, path, max_bytes=16384, max_record=4096):
        if max_record < 0 or max_record > _MAX_LEN:
            raise JournalError("max_record out of range")
        self.path = path
        self.max_bytes = max_bytes
        self.max_record = max_record
        self._tmp = path + ".tmp"
        self._lost = path + ".lost"
        self._b = _Bufs()
        # diagnostics; the journal never resets them
        self.torn_tails = 0
        self.bad_records = 0
        self.lost_bytes = 0
        self.lost_records = 0
        self.repairs = 0
        self.compactions = 0
        self._end = _FHDR      # offset just past the last valid record
        self._count = 0
        self._next = 0
        self._dirty = False    # the file holds bytes past _end, or a bad header
        self._limit = max_bytes
        self._open()

    # -- public API -------------------------------------------------------------

    @property
    def next_seq(self):
        """Sequence number the next :meth:`append` will return."""
        return self._next

    @property
    def size(self):
        """Bytes of valid data in the file (file header included)."""
        return self._end

    def __len__(self):
        return self._count

    def over_limit(self):
        """True when the file has grown past ``max_bytes`` and wants a :meth:`compact`.

        After a compaction that could not get below ``max_bytes`` (everything still
        live) the threshold moves up by a quarter of ``max_bytes`` so that the next
        append does not trigger another full copy.
        """
        return self._end > self._limit

    def append(self, payload):
        """Write one record and sync it; returns its sequence number.

        Once this returns, the record survives a power cut. If it raises (medium full,
        I/O error) the record may or may not be there after a reboot, and the journal
        rewrites its valid prefix before the next append.
        """
        n = len(payload)
        if n > self.max_record:
            raise JournalError("record too long")
        if self._dirty:
            self._repair()
        seq = self._next
        b = self._b
        b.seal(n, seq, payload)
        try:
            with open(self.path, "ab") as f:
                f.write(b.hdr)
                if n:
                    f.write(payload)
                fs.sync_file(f)
        except BaseException:
            self._dirty = True
            raise
        self._end += _HDR + n
        self._count += 1
        self._next = (seq + 1) & _SEQ_MASK
        return seq

    def records(self, view=False):
        """Yield ``(seq, payload)`` for every valid record, oldest first.

        Payloads are ``bytes``; with ``view=True`` they are memoryviews into one reused
        buffer, valid only until the generator is resumed. Records appended after the
        generator started are not included. A record that went bad since the journal
        was opened ends the iteration and is treated like a bad record found at open.
        The file stays open until the generator ends: call ``close()`` on it when
        stopping early (MicroPython does not close abandoned generators).
        """
        end = self._end
        if end <= _FHDR:
            return
        hdr = bytearray(_HDR)
        hmv = memoryview(hdr)
        hmv8 = hmv[0:8]
        buf = bytearray(64)
        mv = memoryview(buf)
        off = _FHDR
        idx = 0
        with open(self.path, "rb") as f:
            f.seek(_FHDR)
            while off < end:
                ok = off + _HDR <= end and _read_full(f, hmv) == _HDR
                if ok:
                    magic, n, seq, crc = struct.unpack_from(_REC_FMT, hdr, 0)
                    ok = magic == _REC_MAGIC and n <= self.max_record and off + _HDR + n <= end
                if ok:
                    if n > len(buf):
                        buf = bytearray(max(n, 2 * len(buf)))
                        mv = memoryview(buf)
                    p = mv[0:n]
                    ok = _read_full(f, p) == n and crc32(p, crc32(hmv8)) == crc
                if not ok:
                    # Went bad after open: cut here as open would, so appends stay
                    # reachable after the next reboot.
                    self.bad_records += 1
                    log.warn(_TAG, "%s: record at %d went bad", self.path, off)
                    self._end = off
                    self._count = idx
                    self._dirty = True
                    return
                off += _HDR + n
                idx += 1
                yield seq, (p if view else bytes(p))

    def compact(self, keep):
        """Atomically drop the records for which ``keep(seq, payload)`` is false.

        Kept records keep their sequence numbers and numbering continues where it was.
        Needs free space for a copy of the kept records. Returns how many were kept.
        """
        def kept():
            for seq, payload in self.records():
                if keep(seq, payload):
                    yield seq, payload

        self.compactions += 1
        return self._replace(kept(), True)

    def rewrite(self, payloads):
        """Atomically replace the whole content with ``payloads`` (an iterable of bytes).

        They get fresh consecutive sequence numbers from :attr:`next_seq` on; the first
        is returned. ``rewrite(())`` empties the journal.
        """
        first = self._next

        def numbered():
            seq = first
            for payload in payloads:
                yield seq, payload
                seq = (seq + 1) & _SEQ_MASK

        self.compactions += 1
        self._replace(numbered(), False)
        return first

    def stats(self):
        """Counters and sizes, for logs and the status page."""
        return {
            "records": self._count,
            "bytes": self._end,
            "next_seq": self._next,
            "torn_tails": self.torn_tails,
            "bad_records": self.bad_records,
            "lost_bytes": self.lost_bytes,
            "lost_records": self.lost_records,
            "repairs": self.repairs,
            "compactions": self.compactions,
        }

    # -- opening and repair -----------------------------------------------------

    def _open(self):
        d = fs.dirname(self.path)
        if d:
            fs.makedirs(d)
        if not fs.exists(self.path):
            if fs.exists(self._tmp):
                # Cut between writing a replacement and renaming it in (a brand-new
                # journal, or FAT's remove-then-rename): the replacement is all there is.
                fs.replace(self._tmp, self.path)
            else:
                self._replace((), False)
                return
        else:
            # An unfinished replacement; the main file is still authoritative.
            fs.remove_if_exists(self._tmp)
        self._scan()
        if self._dirty:
            try:
                self._repair()
            except OSError as e:
                # Reading still works from the valid prefix; append() tries again.
                log.error(_TAG, "%s: repair failed: %s", self.path, e)

    def _scan(self):
        size = fs.size(self.path)
        b = self._b
        end = _FHDR
        count = 0
        prev = -1
        status = _OK
        with open(self.path, "rb") as f:
            hdr_next = 0
            kept = 0
            fh = b.cmv[0:_FHDR]
            ok = _read_full(f, fh) == _FHDR
            if ok:
                magic, ver, hdr_next, kept, crc = struct.unpack_from(_FHDR_FMT, fh, 0)
                ok = magic == _FILE_MAGIC and ver == _VERSION and crc32(b.cmv[0:12]) == crc
            if not ok:
                # Only a filesystem without atomic rename can show a short header.
                if size >= _FHDR:
                    self.bad_records += 1
                else:
                    self.torn_tails += 1
                log.warn(_TAG, "%s: bad file header", self.path)
                hdr_next = 0
                kept = 0
            while end < size:
                status, seq, n = b.probe(f, end, size, self.max_record)
                if status != _OK:
                    break
                # Kept records sit below the header's next_seq, appended ones at or above.
                in_order = seq > prev and (not ok or (seq < hdr_next) == (count < kept))
                if not in_order:
                    status = _BAD
                    break
                end += _HDR + n
                count += 1
                prev = seq
            nxt = prev + 1
            if hdr_next > nxt:
                nxt = hdr_next
            lost = size - end if size > end else 0
            if lost:
                # Intact records past the damage: keep their numbers from being reused,
                # and a "torn tail" followed by them was in fact damage. (Imported here:
                # only a damaged file needs it, and RAM for code is scarce.)
                from firmware.storage.salvage import resync

                for _off, seq, _n in resync(b, f, end, size, self.max_record):
                    self.lost_records += 1
                    status = _BAD
                    if seq + 1 > nxt:
                        nxt = seq + 1
        self._end = end
        self._count = count
        self._next = nxt & _SEQ_MASK
        self._dirty = lost > 0 or not ok or count < kept
        if lost:
            if status == _TORN:
                self.torn_tails += 1
            else:
                self.bad_records += 1
            self.lost_bytes += lost
            log.warn(_TAG, "%s: dropped %d bytes after record %d (%s)", self.path, lost,
                     count, "torn tail" if status == _TORN else "bad record")

    def _repair(self):
        """Rewrite the valid prefix into a fresh file (there is no truncate())."""
        size = fs.size(self.path)
        if size > self._end:
            self._save_lost(self._end, size)
        tmp = self._tmp
        with open(self.path, "rb") as src:
            with open(tmp, "wb") as dst:
                # A fresh header: every record left is below next_seq, so all count as
                # kept, and the old one may promise kept records that are gone.
                self._write_file_header(dst, self._next, self._count)
                self._copy(src, dst, _FHDR, self._end)
                fs.sync_file(dst)
        fs.replace(tmp, self.path)
        fs.sync_dir(self.path)
        self._dirty = False
        self.repairs += 1

    def _save_lost(self, start, stop):
        try:
            stop = min(stop, start + max(self.max_bytes, self.max_record + _HDR))
            with open(self.path, "rb") as src:
                with open(self._lost, "wb") as dst:
                    self._copy(src, dst, start, stop)
                    fs.sync_file(dst)
        except OSError as e:
            log.warn(_TAG, "%s: cannot keep lost bytes: %s", self.path, e)

    def _copy(self, src, dst, start, stop):
        src.seek(start)
        cmv = self._b.cmv
        left = stop - start
        while left > 0:
            part = cmv if left >= _CHUNK else cmv[0:left]
            if _read_full(src, part) != len(part):
                raise OSError(5)  # EIO: the file shrank under us
            dst.write(part)
            left -= len(part)

    # -- replacing the content --------------------------------------------------

    def _write_file_header(self, f, next_seq, kept):
        b = self._b
        struct.pack_into(_FHDR_FMT, b.chunk, 0, _FILE_MAGIC, _VERSION, next_seq, kept, 0)
        struct.pack_into("<I", b.chunk, 12, crc32(b.cmv[0:12]))
        f.write(b.cmv[0:_FHDR])

    def _replace(self, items, keeps_old):
        """Write ``(seq, payload)`` items to the temp file and rename it over the journal.

        ``keeps_old``: the items are existing records (numbered below next_seq) and their
        count goes into the header; otherwise they are new numbers from next_seq on.
        """
        tmp = self._tmp
        next_seq = self._next
        end = _FHDR
        count = 0
        last = -1
        b = self._b
        try:
            with open(tmp, "wb") as f:
                f.write(bytes(_FHDR))  # placeholder, invalid until the real one is in
                for seq, payload in items:
                    n = len(payload)
                    if n > self.max_record:
                        raise JournalError("record too long")
                    b.seal(n, seq, payload)
                    f.write(b.hdr)
                    if n:
                        f.write(payload)
                    end += _HDR + n
                    count += 1
                    last = seq
                f.seek(0)
                self._write_file_header(f, next_seq, count if keeps_old else 0)
                fs.sync_file(f)
        except BaseException:
            # The journal itself is untouched; leave no half replacement behind.
            try:
                fs.remove_if_exists(tmp)
            except OSError:
                pass
            raise
        fs.replace(tmp, self.path)
        fs.sync_dir(self.path)
        self._end = end
        self._count = count
        if not keeps_old and count:
            self._next = (last + 1) & _SEQ_MASK
        self._dirty = False
        self._limit = self.max_bytes
        if end > self.max_bytes:
            self._limit = end + self.max_bytes // 4
        return count
