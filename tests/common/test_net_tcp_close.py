"""TCP: FIN both ways, RST and challenge ACKs, half-open peers, slot replacement, idle, windows."""
from firmware.net import tcp
from tests.common import test_net_helpers as H
from tests.common.test_net_helpers import SYN, ACK, PSH, RST, FIN
from tests.common.support import raises


def test_peer_closes_first():
    st, w, lst, c, p = H.tcp_pair()
    p.send(b"bye", ACK | PSH | FIN)
    a = w.one()
    assert a.ack == p.seq  # FIN acknowledged at once
    assert c.state == tcp.CLOSE_WAIT and not c.at_eof()
    buf = bytearray(8)
    assert c.recv_into(buf) == 3 and c.at_eof()
    c.send(b"last")  # half-closed: we may still send
    p.absorb()
    assert p.got == b"last"
    c.close()
    f = w.one()
    assert f.flags & FIN and c.state == tcp.LAST_ACK
    p.absorb([f])
    assert st.tcp.tcbs[0].state == tcp.CLOSED


def test_we_close_first_then_time_wait():
    st, w, lst, c, p = H.tcp_pair()
    c.send(b"data")
    c.close()
    f = w.take()
    assert f[-1].flags & FIN and c.state == tcp.FIN_WAIT_1
    raises(tcp.TcpError, c.send, b"more")
    t = st.tcp.tcbs[0]
    p.absorb(f)
    assert p.got == b"data" and t.state == tcp.FIN_WAIT_2
    p.send(b"", ACK | FIN)
    assert w.one().ack == p.seq and t.state == tcp.TIME_WAIT
    p.send(b"", ACK | FIN)  # a retransmitted FIN is acknowledged again
    p.seq -= 1
    assert w.one().flags == ACK
    H.advance(st, 2100, 100)
    assert t.state == tcp.CLOSED


def test_simultaneous_close():
    st, w, lst, c, p = H.tcp_pair()
    c.close()
    fin = w.one()
    p.send(b"", ACK | FIN)  # crosses our FIN: does not ack it
    t = st.tcp.tcbs[0]
    assert t.state == tcp.CLOSING
    w.take()
    p.absorb([fin])
    assert t.state == tcp.TIME_WAIT


def test_fin_retransmitted_when_not_acked():
    st, w, lst, c, p = H.tcp_pair()
    c.close()
    first = w.one()
    H.advance(st, 250)  # RTO from the handshake's sample: 200 ms
    again = w.one()
    assert again.flags & FIN and again.seq == first.seq


def test_rst_exact_closes_in_window_gets_challenge_ack():
    st, w, lst, c, p = H.tcp_pair()
    p.seg(RST, seq=p.seq + 10)  # in window, not exact: RFC 5961 challenge ACK
    a = w.one()
    assert a.flags == ACK and a.ack == p.seq and c.state == tcp.ESTABLISHED
    p.seg(RST, seq=p.seq + 100000)  # outside the window: ignored
    assert w.take() == []
    p.seg(RST)
    assert c.state == tcp.CLOSED and c.error == "reset" and c.at_eof()
    assert w.take() == []


def test_syn_on_established_connection_gets_challenge_ack():
    # The car restarted and reuses the same port: it must see our ACK, answer it with a
    # reset, and its next SYN opens a new connection.
    st, w, lst, c, p = H.tcp_pair()
    p.seg(SYN, seq=777, ack=0, opts=H.mss_opt())
    a = w.one()
    assert a.flags == ACK and a.ack == p.seq
    p.seg(RST, seq=a.ack)
    assert c.state == tcp.CLOSED
    p2 = H.TcpPeer(st, w, isn=778)
    p2.connect()
    c2 = lst.accept_nowait()
    assert c2.state == tcp.ESTABLISHED and c.state == tcp.CLOSED


def test_new_connection_replaces_dead_one_when_slots_full():
    st, w = H.make_stack(tcp_slots=1)
    lst = st.tcp_listen(15119)
    p1 = H.TcpPeer(st, w, sport=40001)
    p1.connect()
    c1 = lst.accept_nowait()
    p2 = H.TcpPeer(st, w, sport=40002, isn=5000)
    st.input(H.tcp(40002, 15119, 5000, 0, SYN, opts=H.mss_opt()))
    rst, sa = w.take()
    assert rst.flags & RST and rst.dport == 40001
    assert sa.flags == SYN | ACK and sa.dport == 40002
    assert c1.state == tcp.CLOSED and c1.error in ("replaced", "aborted")
    p2.seq = 5001
    p2.their = sa.seq + 1
    p2.seg(ACK)
    c2 = lst.accept_nowait()
    assert c2.state == tcp.ESTABLISHED
    # The old handle stays dead even though its slot lives on.
    assert c1.state == tcp.CLOSED and c1.available() == 0


def test_idle_connection_is_aborted():
    st, w, lst, c, p = H.tcp_pair(idle_ms=5000)
    H.advance(st, 4000, 500)
    assert c.state == tcp.ESTABLISHED
    H.advance(st, 1500, 500)
    assert c.state == tcp.CLOSED and c.error == "idle"
    assert [f for f in w.take() if f.nh == 6][-1].flags & RST


def test_peer_zero_window_probed_then_resumed():
    st, w, lst, c, p = H.tcp_pair()
    p.seg(ACK, win=0)
    c.send(b"waiting")
    assert w.take() == []  # nothing may be sent into a zero window
    H.advance(st, 250)
    probe = w.one()
    assert probe.seq == (p.their - 1) & 0xFFFFFFFF and not probe.data
    H.advance(st, 300)
    assert w.take() == []  # the probe interval doubled (400 ms)
    H.advance(st, 150)
    assert len(w.take()) == 1
    p.seg(ACK, win=1000)  # window opens: data flows
    d = w.one()
    assert d.data == b"waiting"


def test_our_zero_window_and_window_update():
    st, w, lst, c, p = H.tcp_pair(tcp_rx=1024)
    p.send(bytes(1024))
    a = w.one() if w.out else None
    H.advance(st, 50)
    a = [f for f in w.take() if f.nh == 6][-1] if a is None else a
    assert a.win == 0 and a.ack == p.seq
    p.seg(ACK | PSH, b"more")  # into a zero window: dropped, re-acked
    z = w.one()
    assert z.ack == p.seq and z.win == 0
    buf = bytearray(1024)
    assert c.recv_into(buf, 600) == 600
    u = w.one()  # window update once enough opened
    assert u.win == 600


def test_async_api_read_write_close():
    from tests.common.support import run

    async def main():
        st, w, lst, c, p = H.tcp_pair()
        p.send(b"ping!")
        buf = bytearray(16)
        n = await c.read_into(buf)
        assert bytes(buf[:n]) == b"ping!"
        await c.write(b"pong!")
        p.absorb()
        await c.drain()
        assert p.got == b"pong!"
        p.send(b"", ACK | FIN)
        assert await c.read_into(buf) == 0
        c.close()
        return w

    run(main())


def test_new_syn_reuses_time_wait_pair():
    st, w, lst, c, p = H.tcp_pair()
    c.close()
    p.absorb()
    p.send(b"", ACK | FIN)
    w.take()
    t = st.tcp.tcbs[0]
    assert t.state == tcp.TIME_WAIT
    # Same ports, higher initial sequence number: a new incarnation, accepted at once.
    st.input(H.tcp(40000, 15119, p.seq + 100000, 0, SYN, opts=H.mss_opt()))
    sa = w.one()
    assert sa.flags == SYN | ACK and sa.ack == p.seq + 100001
    assert t.state == tcp.SYN_RCVD
