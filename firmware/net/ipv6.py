"""IPv6 header, addresses and the Internet checksum."""
from micropython import const

HDR = const(40)
NH_HBH = const(0)
NH_TCP = const(6)
NH_UDP = const(17)
NH_ROUTING = const(43)
NH_FRAG = const(44)
NH_ICMP = const(58)
NH_NONE = const(59)
NH_DSTOPT = const(60)

UNSPECIFIED = bytes(16)
ALL_NODES = b"\xff\x02" + bytes(13) + b"\x01"
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"


def link_local_from_mac(mac):
    """fe80::/64 with the modified EUI-64 interface id of a 48-bit MAC (RFC 4291 app. A)."""
    return (b"\xfe\x80" + bytes(6) + bytes((mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE,
                                            mac[3], mac[4], mac[5])))


def solicited_node(addr):
    """ff02::1:ffXX:XXXX for ``addr`` (RFC 4291 2.7.1)."""
    return b"\xff\x02" + bytes(9) + b"\x01\xff" + bytes(addr[13:16])


def multicast_mac(addr, off=0):
    """33:33 + low 32 bits of a multicast address (RFC 2464 7)."""
    return b"\x33\x33" + bytes((addr[off + 12], addr[off + 13], addr[off + 14], addr[off + 15]))


def is_multicast(buf, off):
    return buf[off] == 0xFF


def is_unspecified(buf, off):
    for i in range(16):
        if buf[off + i]:
            return False
    return True


def addr_str(buf, off=0):
    """Compact text of an address (no '::' compression beyond zero groups; for logs)."""
    groups = ["%x" % ((buf[off + i] << 8) | buf[off + i + 1]) for i in range(0, 16, 2)]
    text = ":".join(groups)
    # Collapse the longest run of zero groups, enough for readable logs.
    best = None
    for run in (":0:0:0:0:0:0:", ":0:0:0:0:0:", ":0:0:0:0:", ":0:0:0:", ":0:0:"):
        if run in text:
            best = run
            break
    if best:
        text = text.replace(best, "::", 1)
    return text


def parse_addr(text):
    """Text IPv6 address (with optional %zone) -> 16 bytes; ValueError when malformed."""
    text = text.split("%")[0]
    if text.count("::") > 1:
        raise ValueError("bad IPv6 address")
    if "::" in text:
        head, tail = text.split("::")
        h = [p for p in head.split(":") if p] if head else []
        t = [p for p in tail.split(":") if p] if tail else []
        if len(h) + len(t) > 7:
            raise ValueError("bad IPv6 address")
        parts = h + ["0"] * (8 - len(h) - len(t)) + t
    else:
        parts = text.split(":")
    if len(parts) != 8:
        raise ValueError("bad IPv6 address")
    out = bytearray(16)
    for i in range(8):
        p = parts[i]
        if not 1 <= len(p) <= 4:
            raise ValueError("bad IPv6 address")
        v = int(p, 16)
        out[2 * i] = v >> 8
        out[2 * i + 1] = v & 0xFF
    return bytes(out)


def write_header(buf, off, payload_len, nh, hlim, src, dst, dst_off=0):
    """Fill a 40-byte IPv6 header (traffic class and flow label 0)."""
    buf[off] = 0x60
    buf[off + 1] = 0
    buf[off + 2] = 0
    buf[off + 3] = 0
    buf[off + 4] = payload_len >> 8
    buf[off + 5] = payload_len & 0xFF
    buf[off + 6] = nh
    buf[off + 7] = hlim
    for i in range(16):
        buf[off + 8 + i] = src[i]
        buf[off + 24 + i] = dst[dst_off + i]


def csum_add(buf, off, n, acc):
    """Add the 16-bit big-endian words of buf[off:off+n] to ``acc`` (odd tail padded)."""
    end = off + (n & ~1)
    i = off
    while i < end:
        acc += (buf[i] << 8) | buf[i + 1]
        i += 2
    if n & 1:
        acc += buf[end] << 8
    return acc


def csum_fold(acc):
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def l4_sum(buf, ip_off, l4_off, l4_len, nh):
    """One's-complement sum over pseudo-header + upper-layer data (0xFFFF when valid)."""
    acc = csum_add(buf, ip_off + 8, 32, l4_len + nh)
    return csum_fold(csum_add(buf, l4_off, l4_len, acc))
