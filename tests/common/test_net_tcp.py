"""TCP: handshake, MSS, delivery, reassembly, retransmission (fake clock via lib.clock.advance)."""
from firmware.net import tcp
from tests.common import test_net_helpers as H
from tests.common.test_net_helpers import SYN, ACK, PSH, RST


def test_handshake_with_mss_option():
    st, w = H.make_stack()
    lst = st.tcp_listen(15119)
    p = H.TcpPeer(st, w)
    sa = p.connect(mss=1200)
    assert sa.mss() == 1460 - 20 and sa.hlim == 64 and sa.dst == H.EV_IP and sa.dmac == H.EV_MAC
    assert sa.win == 1024  # the receive ring
    c = lst.accept_nowait()
    assert c.state == tcp.ESTABLISHED and lst.accept_nowait() is None
    assert c.peer() == (H.EV_IP, 40000)
    assert st.tcp.tcbs[0].snd_mss == 1200
    assert w.take() == []  # the handshake's ACK is not answered


def test_linux_syn_options_are_skipped():
    # MSS, SACK-permitted, timestamps, NOP, window scale: as the kernel sends them. We
    # answer with MSS only, so the peer uses none of the others.
    st, w = H.make_stack()
    st.tcp_listen(15119)
    st.input(H.ns())
    w.take()
    opts = H.mss_opt(1440) + b"\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x0a"
    st.input(H.tcp(40000, 15119, 1, 0, SYN, opts=opts))
    sa = w.one()
    assert sa.flags == SYN | ACK and sa.opts == H.mss_opt(1440)
    # A truncated option list is malformed: dropped, no answer.
    st.input(H.tcp(40001, 15119, 1, 0, SYN, opts=b"\x01\x01\x08\x0a"))
    st.input(H.tcp(40002, 15119, 1, 0, SYN, opts=b"\x02\x05\x05\xb4"))
    assert w.take() == [] and st.stats["tcp_bad"] == 2


def test_default_mss_without_option_and_syn_to_closed_port():
    st, w = H.make_stack()
    st.tcp_listen(15119)
    p = H.TcpPeer(st, w)
    p.connect(mss=0)
    assert st.tcp.tcbs[0].snd_mss == 536
    # SYN to a port nobody listens on: RST+ACK acknowledging the SYN.
    st.input(H.tcp(40001, 80, 5000, 0, SYN, opts=H.mss_opt()))
    r = w.one()
    assert r.flags == RST | ACK and r.ack == 5001 and r.seq == 0


def test_segments_for_no_connection_get_reset():
    st, w = H.make_stack()
    st.tcp_listen(15119)
    st.input(H.ns())
    w.take()
    st.input(H.tcp(40000, 15119, 7, 123456, ACK, b"stale"))
    r = w.one()
    assert r.flags == RST and r.seq == 123456  # from the segment's ACK field
    st.input(H.tcp(40000, 15119, 7, 0, RST))
    assert w.take() == []  # never a reset for a reset


def test_in_order_delivery_and_delayed_ack():
    st, w, lst, c, p = H.tcp_pair()
    p.send(b"hello ")
    assert w.take() == []  # ACK delayed
    p.send(b"world")
    a = w.one()  # every second segment is acked at once
    assert a.flags == ACK and a.ack == p.seq
    buf = bytearray(64)
    n = c.recv_into(buf)
    assert bytes(buf[:n]) == b"hello world"
    p.send(b"!")
    H.advance(st, 50)
    a = w.one()
    assert a.ack == p.seq  # the delayed ACK fired


def test_out_of_order_reassembly_within_window():
    st, w, lst, c, p = H.tcp_pair()
    base = p.seq
    p.seg(ACK, b"CCCC", seq=base + 8)
    d1 = w.one()
    assert d1.ack == base  # duplicate ACK for the hole
    p.seg(ACK, b"BBBB", seq=base + 4)
    assert w.one().ack == base
    assert c.available() == 0
    p.seg(ACK, b"AAAA", seq=base)
    assert w.one().ack == base + 12  # hole filled: immediate cumulative ACK
    buf = bytearray(32)
    n = c.recv_into(buf)
    assert bytes(buf[:n]) == b"AAAABBBBCCCC"
    # Overlapping retransmission and a duplicate are trimmed, not delivered twice.
    p.seq = base + 12
    p.seg(ACK, b"CCDDDD", seq=base + 10)
    p.seg(ACK, b"AAAA", seq=base)
    H.advance(st, 50)
    n = c.recv_into(buf)
    assert bytes(buf[:n]) == b"DDDD"


