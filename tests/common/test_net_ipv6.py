"""Ethernet/IPv6 layer: addresses, checksum, header validation, frame filtering."""
import struct
from firmware.net import eth, ipv6
from tests.common.support import raises
from tests.common import test_net_helpers as H


def test_link_local_is_modified_eui64():
    assert ipv6.link_local_from_mac(H.FW_MAC) == H.FW_IP
    # The universal/local bit is inverted: a universal MAC gets the 0x02 bit set.
    ll = ipv6.link_local_from_mac(b"\x00\xb0\x52\x12\x34\x56")
    assert ll == bytes.fromhex("fe8000000000000002b052fffe123456")


def test_solicited_node_and_multicast_mac():
    assert ipv6.solicited_node(H.FW_IP) == H.FW_SNM
    assert ipv6.multicast_mac(H.FW_SNM) == H.FW_SNM_MAC
    assert ipv6.multicast_mac(ipv6.ALL_NODES) == ipv6.ALL_NODES_MAC


def test_checksum_matches_independent_implementation():
    for n in (0, 1, 2, 3, 17, 100, 1001):
        seg = bytes((i * 7 + 3) & 0xFF for i in range(n))
        pkt = H.ip6(H.EV_IP, H.FW_IP, 17, seg)
        want = H.csum(H.EV_IP + H.FW_IP + struct.pack("!IxxxB", n, 17) + seg)
        got = ~ipv6.l4_sum(pkt, 0, 40, n, 17) & 0xFFFF
        assert got == want, n


def test_addr_text_roundtrip_and_errors():
    assert ipv6.parse_addr("fe80::ff:fe00:f01%eth0") == H.FW_IP
    assert ipv6.addr_str(H.FW_IP) == "fe80::ff:fe00:f01"
    assert ipv6.parse_addr("ff02::1") == ipv6.ALL_NODES
    for bad in ("1::2::3", "fe80:1", "12345::", "1:2:3:4:5:6:7:8:9"):
        raises(ValueError, ipv6.parse_addr, bad)


def test_mac_helpers():
    assert eth.parse_mac("02:00:00:00:0f:01") == H.FW_MAC
    assert eth.mac_str(H.FW_MAC) == "02:00:00:00:0f:01"
    raises(ValueError, eth.parse_mac, "02:00:00:00:0f")
    raises(ValueError, eth.parse_mac, "02:00:00:00:0f:1ff")


def _echo(dst=H.FW_IP, dmac=H.FW_MAC):
    return H.icmp(128, 0, b"\x12\x34\x00\x01hello", dst=dst, dmac=dmac)


def test_frames_not_for_us_are_ignored():
    st, w = H.make_stack()
    st.input(_echo(dmac=b"\x02\x00\x00\x00\x00\x99"))  # other unicast MAC
    st.input(_echo(dst=bytes.fromhex("fe800000000000000000000000000099")))  # other IP
    st.input(_echo(dmac=b"\xff" * 6))  # broadcast is not IPv6's
    st.input(_echo(dst=bytes.fromhex("ff020000000000000000000000000002"),
                   dmac=b"\x33\x33\x00\x00\x00\x02"))  # all-routers
    assert w.take() == []
    assert st.stats["not_for_us"] == 4
    st.input(H.ns())
    w.take()
    st.input(_echo())
    assert [p.type for p in w.take()] == [129]


def test_own_frames_and_other_ethertypes():
    st, w = H.make_stack()
    got = []
    st.on_ethertype(0x88E1, lambda f: got.append(bytes(f)))
    st.input(H.frame(H.EV_MAC, H.FW_MAC, b"x" * 46))  # our own, looped back
    st.input(H.frame(H.FW_MAC, H.EV_MAC, b"slac" + bytes(42), 0x88E1))
    st.input(H.frame(H.FW_MAC, H.EV_MAC, bytes(46), 0x0800))
    assert st.stats["own"] == 1 and st.stats["other_ethertype"] == 1
    assert len(got) == 1 and got[0][14:18] == b"slac"
    assert w.take() == []


def test_malformed_ipv6_headers_are_counted_and_dropped():
    st, w = H.make_stack()
    good = _echo()
    cases = [
        good[:13],                                            # shorter than Ethernet
        good[:14 + 39],                                       # shorter than IPv6
        good[:14] + b"\x40" + good[15:],                      # version 4
        good[:18] + b"\x00\x00" + good[20:],                  # payload length 0 (jumbo)
        good[:18] + b"\x05\xdc" + good[20:],                  # payload length > frame
        good[:22] + b"\xff" + good[23:],                      # multicast source
    ]
    for f in cases:
        st.input(f)
    assert w.take() == []
    assert st.stats.get("short", 0) + st.stats.get("ip_bad", 0) == len(cases)
    assert st.stats.get("internal_error", 0) == 0
    # Ethernet padding after the IPv6 payload is fine.
    st.input(H.ns())
    w.take()
    st.input(good + bytes(20))
    assert [p.type for p in w.take()] == [129]


def _with_ext(ext_nh, ext, final_nh=58):
    icmp = H.icmp(128, 0, b"\x00\x01\x00\x01abc")
    inner = icmp[14 + 40:]
    payload = ext + inner
    pkt = struct.pack("!IHBB", 6 << 28, len(payload), ext_nh, 64) + H.EV_IP + H.FW_IP + payload
    return H.frame(H.FW_MAC, H.EV_MAC, pkt)


def test_extension_headers_walked_with_bounds():
    st, w = H.make_stack()
    st.input(H.ns())
    w.take()
    # Hop-by-hop with PadN then ICMPv6: accepted.
    st.input(_with_ext(0, bytes((58, 0, 1, 4, 0, 0, 0, 0))))
    assert [p.type for p in w.take()] == [129]
    # Destination options whose length runs past the packet: dropped.
    st.input(_with_ext(60, bytes((58, 200, 1, 4, 0, 0, 0, 0))))
    # Routing header with segments left: dropped.
    st.input(_with_ext(43, bytes((58, 0, 0, 1, 0, 0, 0, 0))))
    # Router Alert is fine; an unknown option that must not be skipped (0x80) is not.
    st.input(_with_ext(0, bytes((58, 0, 5, 2, 0, 0, 1, 0))))
    assert [p.type for p in w.take()] == [129]
    st.input(_with_ext(0, bytes((58, 0, 0x80, 2, 0, 0, 1, 0))))
    st.input(_with_ext(0, bytes((58, 0, 1, 9, 0, 0, 0, 0))))  # PadN running past the header
    # Fragment header: counted, dropped.
    st.input(_with_ext(44, bytes((58, 0, 0, 0, 0, 0, 0, 1))))
    assert w.take() == []
    assert st.stats["ip_bad"] == 4 and st.stats["ip_fragment"] == 1
