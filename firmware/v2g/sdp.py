"""SECC Discovery Protocol server (ISO 15118-2 7.10.1, DIN SPEC 70121 8.7.3): UDP 15118 on ff02::1."""
from micropython import const
from lib import log
from firmware.v2g import v2gtp

_TAG = "sdp"
SDP_PORT = const(15118)
SEC_TLS = const(0x00)
SEC_NONE = const(0x10)
TRANSPORT_TCP = const(0x00)
_PORT_MIN = const(49152)  # the SECC's TCP port is from the dynamic range (ISO 15118-2 7.10.1.3)
_REQ_LEN = const(2)
_RES_LEN = const(20)


class SdpServer:
    """Answers SECC discovery requests with our address, TCP port, security and transport.

    ``tls_port``: when given, an EV asking for TLS gets that port and security TLS; without
    it every EV is offered plain TCP (the EV decides whether to go on).
    """

    def __init__(self, stack, tcp_port, tls_port=None):
        for p in (tcp_port, tls_port):
            if p is not None and not _PORT_MIN <= p <= 65535:
                raise ValueError("SECC port %d outside the dynamic range 49152-65535" % p)
        self.st = stack
        self.tcp_port = tcp_port
        self.tls_port = tls_port
        self.requests = 0
        self.invalid = 0
        stack.udp.bind(SDP_PORT, self._on_datagram)

    def close(self):
        self.st.udp.unbind(SDP_PORT)

    def _on_datagram(self, dg):
        b = dg.buf
        o = dg.data_off
        n = dg.data_len
        try:
            ptype, length = v2gtp.parse_header(b, o, n)
        except v2gtp.V2gtpError:
            self.invalid += 1
            return
        if ptype != v2gtp.PT_SDP_REQ or length != _REQ_LEN or n != v2gtp.HDR + _REQ_LEN:
            self.invalid += 1
            return
        sec = b[o + 8]
        transport = b[o + 9]
        if (sec != SEC_TLS and sec != SEC_NONE) or transport != TRANSPORT_TCP:
            # Unknown security or a transport other than TCP: nothing we can offer.
            self.invalid += 1
            return
        self.requests += 1
        if sec == SEC_TLS and self.tls_port is not None:
            port = self.tls_port
        else:
            sec = SEC_NONE
            port = self.tcp_port
        out = self.st.udp.out_buffer()
        v2gtp.write_header(out, 0, v2gtp.PT_SDP_RES, _RES_LEN)
        out[8:24] = self.st.ip
        out[24] = port >> 8
        out[25] = port & 0xFF
        out[26] = sec
        out[27] = TRANSPORT_TCP
        self.st.udp.reply(dg, v2gtp.HDR + _RES_LEN)
        log.debug(_TAG, "answered SDP from port %d: port %d security 0x%02x", dg.sport, port, sec)
