"""SDP server and V2GTP framing over the firmware's TCP."""
import struct
from firmware.v2g import v2gtp
from firmware.v2g.sdp import SdpServer
from tests.common import test_net_helpers as H
from tests.common.test_net_helpers import ACK, PSH, FIN, RST
from tests.common.support import raises, run

SDP_REQ = b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00"


def test_sdp_request_answered_with_address_port_security():
    st, w = H.make_stack()
    sdp = SdpServer(st, 61851)
    st.input(H.udp(51000, 15118, SDP_REQ))
    p = w.one()  # no NS first: the car's MAC is taken from its request
    assert p.nh == 17 and p.sport == 15118 and p.dport == 51000
    assert p.dst == H.EV_IP and p.dmac == H.EV_MAC and p.src == H.FW_IP
    assert p.data == b"\x01\xfe\x90\x01\x00\x00\x00\x14" + H.FW_IP + b"\xf1\x9b\x10\x00"
    assert sdp.requests == 1


def test_sdp_tls_request_offered_plain_tcp_without_tls():
    st, w = H.make_stack()
    SdpServer(st, 61851)
    st.input(H.udp(51000, 15118, SDP_REQ[:8] + b"\x00\x00"))
    assert w.one().data[24:28] == b"\xf1\x9b\x10\x00"  # no TLS yet: plain TCP offered


def test_sdp_tls_request_gets_tls_port():
    st, w = H.make_stack()
    SdpServer(st, 61851, tls_port=61852)
    st.input(H.udp(51000, 15118, SDP_REQ[:8] + b"\x00\x00"))
    assert w.one().data[24:28] == b"\xf1\x9c\x00\x00"
    st.input(H.udp(51000, 15118, SDP_REQ))
    assert w.one().data[24:28] == b"\xf1\x9b\x10\x00"


def test_sdp_invalid_requests_ignored():
    st, w = H.make_stack()
    sdp = SdpServer(st, 61851)
    for bad in (SDP_REQ[:9], SDP_REQ + b"\x00", b"\x02\xfd" + SDP_REQ[2:],
                SDP_REQ[:2] + b"\x80\x01" + SDP_REQ[4:], SDP_REQ[:7] + b"\x03" + SDP_REQ[8:] + b"\x00",
                SDP_REQ[:8] + b"\x20\x00", SDP_REQ[:8] + b"\x10\x10"):
        st.input(H.udp(51000, 15118, bad))
    assert w.take() == [] and sdp.invalid == 7 and sdp.requests == 0


def test_sdp_port_must_be_dynamic():
    st, w = H.make_stack()
    raises(ValueError, SdpServer, st, 15119)
    raises(ValueError, SdpServer, st, 61851, 80)


def test_udp_checksum_and_length_checks():
    st, w = H.make_stack()
    SdpServer(st, 61851)
    f = bytearray(H.udp(51000, 15118, SDP_REQ))
    f[-1] ^= 0x55
    st.input(bytes(f))
    z = bytearray(H.udp(51000, 15118, SDP_REQ))
    z[14 + 40 + 6] = z[14 + 40 + 7] = 0  # checksum 0 is not allowed over IPv6
    st.input(bytes(z))
    long_len = bytearray(H.udp(51000, 15118, SDP_REQ))
    long_len[14 + 40 + 5] += 1
    st.input(bytes(long_len))
    assert w.take() == []
    assert st.stats["bad_csum"] == 1 and st.stats["udp_bad"] == 2


def test_header_parse_and_write():
    b = bytearray(8)
    v2gtp.write_header(b, 0, v2gtp.PT_EXI, 0x01020304)
    assert bytes(b) == b"\x01\xfe\x80\x01\x01\x02\x03\x04"
    assert v2gtp.parse_header(b) == (0x8001, 0x01020304)
    raises(v2gtp.V2gtpError, v2gtp.parse_header, b"\x01\xfe\x80")
    raises(v2gtp.V2gtpError, v2gtp.parse_header, b"\x02\xfd\x80\x01\x00\x00\x00\x00")
    raises(v2gtp.V2gtpError, v2gtp.parse_header, b"\x01\xff\x80\x01\x00\x00\x00\x00")


def _msg(payload, pt=0x8001):
    return b"\x01\xfe" + struct.pack("!HI", pt, len(payload)) + payload


def _v2g_pair(max_payload=400):
    st, w, lst, c, p = H.tcp_pair()
    return st, w, v2gtp.V2gtpConnection(c, None, max_payload), p


def test_messages_split_across_segments_and_several_in_one():
    async def main():
        st, w, vc, p = _v2g_pair()
        m = _msg(b"A" * 300)
        p.send(m[:3])
        p.send(m[3:200])
        p.send(m[200:] + _msg(b"second") + _msg(b"") + _msg(b"x" * 20)[:5])
        got = []
        for _ in range(3):
            pt, pl = await vc.recv()
            got.append((pt, bytes(pl)))
        assert got == [(0x8001, b"A" * 300), (0x8001, b"second"), (0x8001, b"")]
        p.send(_msg(b"x" * 20)[5:])
        pt, pl = await vc.recv()
        assert bytes(pl) == b"x" * 20
        await vc.send(b"reply")
        p.absorb()
        assert p.got == _msg(b"reply")
    run(main())


def test_reply_goes_out_in_one_segment():
    async def main():
        st, w, vc, p = _v2g_pair()
        await vc.send(b"\x80\x40\x00\x40")
        f = [x for x in w.take() if x.nh == 6]
        assert len(f) == 1 and f[0].data == _msg(b"\x80\x40\x00\x40")
        await vc.send(b"")  # header only: must not stay corked
        f = [x for x in w.take() if x.nh == 6]
        assert len(f) == 1 and f[0].data == _msg(b"")
    run(main())


def test_oversize_closes_unknown_type_skipped():
    async def main():
        st, w, vc, p = _v2g_pair(max_payload=100)
        p.send(_msg(b"zz", 0x1234) + _msg(b"ok"))
        pt, pl = await vc.recv()
        assert bytes(pl) == b"ok" and vc.skipped == 1
        p.send(_msg(b"y" * 101))
        assert await vc.recv() is None
        assert [x for x in w.take() if x.nh == 6][-1].flags & RST
    run(main())


def test_bad_version_closes():
    async def main():
        st, w, vc, p = _v2g_pair()
        p.send(b"\x02\xfd\x80\x01\x00\x00\x00\x01z")
        assert await vc.recv() is None and vc.errors == 1
        assert [x for x in w.take() if x.nh == 6][-1].flags & RST
    run(main())


def test_recv_returns_none_at_end_of_stream():
    async def main():
        st, w, vc, p = _v2g_pair()
        p.send(_msg(b"abc")[:5], ACK | PSH | FIN)  # truncated message, then FIN
        assert await vc.recv() is None
    run(main())
