"""Neighbour Discovery (RFC 4861) for one link: NS/NA both ways, DAD, a small neighbour cache."""
from micropython import const
from lib import clock, log
from firmware.net import ipv6
from firmware.net.eth import same

_TAG = "ndp"
_NS = const(135)
_NA = const(136)
_OPT_SLLA = const(1)
_OPT_TLLA = const(2)
_NDP_HLIM = const(255)
_FLAG_S = const(0x40)
_FLAG_O = const(0x20)

_FREE = const(0)
_INCOMPLETE = const(1)
_REACHABLE = const(2)
_STALE = const(3)  # still used for sending, re-probed on first use (RFC 4861 7.3.2, simplified)

_REACHABLE_MS = const(30000)
_RETRANS_MS = const(1000)
_MAX_SOLICIT = const(3)


class Ndp:
    """Neighbour cache (fixed ``size`` entries) and the NS/NA exchange of one interface."""

    def __init__(self, stack, size=4):
        self.st = stack
        self.n = size
        self.ip = [bytearray(16) for _ in range(size)]
        self.mac = [bytearray(6) for _ in range(size)]
        self.state = [_FREE] * size
        self.stamp = [0] * size  # REACHABLE: last confirmation; INCOMPLETE/STALE: last NS sent
        self.tries = [0] * size
        self.dad_conflicts = 0

    # ---- cache -------------------------------------------------------------------
    def _find(self, buf, off):
        for i in range(self.n):
            if self.state[i] != _FREE and same(buf, off, self.ip[i], 16):
                return i
        return -1

    def _slot(self):
        """A free entry, else the oldest one (the cache is tiny; the car is the one that matters)."""
        best = 0
        now = clock.ticks_ms()
        age = -1
        for i in range(self.n):
            if self.state[i] == _FREE:
                return i
            a = clock.ticks_diff(now, self.stamp[i])
            if a > age:
                age = a
                best = i
        return best

    def learn(self, buf, ip_off, mbuf, moff):
        """Record (or refresh) ip -> mac as reachable."""
        i = self._find(buf, ip_off)
        if i < 0:
            i = self._slot()
            for k in range(16):
                self.ip[i][k] = buf[ip_off + k]
        m = self.mac[i]
        for k in range(6):
            m[k] = mbuf[moff + k]
        self.state[i] = _REACHABLE
        self.stamp[i] = clock.ticks_ms()
        self.tries[i] = 0

    def confirm(self, buf, ip_off):
        """Upper-layer proof of reachability (RFC 4861 7.3.1): refresh an existing entry."""
        i = self._find(buf, ip_off)
        if i >= 0 and (self.state[i] == _REACHABLE or self.state[i] == _STALE):
            self.state[i] = _REACHABLE
            self.tries[i] = 0
            self.stamp[i] = clock.ticks_ms()

    def passive(self, buf, ip_off, mbuf, moff):
        """Link-local source of a valid packet: take its MAC unless we know one already.

        Saves a round of NS/NA before answering the car's first datagram (its SDP request)
        on this point-to-point link.
        """
        if buf[ip_off] != 0xFE or buf[ip_off + 1] != 0x80:
            return
        i = self._find(buf, ip_off)
        if i < 0 or self.state[i] == _INCOMPLETE:
            self.learn(buf, ip_off, mbuf, moff)

    def lookup(self, buf, off):
        """MAC for a unicast neighbour, or None after starting resolution."""
        i = self._find(buf, off)
        if i >= 0 and self.state[i] == _REACHABLE:
            return self.mac[i]
        if i >= 0 and self.state[i] == _STALE:
            if self.tries[i] == 0:
                self._solicit(i)  # verify it, but keep sending meanwhile
            return self.mac[i]
        if i < 0:
            i = self._slot()
            for k in range(16):
                self.ip[i][k] = buf[off + k]
            self.state[i] = _INCOMPLETE
            self.tries[i] = 0
        elif self.tries[i] and clock.ticks_diff(clock.ticks_ms(), self.stamp[i]) < _RETRANS_MS:
            return None  # one NS per second per target, the poll retries
        self._solicit(i)
        return None

    def entries(self):
        """[(ip bytes, mac bytes or None)] for reports and tests."""
        out = []
        for i in range(self.n):
            if self.state[i] != _FREE:
                out.append((bytes(self.ip[i]), None if self.state[i] == _INCOMPLETE else bytes(self.mac[i])))
        return out

    def is_stale(self, buf, off):
        i = self._find(buf, off)
        return i >= 0 and self.state[i] == _STALE

    def poll(self, now):
        for i in range(self.n):
            s = self.state[i]
            if s == _REACHABLE:
                if clock.ticks_diff(now, self.stamp[i]) >= _REACHABLE_MS:
                    self.state[i] = _STALE
                    self.tries[i] = 0
            elif (s == _INCOMPLETE or (s == _STALE and self.tries[i])) and \
                    clock.ticks_diff(now, self.stamp[i]) >= _RETRANS_MS:
                if self.tries[i] >= _MAX_SOLICIT:
                    self.state[i] = _FREE
                    self.st.count("nd_unresolved")
                else:
                    self._solicit(i)

    # ---- output ------------------------------------------------------------------
    def _solicit(self, i):
        self.tries[i] += 1
        self.stamp[i] = clock.ticks_ms()
        self.send_ns(self.ip[i], False)

    def send_ns(self, target, dad):
        """Multicast NS for ``target`` (DAD: from ::, without source link-layer option)."""
        st = self.st
        t = st.tx_nd
        o = st.L4
        t[o] = _NS
        t[o + 1] = 0
        for k in range(2, 8):
            t[o + k] = 0
        for k in range(16):
            t[o + 8 + k] = target[k]
        n = 24
        if not dad:
            t[o + 24] = _OPT_SLLA
            t[o + 25] = 1
            t[o + 26:o + 32] = st.mac
            n = 32
        dst = ipv6.solicited_node(target)
        return st.send_ip(dst, 0, ipv6.NH_ICMP, n, _NDP_HLIM, 2, ipv6.multicast_mac(dst),
                          ipv6.UNSPECIFIED if dad else None, t)

    def send_na(self, dst, dst_off, dst_mac, solicited):
        st = self.st
        t = st.tx_nd
        o = st.L4
        t[o] = _NA
        t[o + 1] = 0
        t[o + 4] = _FLAG_O | (_FLAG_S if solicited else 0)
        t[o + 5] = 0
        t[o + 6] = 0
        t[o + 7] = 0
        for k in range(16):
            t[o + 8 + k] = st.ip[k]
        t[o + 24] = _OPT_TLLA
        t[o + 25] = 1
        t[o + 26:o + 32] = st.mac
        return st.send_ip(dst, dst_off, ipv6.NH_ICMP, 32, _NDP_HLIM, 2, dst_mac, None, t)

    def announce(self):
        """Start-up: DAD probe for our address, then an unsolicited NA to all nodes."""
        self.send_ns(self.st.ip, True)
        self.send_na(ipv6.ALL_NODES, 0, ipv6.ALL_NODES_MAC, False)

    # ---- input -------------------------------------------------------------------
    def _lladdr(self, b, off, end, want):
        """Offset of the link-layer address option ``want``, -1 if absent, -2 if options malformed."""
        found = -1
        while off < end:
            if off + 2 > end:
                return -2
            ln = b[off + 1] * 8
            if ln == 0 or off + ln > end:
                return -2
            if b[off] == want:
                if ln != 8:
                    return -2  # Ethernet: exactly one 8-byte unit (RFC 4861 4.6.1, RFC 2464 8)
                found = off + 2
            off += ln
        return found

    def input(self, b, ip_off, l4_off, l4_len, hlim, dst_kind, src_mac_off):
        """An NS or NA whose ICMPv6 checksum is already verified. dst_kind: 0 ours, 1 all-nodes, 2 SNM."""
        st = self.st
        typ = b[l4_off]
        if hlim != _NDP_HLIM or b[l4_off + 1] != 0 or l4_len < 24:
            st.count("nd_bad")
            return
        tgt = l4_off + 8
        if ipv6.is_multicast(b, tgt):
            st.count("nd_bad")
            return
        src = ip_off + 8
        src_unspec = ipv6.is_unspecified(b, src)
        if typ == _NS:
            ll = self._lladdr(b, l4_off + 24, l4_off + l4_len, _OPT_SLLA)
            if ll == -2 or (src_unspec and (dst_kind != 2 or ll >= 0)):
                st.count("nd_bad")
                return
            if not same(b, tgt, st.ip, 16):
                return  # not our address: silently ignored
            st.count("ns_in")
            if src_unspec:
                # Someone's DAD for our address: defend it (RFC 4862 5.4.3).
                self.send_na(ipv6.ALL_NODES, 0, ipv6.ALL_NODES_MAC, False)
                return
            # Without a source link-layer option (unicast NS) the frame's source is the neighbour.
            self.learn(b, src, b, ll if ll >= 0 else src_mac_off)
            self.send_na(b, src, self.mac[self._find(b, src)], True)
            st.count("na_out")
        elif typ == _NA:
            if dst_kind != 0 and b[l4_off + 4] & _FLAG_S:
                st.count("nd_bad")
                return
            ll = self._lladdr(b, l4_off + 24, l4_off + l4_len, _OPT_TLLA)
            if ll == -2:
                st.count("nd_bad")
                return
            st.count("na_in")
            if same(b, tgt, st.ip, 16):
                self.dad_conflicts += 1
                log.error(_TAG, "another node claims our address %s", ipv6.addr_str(st.ip))
                return
            i = self._find(b, tgt)
            if i >= 0 and ll >= 0:
                self.learn(b, tgt, b, ll)
