"""One idTag entry (idTag, idTagInfo) as a fixed 48-byte record, shared by the local
authorization list and the authorization cache files::

    key 20s | parentIdTag 20s | expiry u32 (Unix s, 0: none) | status u8 | 3 bytes zero

``key`` is the idTag's bytes in upper case (IdToken is a CiString: compared without
case), NUL-padded; ``status`` is 1 + the index in STATUSES (0: an empty slot).
"""
import struct

from micropython import const

from firmware.ocpp import timefmt

REC = const(48)
_FMT = "<20s20sIB3x"
_TAG_MAX = const(20)
_U32 = const(0xFFFFFFFF)

ACCEPTED = "Accepted"
EXPIRED = "Expired"
STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")

# idTagInfo as a schema table (Authorize, StartTransaction, StopTransaction, SendLocalList).
ID_TAG_INFO = {"status": ("e!", STATUSES), "expiryDate": ("t",), "parentIdTag": ("s", 20)}


def key(tag):
    """The record key of an idTag (bytes), or None if it cannot be one (empty, NUL,
    longer than 20 bytes)."""
    if type(tag) is not str:
        return None
    b = tag.encode()
    if not b or len(b) > _TAG_MAX or b"\x00" in b:
        return None
    return b.upper()


def expiry_s(info):
    """idTagInfo's expiryDate as Unix seconds clamped to u32 (0: none or unreadable)."""
    t = info.get("expiryDate")
    if not t:
        return 0
    try:
        s = timefmt.parse(t)
    except ValueError:
        return 0
    return 1 if s < 1 else (_U32 if s > _U32 else s)


def pack_into(buf, off, k, info):
    """Write the record of key ``k`` with ``info`` (an idTagInfo dict) at ``buf[off:]``."""
    p = info.get("parentIdTag") or ""
    pb = p.encode()
    if len(pb) > _TAG_MAX:
        pb = b""
    struct.pack_into(_FMT, buf, off, k, pb, expiry_s(info), STATUSES.index(info["status"]) + 1)


def unpack(buf, off=0):
    """``(key, status, expiry_s, parentIdTag or None)`` of the record at ``buf[off:]``,
    or None for an empty or unreadable slot."""
    k, p, exp, st = struct.unpack_from(_FMT, buf, off)
    if not 1 <= st <= len(STATUSES):
        return None
    p = p.rstrip(b"\x00")
    try:
        parent = p.decode() if p else None
    except UnicodeError:
        parent = None
    return k.rstrip(b"\x00"), STATUSES[st - 1], exp, parent


def padded(k):
    """The 20 key bytes as stored (for comparing with a record's first 20 bytes)."""
    return k + bytes(_TAG_MAX - len(k))
