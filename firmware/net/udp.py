"""UDP (RFC 768 over IPv6, RFC 8200 8.1): checksummed datagrams to bound ports."""
from micropython import const
from firmware.net import ipv6

_HDR = const(8)
_DEFAULT_HLIM = const(64)


class Datagram:
    """The datagram being delivered; valid only during the handler call (reused)."""

    def __init__(self):
        self.buf = None
        self.src_off = 0  # offset of the source address in buf
        self.sport = 0
        self.dport = 0
        self.data_off = 0
        self.data_len = 0
        self.multicast = False

    def data(self):
        return self.buf[self.data_off:self.data_off + self.data_len]


class Udp:
    def __init__(self, stack):
        self.st = stack
        self._ports = []
        self._handlers = []
        self._dg = Datagram()

    def bind(self, port, handler):
        """``handler(datagram)`` is called synchronously for each datagram to ``port``."""
        if port in self._ports:
            raise ValueError("port %d bound" % port)
        self._ports.append(port)
        self._handlers.append(handler)

    def unbind(self, port):
        if port in self._ports:
            i = self._ports.index(port)
            self._ports.pop(i)
            self._handlers.pop(i)

    def input(self, b, ip_off, l4_off, l4_len, dst_kind):
        st = self.st
        if l4_len < _HDR:
            st.count("udp_bad")
            return
        ulen = (b[l4_off + 4] << 8) | b[l4_off + 5]
        if ulen < _HDR or ulen > l4_len:
            st.count("udp_bad")
            return
        if b[l4_off + 6] == 0 and b[l4_off + 7] == 0:
            st.count("udp_bad")  # the checksum is mandatory over IPv6
            return
        if ipv6.l4_sum(b, ip_off, l4_off, ulen, ipv6.NH_UDP) != 0xFFFF:
            st.count("bad_csum")
            return
        sport = (b[l4_off] << 8) | b[l4_off + 1]
        dport = (b[l4_off + 2] << 8) | b[l4_off + 3]
        if sport == 0 or dport == 0:
            st.count("udp_bad")
            return
        try:
            h = self._handlers[self._ports.index(dport)]
        except ValueError:
            st.count("udp_no_port")
            if dst_kind == 0:
                st.icmp.port_unreachable(b, ip_off, l4_off - ip_off + ulen)
            return
        st.count("udp_in")
        st.ndp.passive(b, ip_off + 8, b, 6)
        dg = self._dg
        dg.buf = b
        dg.src_off = ip_off + 8
        dg.sport = sport
        dg.dport = dport
        dg.data_off = l4_off + _HDR
        dg.data_len = ulen - _HDR
        dg.multicast = dst_kind != 0
        try:
            h(dg)
        finally:
            dg.buf = None

    def out_buffer(self):
        """Where a sender writes its payload before ``send`` (inside the stack's TX frame)."""
        return self.st.txmv[self.st.L4 + _HDR:]

    def send(self, dst, dst_off, sport, dport, n, hlim=_DEFAULT_HLIM):
        """Send the ``n`` payload bytes already written to ``out_buffer()``."""
        st = self.st
        if n > st.l4_max - _HDR:
            raise ValueError("UDP payload too large")
        t = st.tx
        o = st.L4
        ln = n + _HDR
        t[o] = sport >> 8
        t[o + 1] = sport & 0xFF
        t[o + 2] = dport >> 8
        t[o + 3] = dport & 0xFF
        t[o + 4] = ln >> 8
        t[o + 5] = ln & 0xFF
        return st.send_ip(dst, dst_off, ipv6.NH_UDP, ln, hlim, 6)

    def reply(self, dg, n):
        """Answer ``dg`` with ``n`` bytes from ``out_buffer()``."""
        return self.send(dg.buf, dg.src_off, dg.dport, dg.sport, n)
