"""The IPv6 host of the V2G link: Ethernet frames in, Ethernet frames out.

``Stack(mac, send_frame)``: feed received frames to ``input()``, call ``poll()`` every
few tens of ms (or run ``run_timers()`` as a task), and use ``udp`` / ``tcp_listen`` above.
``send_frame(memoryview)`` must send (or copy) the frame before returning.
Nothing raises out of ``input()``: bad frames are counted in ``stats`` and dropped.
"""
from micropython import const
from lib import clock, log
from firmware.net import eth, ipv6
from firmware.net.eth import same
from firmware.net.ndp import Ndp
from firmware.net.icmpv6 import Icmp
from firmware.net.udp import Udp
from firmware.net.tcp import Tcp

_TAG = "net"
_L4 = const(54)  # Ethernet 14 + IPv6 40
_ND_FRAME = const(54 + 40)  # NS/NA with one option, or an MLD report with its hop-by-hop header


class Stack:
    """One interface, one link-local address (modified EUI-64 of ``mac``)."""

    def __init__(self, mac, send_frame, tcp_slots=2, tcp_rx=4096, tcp_tx=4096,
                 idle_ms=60000, neighbours=4):
        self.mac = bytes(mac)
        self.ip = ipv6.link_local_from_mac(self.mac)
        self.snm = ipv6.solicited_node(self.ip)
        self.snm_mac = ipv6.multicast_mac(self.snm)
        self.L4 = _L4
        self.l4_max = eth.MAX_FRAME - _L4
        self.tx = bytearray(eth.MAX_FRAME)
        self.txmv = memoryview(self.tx)
        # NDP answers have their own small frame: resolving a neighbour must not clobber
        # the packet being built in ``tx``.
        self.tx_nd = bytearray(_ND_FRAME)
        self._txndmv = memoryview(self.tx_nd)
        self._send = send_frame
        self.stats = {}
        self._eth_types = []
        self._eth_handlers = []
        self.ndp = Ndp(self, neighbours)
        self.icmp = Icmp(self)
        self.udp = Udp(self)
        self.tcp = Tcp(self, tcp_slots, tcp_rx, tcp_tx, idle_ms)

    # ---- API ---------------------------------------------------------------------
    def start(self):
        """Announce ourselves: MLD join of our solicited-node group, DAD probe, unsolicited NA."""
        log.info(_TAG, "address %s on %s", ipv6.addr_str(self.ip), eth.mac_str(self.mac))
        self.icmp.mld_report(self.snm)
        self.ndp.announce()

    def tcp_listen(self, port):
        return self.tcp.listen(port)

    def on_ethertype(self, etype, handler):
        """Frames of another Ethertype (e.g. HomePlug 0x88E1) go to ``handler(frame_mv)``."""
        self._eth_types.append(etype)
        self._eth_handlers.append(handler)

    def count(self, name):
        self.stats[name] = self.stats.get(name, 0) + 1

    def ram(self):
        """Bytes of preallocated buffers (frames, TCP rings)."""
        return len(self.tx) + len(self.tx_nd) + self.tcp.ram() + self.ndp.n * 22

    def poll(self, now=None):
        """Run the timers (NDP retries and expiry, TCP retransmission, delayed ACK, ...)."""
        if now is None:
            now = clock.ticks_ms()
        try:
            self.ndp.poll(now)
            self.tcp.poll(now)
        except Exception as e:  # a bug here must not stop the link
            self.count("internal_error")
            log.error(_TAG, "poll: %r", e)

    async def run_timers(self, period_ms=20):
        while True:
            self.poll()
            await clock.sleep_ms(period_ms)

    # ---- input -------------------------------------------------------------------
    def input(self, frame):
        """One received Ethernet frame (bytes/bytearray/memoryview, FCS stripped)."""
        self.count("rx")
        try:
            self._input(frame if isinstance(frame, memoryview) else memoryview(frame))
        except Exception as e:
            self.count("internal_error")
            log.error(_TAG, "input: %r", e)

    def _input(self, b):
        n = len(b)
        if n < eth.HDR:
            self.count("short")
            return
        etype = (b[12] << 8) | b[13]
        if same(b, 6, self.mac, 6):
            self.count("own")  # our own frame looped back by the link
            return
        if etype != eth.ETH_IPV6:
            try:
                h = self._eth_handlers[self._eth_types.index(etype)]
            except ValueError:
                self.count("other_ethertype")
                return
            h(b)
            return
        if b[0] & 1:
            if same(b, 0, ipv6.ALL_NODES_MAC, 6) or same(b, 0, self.snm_mac, 6):
                pass
            else:
                self.count("not_for_us")
                return
        elif not same(b, 0, self.mac, 6):
            self.count("not_for_us")
            return
        if n < _L4:
            self.count("ip_bad")
            return
        if b[14] >> 4 != 6:
            self.count("ip_bad")
            return
        plen = (b[18] << 8) | b[19]
        if plen == 0 or _L4 + plen > n:
            self.count("ip_bad")  # jumbogram or truncated; Ethernet padding beyond is fine
            return
        if b[22] == 0xFF:
            self.count("ip_bad")  # multicast source
            return
        if same(b, 38, self.ip, 16):
            kind = 0
        elif same(b, 38, ipv6.ALL_NODES, 16):
            kind = 1
        elif same(b, 38, self.snm, 16):
            kind = 2
        else:
            self.count("not_for_us")
            return
        nh = b[20]
        hlim = b[21]
        off = _L4
        end = _L4 + plen
        while nh == ipv6.NH_HBH or nh == ipv6.NH_DSTOPT or nh == ipv6.NH_ROUTING:
            if (nh == ipv6.NH_HBH and off != _L4) or off + 8 > end:
                self.count("ip_bad")
                return
            ln = (b[off + 1] + 1) * 8
            if off + ln > end or (nh == ipv6.NH_ROUTING and b[off + 3] != 0):
                self.count("ip_bad")
                return
            if nh != ipv6.NH_ROUTING and not self._options_ok(b, off + 2, off + ln):
                self.count("ip_bad")
                return
            nh = b[off]
            off += ln
        ln = end - off
        if nh == ipv6.NH_ICMP:
            self.icmp.input(b, 14, off, ln, hlim, kind, 6)
        elif nh == ipv6.NH_TCP:
            self.tcp.input(b, 14, off, ln, kind)
        elif nh == ipv6.NH_UDP:
            self.udp.input(b, 14, off, ln, kind)
        elif nh == ipv6.NH_FRAG:
            self.count("ip_fragment")  # the V2G link never needs fragments
        elif nh != ipv6.NH_NONE:
            self.count("ip_unknown_nh")

    @staticmethod
    def _options_ok(b, i, end):
        """Hop-by-hop / destination options (RFC 8200 4.2): bounded TLVs, only skippable unknowns."""
        while i < end:
            t = b[i]
            if t == 0:  # Pad1
                i += 1
                continue
            if i + 2 > end or i + 2 + b[i + 1] > end:
                return False
            if t != 1 and t != 5 and t >> 6:
                return False  # unknown option whose action is not "skip"; we send no Parameter Problem
            i += 2 + b[i + 1]
        return True

    # ---- output ------------------------------------------------------------------
    def send_ip(self, dst, dst_off, nh, l4_len, hlim, csum_off, dst_mac=None, src=None, buf=None):
        """Send the upper-layer data at buf[54:54+l4_len] (default buf: ``tx``) to dst.

        Fills in the IPv6 and Ethernet headers and the checksum at ``csum_off`` of the
        upper layer. Returns False when the neighbour is still being resolved.
        """
        if buf is None:
            buf = self.tx
            mv = self.txmv
        else:
            mv = self._txndmv
        return self._finish(buf, mv, dst, dst_off, nh, l4_len, hlim, csum_off, dst_mac, src, _L4, nh)

    def _finish(self, buf, mv, dst, dst_off, nh, l4_len, hlim, csum_off, dst_mac, src, l4_off, first_nh):
        """Headers and checksum for upper-layer data at buf[l4_off:], then send.

        ``first_nh`` differs from ``nh`` when an extension header sits between (MLD).
        """
        if dst_mac is None:
            if dst[dst_off] == 0xFF:
                dst_mac = ipv6.multicast_mac(dst, dst_off)
            else:
                dst_mac = self.ndp.lookup(dst, dst_off)
                if dst_mac is None:
                    self.count("tx_unresolved")
                    return False
        ext = l4_off - _L4
        ipv6.write_header(buf, 14, ext + l4_len, first_nh, hlim, self.ip if src is None else src, dst, dst_off)
        eth.write_header(buf, dst_mac, self.mac, eth.ETH_IPV6)
        c = l4_off + csum_off
        buf[c] = 0
        buf[c + 1] = 0
        v = ~ipv6.l4_sum(buf, 14, l4_off, l4_len, nh) & 0xFFFF
        if v == 0 and nh == ipv6.NH_UDP:
            v = 0xFFFF
        buf[c] = v >> 8
        buf[c + 1] = v & 0xFF
        self.count("tx")
        try:
            self._send(mv[:l4_off + l4_len])
        except Exception as e:
            self.count("tx_error")
            log.warn(_TAG, "send: %r", e)
            return False
        return True
