"""Ethernet II header and MAC address helpers."""
from micropython import const

HDR = const(14)
ETH_IPV6 = const(0x86DD)
ETH_HOMEPLUG = const(0x88E1)
MAX_FRAME = const(1514)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"


def parse_mac(text):
    """'02:00:00:00:0f:01' (or with '-') -> 6 bytes; ValueError when malformed."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC %r" % text)
    out = bytearray(6)
    for i in range(6):
        p = parts[i]
        if not 1 <= len(p) <= 2:
            raise ValueError("bad MAC %r" % text)
        out[i] = int(p, 16)
    return bytes(out)


def mac_str(mac, off=0):
    return ":".join("%02x" % mac[off + i] for i in range(6))


def ethertype(buf):
    return (buf[12] << 8) | buf[13]


def is_multicast(buf, off=0):
    return buf[off] & 1


def write_header(buf, dst, src, etype):
    """Fill the 14-byte header at the start of ``buf``; returns the header length."""
    buf[0:6] = dst
    buf[6:12] = src
    buf[12] = etype >> 8
    buf[13] = etype & 0xFF
    return HDR


def same(buf, off, ref, n):
    """True when buf[off:off+n] equals ref[:n] (no slice allocated)."""
    for i in range(n):
        if buf[off + i] != ref[i]:
            return False
    return True
