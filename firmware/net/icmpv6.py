"""ICMPv6 (RFC 4443): echo reply, destination unreachable, dispatch of NDP messages."""
from micropython import const
from lib import clock
from firmware.net import ipv6

_DEST_UNREACH = const(1)
_ECHO_REQ = const(128)
_ECHO_REP = const(129)
_NS = const(135)
_NA = const(136)
_MLD2_REPORT = const(143)
_MLD_CHANGE_TO_EXCLUDE = const(4)
_DEFAULT_HLIM = const(64)
# An error message must fit the IPv6 minimum MTU (RFC 4443 2.4 c).
_ERR_MAX = const(1280 - 40)
_ERR_GAP_MS = const(100)

CODE_ADDR_UNREACH = const(3)
CODE_PORT_UNREACH = const(4)


class Icmp:
    def __init__(self, stack):
        self.st = stack
        self._last_err = clock.ticks_add(clock.ticks_ms(), -_ERR_GAP_MS)

    def input(self, b, ip_off, l4_off, l4_len, hlim, dst_kind, src_mac_off):
        st = self.st
        if l4_len < 4:
            st.count("icmp_bad")
            return
        if ipv6.l4_sum(b, ip_off, l4_off, l4_len, ipv6.NH_ICMP) != 0xFFFF:
            st.count("bad_csum")
            return
        typ = b[l4_off]
        if typ == _NS or typ == _NA:
            st.ndp.input(b, ip_off, l4_off, l4_len, hlim, dst_kind, src_mac_off)
        elif typ == _ECHO_REQ:
            if b[l4_off + 1] != 0 or l4_len < 8:
                st.count("icmp_bad")
                return
            self._echo(b, ip_off, l4_off, l4_len, dst_kind)
        else:
            # RS/RA/MLD/redirects and errors are not ours to act on.
            st.count("icmp_ignored")

    def _echo(self, b, ip_off, l4_off, l4_len, dst_kind):
        st = self.st
        src = ip_off + 8
        if ipv6.is_unspecified(b, src):
            st.count("icmp_bad")
            return
        if l4_len > st.l4_max:
            st.count("icmp_bad")
            return
        st.count("echo_in")
        t = st.tx
        o = st.L4
        t[o] = _ECHO_REP
        t[o + 1] = 0
        t[o + 4:o + l4_len] = b[l4_off + 4:l4_off + l4_len]
        st.send_ip(b, src, ipv6.NH_ICMP, l4_len, _DEFAULT_HLIM, 2)

    def send_error(self, b, ip_off, ip_len, typ, code):
        """Error about the packet at b[ip_off:ip_off+ip_len]; rate limited, never to multicast."""
        st = self.st
        src = ip_off + 8
        if ipv6.is_multicast(b, ip_off + 24) or ipv6.is_unspecified(b, src) or ipv6.is_multicast(b, src):
            return False
        now = clock.ticks_ms()
        if clock.ticks_diff(now, self._last_err) < _ERR_GAP_MS:
            st.count("icmp_err_limited")
            return False
        self._last_err = now
        n = ip_len
        if n > _ERR_MAX - 8:
            n = _ERR_MAX - 8
        if n > st.l4_max - 8:
            n = st.l4_max - 8
        t = st.tx
        o = st.L4
        t[o] = typ
        t[o + 1] = code
        for k in range(4, 8):
            t[o + k] = 0
        t[o + 8:o + 8 + n] = b[ip_off:ip_off + n]
        st.count("icmp_err_out")
        return st.send_ip(b, src, ipv6.NH_ICMP, 8 + n, _DEFAULT_HLIM, 2)

    def mld_report(self, group):
        """MLDv2 report joining ``group`` (RFC 3810 5.2), so snooping switches forward it to us."""
        st = self.st
        t = st.tx_nd
        o = st.L4
        # Hop-by-hop header: Router Alert (MLD), then PadN to 8 bytes.
        t[o:o + 8] = b"\x3a\x00\x05\x02\x00\x00\x01\x00"
        i = o + 8
        t[i] = _MLD2_REPORT
        for k in range(1, 8):
            t[i + k] = 0
        t[i + 7] = 1  # one record
        t[i + 8] = _MLD_CHANGE_TO_EXCLUDE
        t[i + 9] = 0
        t[i + 10] = 0
        t[i + 11] = 0
        t[i + 12:i + 28] = group
        dst = b"\xff\x02" + bytes(13) + b"\x16"  # all MLDv2-capable routers
        return st._finish(t, st._txndmv, dst, 0, ipv6.NH_ICMP, 28, 1, 2, ipv6.multicast_mac(dst),
                          None, o + 8, ipv6.NH_HBH)

    def port_unreachable(self, b, ip_off, ip_len):
        return self.send_error(b, ip_off, ip_len, _DEST_UNREACH, CODE_PORT_UNREACH)
