"""Finding intact journal records in damaged data (a journal after a bad record, or its
``.lost`` file). Kept out of ``journal`` because only damage needs it.
"""
from firmware.storage import fs
from firmware.storage.journal import _Bufs, _read_full

_HDR = 12
_CHUNK = 256
_OK = 0
_MAGIC = b"\xfe\xa5"  # the record magic 0xA5FE, little-endian


def resync(b, f, start, stop, max_record):
    """Yield ``(offset, seq, n)`` of every intact record in [start, stop) of file ``f``.

    ``b`` is a journal's ``_Bufs``. Between intact records it moves on byte by byte, so
    garbage of any length is skipped.
    """
    pos = start
    while pos + _HDR <= stop:
        f.seek(pos)
        k = stop - pos
        if k > _CHUNK:
            k = _CHUNK
        k = _read_full(f, b.cmv[0:k])
        if k < _HDR:
            return
        i = b.chunk.find(_MAGIC, 0, k)
        if i < 0:
            pos += k - 1  # the magic may straddle the window
            continue
        cand = pos + i
        st, seq, n = b.probe(f, cand, stop, max_record)
        if st == _OK:
            yield cand, seq, n
            pos = cand + _HDR + n
        else:
            pos = cand + 1


def scan(path, max_record=0xFFFF):
    """Yield ``(seq, payload)`` of every intact record anywhere in the file ``path``.

    No order check: the caller decides what to believe (for diagnosis and recovery
    tools, not for the journal's normal reading).
    """
    size = fs.size(path)
    if size < _HDR:
        return
    b = _Bufs()
    with open(path, "rb") as f:
        for off, seq, n in resync(b, f, 0, size, max_record):
            f.seek(off + _HDR)
            yield seq, f.read(n)
