"""A scripted peer for the net tests: builds frames the way a host's kernel would.

Independent of firmware/net (own checksum via struct), so the stack is checked against
a second implementation. Also a fake clock wrapper. Both runtimes.
"""
import gc
import struct
from lib import clock
# Imported here, before any test makes garbage: on MicroPython long-lived code allocated
# between short-lived objects fragments the small test heap.
from firmware.net.stack import Stack
from firmware.v2g import v2gtp, sdp  # noqa: F401
gc.collect()

FW_MAC = b"\x02\x00\x00\x00\x0f\x01"
FW_IP = bytes.fromhex("fe80000000000000000000fffe000f01")
EV_MAC = b"\x02\x00\x00\x00\x00\xe1"
EV_IP = bytes.fromhex("fe80000000000000000000fffe0000e1")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
FW_SNM = bytes.fromhex("ff0200000000000000000001ff000f01")
FW_SNM_MAC = b"\x33\x33\xff\x00\x0f\x01"


def csum(data):
    if len(data) % 2:
        data = data + b"\x00"
    s = 0
    for (w,) in _iter_words(data):
        s += w
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _iter_words(data):
    for i in range(0, len(data), 2):
        yield struct.unpack_from("!H", data, i)


def l4(src, dst, nh, seg, off):
    """seg with its checksum (at ``off``) filled in."""
    c = csum(src + dst + struct.pack("!IxxxB", len(seg), nh) + seg)
    if c == 0 and nh == 17:
        c = 0xFFFF
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + src + dst + payload


def frame(dst_mac, src_mac, pkt, etype=0x86DD):
    return dst_mac + src_mac + struct.pack("!H", etype) + pkt


def icmp(typ, code, body, src=EV_IP, dst=FW_IP, hlim=64, dmac=FW_MAC, smac=EV_MAC):
    seg = l4(src, dst, 58, struct.pack("!BBH", typ, code, 0) + body, 2)
    return frame(dmac, smac, ip6(src, dst, 58, seg, hlim))


def ns(target=FW_IP, src=EV_IP, slla=EV_MAC, dst=None, hlim=255, dmac=None):
    body = b"\x00\x00\x00\x00" + target + (b"\x01\x01" + slla if slla else b"")
    if dst is None:
        dst = FW_SNM
    if dmac is None:
        dmac = b"\x33\x33" + dst[12:16] if dst[0] == 0xFF else FW_MAC
    return icmp(135, 0, body, src, dst, hlim, dmac)


def na(target, tlla, flags=0x60, src=EV_IP, dst=FW_IP, hlim=255):
    body = bytes((flags, 0, 0, 0)) + target + (b"\x02\x01" + tlla if tlla else b"")
    return icmp(136, 0, body, src, dst, hlim)


def udp(sport, dport, data, src=EV_IP, dst=ALL_NODES, hlim=1, dmac=None, smac=EV_MAC):
    seg = l4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data, 6)
    if dmac is None:
        dmac = b"\x33\x33" + dst[12:16] if dst[0] == 0xFF else FW_MAC
    return frame(dmac, smac, ip6(src, dst, 17, seg, hlim))


def tcp(sport, dport, seq, ack, flags, data=b"", win=64240, opts=b"", src=EV_IP, dst=FW_IP):
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, win, 0, 0) + opts + data
    seg = l4(src, dst, 6, seg, 16)
    return frame(FW_MAC, EV_MAC, ip6(src, dst, 6, seg))


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


class Parsed:
    """A frame the stack sent, decoded (and its checksums verified) by the peer."""

    def __init__(self, f):
        f = bytes(f)
        self.dmac = f[0:6]
        self.smac = f[6:12]
        self.etype = struct.unpack_from("!H", f, 12)[0]
        ip = f[14:]
        self.plen = struct.unpack_from("!H", ip, 4)[0]
        self.nh = ip[6]
        self.hlim = ip[7]
        self.src = ip[8:24]
        self.dst = ip[24:40]
        self.l4 = ip[40:40 + self.plen]
        assert len(self.l4) == self.plen, "truncated frame"
        self.hbh = b""
        if self.nh == 0:  # hop-by-hop header (MLD): keep it aside
            n = (self.l4[1] + 1) * 8
            self.hbh = self.l4[:n]
            self.nh = self.l4[0]
            self.l4 = self.l4[n:]
            self.plen -= n
        assert len(f) <= 1514
        c = csum(self.src + self.dst + struct.pack("!IxxxB", self.plen, self.nh) + self.l4)
        self.csum_ok = c == 0
        assert self.csum_ok, "bad checksum in a frame we sent"
        if self.nh == 6:
            (self.sport, self.dport, self.seq, self.ack, off, self.flags,
             self.win) = struct.unpack_from("!HHIIBBH", self.l4, 0)
            self.hl = (off >> 4) * 4
            self.opts = self.l4[20:self.hl]
            self.data = self.l4[self.hl:]
        elif self.nh == 17:
            self.sport, self.dport, ln = struct.unpack_from("!HHH", self.l4, 0)
            self.data = self.l4[8:ln]
        elif self.nh == 58:
            self.type = self.l4[0]
            self.code = self.l4[1]
            self.data = self.l4[4:]

    def mss(self):
        o = self.opts
        i = 0
        while i < len(o):
            if o[i] == 0:
                break
            if o[i] == 1:
                i += 1
                continue
            if o[i] == 2:
                return struct.unpack_from("!H", o, i + 2)[0]
            i += o[i + 1]
        return None


