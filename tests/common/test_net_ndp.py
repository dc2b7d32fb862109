"""ICMPv6 and Neighbour Discovery: NS/NA both ways, DAD, cache expiry, echo, errors."""
from tests.common import test_net_helpers as H


def test_ns_for_our_address_gets_solicited_na():
    st, w = H.make_stack()
    st.input(H.ns())
    p = w.one()
    assert p.nh == 58 and p.type == 136 and p.code == 0 and p.hlim == 255
    assert p.dst == H.EV_IP and p.dmac == H.EV_MAC and p.src == H.FW_IP
    assert p.data[0] == 0x60  # Solicited + Override, not Router
    assert p.data[4:20] == H.FW_IP
    assert p.data[20:28] == b"\x02\x01" + H.FW_MAC
    # The sender's link-layer address was learned.
    assert (H.EV_IP, H.EV_MAC) in st.ndp.entries()


def test_ns_checks():
    st, w = H.make_stack()
    st.input(H.ns(hlim=254))  # not from on-link
    bad_opt = H.icmp(135, 0, bytes(4) + H.FW_IP + b"\x01\x00" + H.EV_MAC, dst=H.FW_SNM,
                     hlim=255, dmac=H.FW_SNM_MAC)  # option length 0
    st.input(bad_opt)
    st.input(H.icmp(135, 1, bytes(4) + H.FW_IP, dst=H.FW_SNM, hlim=255, dmac=H.FW_SNM_MAC))  # code 1
    st.input(H.icmp(135, 0, bytes(4) + H.FW_IP[:8], dst=H.FW_SNM, hlim=255, dmac=H.FW_SNM_MAC))  # short
    assert w.take() == []
    assert st.stats["nd_bad"] == 4
    other = bytes.fromhex("fe800000000000000000000000000099")
    st.input(H.ns(target=other))  # someone else's address: silence
    assert w.take() == []


def test_dad_probe_for_our_address_is_defended():
    st, w = H.make_stack()
    st.input(H.ns(src=bytes(16), slla=None))
    p = w.one()
    assert p.type == 136 and p.dst == H.ALL_NODES and p.dmac == H.ALL_NODES_MAC
    assert p.data[0] == 0x20  # Override only: not solicited
    # A DAD probe must not carry a source link-layer option.
    st.input(H.ns(src=bytes(16)))
    assert w.take() == [] and st.stats["nd_bad"] == 1


def test_start_sends_mld_join_dad_probe_and_unsolicited_na():
    st, w = H.make_stack()
    st.start()
    mld, ns, na = w.take()
    assert mld.nh == 58 and mld.type == 143 and mld.hlim == 1 and mld.src == H.FW_IP
    assert mld.dst == bytes.fromhex("ff020000000000000000000000000016")
    assert mld.dmac == b"\x33\x33\x00\x00\x00\x16"
    assert mld.hbh[2:4] == b"\x05\x02"  # Router Alert
    assert mld.data == b"\x00\x00\x00\x01" + b"\x04\x00\x00\x00" + H.FW_SNM
    assert ns.type == 135 and ns.src == bytes(16) and ns.dst == H.FW_SNM and ns.hlim == 255
    assert ns.dmac == H.FW_SNM_MAC and len(ns.l4) == 24  # no SLLA option from ::
    assert na.type == 136 and na.dst == H.ALL_NODES


def test_na_claiming_our_address_is_a_conflict():
    st, w = H.make_stack()
    st.input(H.na(H.FW_IP, b"\x02\x00\x00\x00\x00\x77", flags=0x20, dst=H.ALL_NODES))
    assert st.ndp.dad_conflicts == 1
    st.input(H.na(H.FW_IP, b"\x02\x00\x00\x00\x00\x77", flags=0x20))
    assert st.ndp.dad_conflicts == 2
    assert w.take() == []
    # Solicited flag on a multicast NA is invalid.
    st.input(H.icmp(136, 0, bytes((0x60, 0, 0, 0)) + H.EV_IP, dst=H.ALL_NODES, hlim=255,
                    dmac=H.ALL_NODES_MAC))
    assert st.stats["nd_bad"] == 1


def test_resolution_of_unknown_neighbour_and_expiry():
    st, w = H.make_stack()
    # Echo request from a neighbour we do not know (no NS from it, no SDP): resolve first.
    st.input(H.icmp(128, 0, b"\x00\x01\x00\x01ping"))
    ns = w.one()
    assert ns.type == 135 and ns.dst == bytes.fromhex("ff0200000000000000000001ff0000e1")
    assert ns.dmac == b"\x33\x33\xff\x00\x00\xe1" and ns.data[4:20] == H.EV_IP
    assert ns.data[20:28] == b"\x01\x01" + H.FW_MAC and ns.hlim == 255  # SLLA option
    st.input(H.na(H.EV_IP, H.EV_MAC))
    st.input(H.icmp(128, 0, b"\x00\x01\x00\x02ping"))
    p = w.one()
    assert p.type == 129 and p.dmac == H.EV_MAC
    # NS retried once a second, at most 3 times, then given up.
    other = bytes.fromhex("fe800000000000000000000000000042")
    st.input(H.icmp(128, 0, b"\x00\x01\x00\x01ping", src=other))
    assert w.one().type == 135
    H.advance(st, 3500)
    sent = [p for p in w.take() if p.type == 135]
    assert len(sent) == 2
    assert st.stats["nd_unresolved"] == 1
    # After 30 s without confirmation an entry goes stale: still used, but re-probed.
    H.advance(st, 30000, 500)
    assert st.ndp.is_stale(H.EV_IP, 0)
    st.input(H.icmp(128, 0, b"\x00\x01\x00\x03ping"))
    f = w.take()
    assert [p.type for p in f] == [135, 129]
    H.advance(st, 3500)
    assert len(w.take()) == 2  # two more probes, unanswered
    assert st.ndp.entries() == []  # then forgotten


def test_echo_reply_copies_identifier_sequence_and_data():
    st, w = H.make_stack()
    st.input(H.ns())
    w.take()
    body = b"\xbe\xef\x00\x07" + bytes(range(200))
    st.input(H.icmp(128, 0, body))
    p = w.one()
    assert p.type == 129 and p.code == 0 and p.data == body and p.dst == H.EV_IP
    # To all-nodes too (as Linux does).
    st.input(H.icmp(128, 0, body, dst=H.ALL_NODES, dmac=H.ALL_NODES_MAC))
    assert w.one().type == 129
    # Bad checksum: dropped.
    f = bytearray(H.icmp(128, 0, body))
    f[-1] ^= 1
    st.input(bytes(f))
    assert w.take() == [] and st.stats["bad_csum"] == 1


def test_port_unreachable_for_closed_udp_port_rate_limited():
    st, w = H.make_stack()
    st.input(H.ns())
    w.take()
    f = H.udp(5000, 4444, b"anyone?", dst=H.FW_IP, hlim=64)
    st.input(f)
    p = w.one()
    assert p.type == 1 and p.code == 4
    assert p.data[4:] == f[14:]  # the invoking packet, from its IPv6 header
    st.input(f)
    assert w.take() == [] and st.stats["icmp_err_limited"] == 1
    H.advance(st, 150)
    # Never for a multicast destination.
    st.input(H.udp(5000, 4444, b"anyone?"))
    assert w.take() == []
    st.input(f)
    assert w.one().type == 1
