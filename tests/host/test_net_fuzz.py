"""Fuzzing the firmware IPv6 stack with random and mutated frames (hypothesis).

CPython only: hypothesis does not run under MicroPython. Nothing may escape ``Stack.input``
(the stack's own safety net must never be needed: ``internal_error`` stays 0), every frame
the stack sends must be well formed, and the TCP state must stay consistent.
"""
import struct

from hypothesis import given, settings, strategies as s, HealthCheck

from firmware.net import tcp
from firmware.v2g.sdp import SdpServer
from tests.common import test_net_helpers as H
from tests.common.test_net_helpers import SYN, ACK, PSH, FIN, RST

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SDP_REQ = b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00"


def _stack():
    st, w, lst, c, p = H.tcp_pair(idle_ms=20000, tcp_slots=2)
    SdpServer(st, 61851)
    return st, w, c, p


def _seeds(p):
    s0 = p.seq
    return [
        H.ns(), H.ns(src=bytes(16), slla=None), H.na(H.EV_IP, H.EV_MAC),
        H.icmp(128, 0, b"\x00\x01\x00\x01" + bytes(40)),
        H.udp(51000, 15118, SDP_REQ), H.udp(5000, 4444, b"x", dst=H.FW_IP),
        H.tcp(40000, 15119, s0, p.their, ACK | PSH, b"\x01\xfe\x80\x01\x00\x00\x00\x04abcd"),
        H.tcp(40000, 15119, s0 + 100, p.their, ACK, b"later"),
        H.tcp(40000, 15119, s0, p.their, ACK | FIN),
        H.tcp(40000, 15119, s0, p.their, RST),
        H.tcp(40001, 15119, 9, 0, SYN, opts=H.mss_opt()),
        H.tcp(40000, 15119, s0, p.their, ACK, opts=b"\x01\x01\x08\x0a" + bytes(8)),
    ]


def _fix_checksum(f):
    """Recompute the upper-layer checksum so a mutation gets past it to the parsers."""
    f = bytearray(f)
    if len(f) < 54 or f[12:14] != b"\x86\xdd":
        return bytes(f)
    plen = struct.unpack_from("!H", f, 18)[0]
    nh = f[20]
    l4 = bytes(f[54:54 + plen])
    off = {6: 16, 17: 6, 58: 2}.get(nh)
    if off is None or len(l4) < off + 2:
        return bytes(f)
    fixed = H.l4(bytes(f[22:38]), bytes(f[38:54]), nh, l4[:off] + b"\x00\x00" + l4[off + 2:], off)
    f[54:54 + len(fixed)] = fixed
    return bytes(f)


def _check(st, w):
    assert st.stats.get("internal_error", 0) == 0
    w.take()  # Parsed() already asserted: checksum valid, length <= 1514
    for t in st.tcp.tcbs:
        assert 0 <= t.rx_count <= len(t.rxbuf)
        assert 0 <= t.tx_count <= len(t.txbuf)
        assert 0 <= t.ooo_n <= 4
        assert 0 <= t.state <= tcp.TIME_WAIT
        if t.state != tcp.CLOSED:
            assert tcp._sd(t.snd_nxt, t.snd_una) >= 0
            assert tcp._sd(t.snd_max, t.snd_nxt) >= 0
            assert tcp._sd(t.snd_max, t.snd_una) <= t.tx_count + 2  # data + SYN/FIN


@SETTINGS
@given(s.lists(s.binary(min_size=0, max_size=1600), min_size=1, max_size=8))
def test_random_frames(frames):
    st, w, c, p = _stack()
    for f in frames:
        st.input(f)
        # Also with a valid Ethernet/IPv6 prefix, so the bytes reach the upper layers.
        st.input(_fix_checksum(H.FW_MAC + H.EV_MAC + b"\x86\xdd" + f))
        _check(st, w)


