"""Network membership key (NMK) and network identifier (NID) for a SLAC session.

HomePlug AV derives the NID from the NMK: SHA-256 of the NMK, re-hashed four more times
(PBKDF1 style, no salt); the first 52 bits of the digest, followed by the 2-bit security
level (0 = simple connect), make the 54-bit NID, sent as 7 bytes with the level in bits 4-5
of the last byte.
"""
import hashlib

try:
    from os import urandom as _urandom
except ImportError:  # ports without os.urandom
    _urandom = None

NMK_LEN = 16
NID_LEN = 7
_REHASH = 4
SECURITY_SIMPLE_CONNECT = 0


def random_bytes(n):
    """n random bytes from the platform's generator (hardware RNG on the boards)."""
    if _urandom is not None:
        return _urandom(n)
    import random

    return bytes(random.getrandbits(8) for _ in range(n))


def new_nmk(rng=None):
    """A fresh random NMK; ``rng(n)`` overrides the generator (tests)."""
    return bytes((rng or random_bytes)(NMK_LEN))


def nid_from_nmk(nmk, level=SECURITY_SIMPLE_CONNECT):
    """The 7-byte NID HomePlug AV derives from ``nmk`` at security ``level`` (0-3)."""
    if len(nmk) != NMK_LEN:
        raise ValueError("NMK must be 16 bytes")
    d = hashlib.sha256(bytes(nmk)).digest()
    i = 0
    while i < _REHASH:
        d = hashlib.sha256(d).digest()
        i += 1
    nid = bytearray(d[:NID_LEN])
    nid[NID_LEN - 1] = (nid[NID_LEN - 1] >> 4) | ((level & 3) << 4)
    return bytes(nid)