class Wire:
    """Collects the frames a stack sends."""

    def __init__(self):
        self.out = []

    def __call__(self, mv):
        self.out.append(Parsed(mv))

    def take(self):
        o = self.out
        self.out = []
        return o

    def one(self):
        o = self.take()
        assert len(o) == 1, "expected one frame, got %d" % len(o)
        return o[0]


def make_stack(**kw):
    gc.collect()  # the previous test's stack: keep the small test heap unfragmented
    # Small rings: the MicroPython test heap is shared by every test module.
    kw.setdefault("tcp_slots", 1)
    kw.setdefault("tcp_rx", 1024)
    kw.setdefault("tcp_tx", 1024)
    w = Wire()
    st = Stack(FW_MAC, w, **kw)
    return st, w


def advance(st, ms, step=10):
    """Move the clock by ``ms`` in steps, running the stack's timers."""
    done = 0
    while done < ms:
        d = step if ms - done > step else ms - done
        clock.advance(d)
        done += d
        st.poll()


def test_helper_checksum_matches_a_kernel_frame():
    # SDP request as captured from Linux (PEERS.md 3.5), UDP checksum by the kernel.
    seg = bytes.fromhex("d2f03b0e0012" + "0000" + "01fe900000000002" + "1000")
    good = l4(EV_IP, ALL_NODES, 17, seg, 6)
    assert csum(EV_IP + ALL_NODES + struct.pack("!IxxxB", len(good), 17) + good) == 0
    assert good[6:8] != b"\x00\x00"


def mss_opt(mss=1440):
    return struct.pack("!BBH", 2, 4, mss)


class TcpPeer:
    """The car's TCP end, scripted: tracks its own and the stack's sequence numbers."""

    def __init__(self, st, w, sport=40000, port=15119, isn=1000, src=EV_IP):
        self.st = st
        self.w = w
        self.sport = sport
        self.port = port
        self.seq = isn
        self.src = src
        self.their = 0  # next sequence number expected from the stack
        self.got = b""

    def seg(self, flags, data=b"", seq=None, ack=None, win=64240, opts=b""):
        f = tcp(self.sport, self.port, self.seq if seq is None else seq,
                self.their if ack is None else ack, flags, data, win, opts, src=self.src)
        self.st.input(f)

    def connect(self, mss=1440, win=64240):
        """Handshake; returns the SYN-ACK as parsed."""
        self.st.input(ns(src=self.src, slla=EV_MAC))
        self.w.take()
        self.seg(SYN, opts=mss_opt(mss) if mss else b"", ack=0, win=win)
        sa = self.w.one()
        assert sa.flags == SYN | ACK and sa.ack == self.seq + 1
        self.seq += 1
        self.their = (sa.seq + 1) & 0xFFFFFFFF
        self.seg(ACK, win=win)
        return sa

    def send(self, data, flags=ACK | PSH, win=64240):
        self.seg(flags, data, win=win)
        self.seq = (self.seq + len(data) + (1 if flags & FIN else 0)) & 0xFFFFFFFF

    def absorb(self, frames=None, ack=True, win=64240):
        """Take the stack's data segments in order; optionally acknowledge them."""
        if frames is None:
            frames = self.w.take()
        for p in frames:
            if p.nh != 6:
                continue
            if p.seq == self.their and p.data:
                self.got += p.data
                self.their = (self.their + len(p.data)) & 0xFFFFFFFF
            if p.flags & FIN and (p.seq + len(p.data)) & 0xFFFFFFFF == self.their:
                self.their = (self.their + 1) & 0xFFFFFFFF
        if ack:
            self.seg(ACK, win=win)
        return frames


def tcp_pair(**kw):
    """A stack listening on 15119 and a connected peer: (stack, wire, listener, conn, peer)."""
    st, w = make_stack(**kw)
    lst = st.tcp_listen(15119)
    peer = TcpPeer(st, w)
    peer.connect()
    conn = lst.accept_nowait()
    assert conn is not None
    return st, w, lst, conn, peer