def test_data_beyond_window_is_trimmed():
    st, w, lst, c, p = H.tcp_pair(tcp_rx=1024)
    p.send(bytes(range(256)) * 5)  # 1280 > 1024 window
    w.take()
    assert c.available() == 1024
    assert st.stats["tcp_trimmed"] == 1


def test_send_segments_by_mss_and_retransmits_with_backoff():
    st, w, lst, c, p = H.tcp_pair(tcp_tx=1536)
    p.seg(ACK, opts=b"")  # nothing
    st.tcp.tcbs[0].snd_mss = 500
    data = bytes(i & 0xFF for i in range(1200))
    assert c.send(data) == 1200
    segs = w.take()
    assert [len(s.data) for s in segs] == [500, 500, 200]
    assert segs[-1].flags & PSH
    # No ACK: the first segment goes again after the RTO (200 ms: the handshake's RTT
    # sample on this instant link, clamped), then after 400, 800, 1600 ... ms.
    times = []
    for ms in range(0, 8000, 10):
        H.advance(st, 10, 10)
        for s in w.take():
            times.append(ms)
            assert s.seq == segs[0].seq and len(s.data) == 500
    gaps = [b - a for a, b in zip([-10] + times, times)]
    assert len(times) == 5, times
    for i, g in enumerate(gaps):
        assert abs(g - 200 * 2 ** i) <= 20, gaps
    p.absorb(segs)
    assert p.got == data
    assert st.tcp.tcbs[0].tx_count == 0


def test_retransmission_gives_up_with_reset():
    st, w, lst, c, p = H.tcp_pair()
    c.send(b"x" * 10)
    w.take()
    st.ndp.poll = lambda now: None  # the neighbour stays known (NUD is tested elsewhere)
    H.advance(st, 60000, 100)
    frames = [f for f in w.take() if f.nh == 6]
    assert frames[-1].flags & RST
    assert len(frames) == 8  # 7 retransmissions, then the reset
    assert c.state == tcp.CLOSED and c.error == "timeout"
    assert st.stats["tcp_timeout_abort"] == 1


def test_three_duplicate_acks_trigger_fast_retransmit():
    st, w, lst, c, p = H.tcp_pair()
    st.tcp.tcbs[0].snd_mss = 100
    c.send(bytes(400))
    segs = w.take()
    assert len(segs) == 4
    for _ in range(3):
        p.seg(ACK)  # all acking only the start
    r = w.one()
    assert r.seq == segs[0].seq and len(r.data) == 100
    assert st.stats["tcp_fast_retransmit"] == 1


def test_rtt_samples_from_handshake_and_data_set_rto():
    st, w = H.make_stack()
    st.tcp_listen(15119)
    st.input(H.ns())
    w.take()
    st.input(H.tcp(40000, 15119, 1, 0, SYN, opts=H.mss_opt()))
    sa = w.one()
    H.advance(st, 100)
    st.input(H.tcp(40000, 15119, 2, sa.seq + 1, ACK))
    t = st.tcp.tcbs[0]
    assert 90 <= t.srtt <= 110 and t.rto_ms >= 200
    c = st.tcp.listeners[0].accept_nowait()
    c.send(b"abc")
    H.advance(st, 30)
    st.input(H.tcp(40000, 15119, 2, sa.seq + 4, ACK))
    assert t.srtt < 100  # smoothed towards the faster sample (7/8 old + 1/8 new)


def test_syn_ack_retransmitted_then_slot_freed():
    st, w = H.make_stack()
    st.tcp_listen(15119)
    st.input(H.ns())
    w.take()
    st.input(H.tcp(40000, 15119, 99, 0, SYN, opts=H.mss_opt()))
    first = w.one()
    st.input(H.tcp(40000, 15119, 99, 0, SYN, opts=H.mss_opt()))  # the peer's retry
    assert w.one().seq == first.seq
    H.advance(st, 40000, 100)
    again = [f for f in w.take() if f.flags == SYN | ACK]
    assert len(again) == 4
    assert st.tcp.tcbs[0].state == tcp.CLOSED