@SETTINGS
@given(s.data())
def test_mutated_frames(data):
    st, w, c, p = _stack()
    seeds = _seeds(p)
    for _ in range(data.draw(s.integers(1, 6))):
        f = bytearray(data.draw(s.sampled_from(seeds)))
        for _ in range(data.draw(s.integers(1, 4))):
            kind = data.draw(s.integers(0, 3))
            if kind == 0 and f:
                i = data.draw(s.integers(0, len(f) - 1))
                f[i] = data.draw(s.integers(0, 255))
            elif kind == 1:
                f = f[:data.draw(s.integers(0, len(f)))]
            elif kind == 2:
                f += data.draw(s.binary(max_size=64))
            elif len(f) > 15:
                # Header fields (Ethernet type .. first option bytes) are where parsers break.
                i = data.draw(s.integers(12, min(len(f), 100) - 1))
                f[i] = data.draw(s.sampled_from([0, 1, 0x7F, 0x80, 0xFF, f[i] ^ 0xF0, f[i] + 1 & 0xFF]))
        if data.draw(s.integers(0, 3)):
            f = bytearray(_fix_checksum(f))
        st.input(bytes(f))
        _check(st, w)
        if data.draw(s.booleans()):
            H.advance(st, data.draw(s.integers(1, 3000)), 100)
            _check(st, w)


@SETTINGS
@given(s.lists(s.tuples(s.sampled_from([ACK, ACK | PSH, ACK | FIN, RST, SYN, ACK | RST, FIN, 0,
                                        SYN | ACK, ACK | PSH | FIN]),
                        s.integers(-3000, 3000), s.integers(-3000, 3000),
                        s.integers(0, 1500), s.integers(0, 65535), s.integers(0, 2500)),
                min_size=1, max_size=25))
def test_tcp_state_machine_random_segments(script):
    st, w, c, p = _stack()
    c.send(bytes(700))
    for flags, dseq, dack, n, win, wait in script:
        seq = (p.seq + dseq) & 0xFFFFFFFF
        ack = (p.their + dack) & 0xFFFFFFFF
        st.input(H.tcp(40000, 15119, seq, ack, flags, bytes(n), win))
        _check(st, w)
        if wait:
            H.advance(st, wait, 100)
            _check(st, w)
        if c.state != tcp.CLOSED and c.available():
            c.recv_into(bytearray(2048))
    # Whatever happened, the listener still takes a new connection.
    p2 = H.TcpPeer(st, w, sport=41000, isn=12345)
    p2.connect()
    assert st.tcp.listeners[0].accept_nowait() is not None


@SETTINGS
@given(s.data())
def test_structured_headers(data):
    """Upper-layer headers with random fields but valid checksums: the parsers' bounds."""
    st, w, c, p = _stack()
    for _ in range(data.draw(s.integers(1, 5))):
        nh = data.draw(s.sampled_from([6, 17, 58]))
        body = bytearray(data.draw(s.binary(min_size=0, max_size=90)))
        if nh == 6 and len(body) >= 14 and data.draw(s.booleans()):
            body[0:4] = b"\x9c\x40\x3b\x0f"  # 40000 -> 15119: reaches the connection
            if data.draw(s.booleans()):
                body[4:8] = struct.pack("!I", p.seq)
                body[8:12] = struct.pack("!I", p.their)
            body[12] = data.draw(s.integers(0, 15)) << 4
        elif nh == 17 and len(body) >= 8 and data.draw(s.booleans()):
            body[2:4] = b"\x3b\x0e"  # SDP port
            body[4:6] = struct.pack("!H", data.draw(s.integers(0, len(body) + 8)))
        elif nh == 58 and len(body) >= 2:
            body[0] = data.draw(s.sampled_from([128, 135, 136, 1, 133, 143]))
            body[1] = data.draw(s.sampled_from([0, 0, 1]))
        off = {6: 16, 17: 6, 58: 2}[nh]
        if len(body) >= off + 2:
            body = bytearray(H.l4(H.EV_IP, H.FW_IP, nh, bytes(body), off))
        hlim = data.draw(s.sampled_from([255, 64, 1]))
        pkt = bytearray(H.ip6(H.EV_IP, data.draw(s.sampled_from([H.FW_IP, H.ALL_NODES, H.FW_SNM])),
                              nh, bytes(body), hlim))
        if data.draw(s.integers(0, 4)) == 0:
            struct.pack_into("!H", pkt, 4, data.draw(s.integers(0, 200)))  # lie about the length
        dmac = H.FW_MAC if pkt[24] != 0xFF else b"\x33\x33" + bytes(pkt[36:40])
        st.input(H.frame(dmac, H.EV_MAC, bytes(pkt)))
        _check(st, w)
