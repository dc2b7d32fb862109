"""V2GTP framing: 8-byte header (version, inverse version, payload type, length) + payload.

Header error handling (our reading of ISO 15118-2 7.8.3.2 / DIN SPEC 70121 8.7.3.2):
a wrong version / inverse version or a payload longer than we can hold ends the TCP
connection; an unknown payload type is skipped and the connection stays up.
"""
from micropython import const
from lib import log

_TAG = "v2gtp"
VERSION = const(0x01)
HDR = const(8)
PT_EXI = const(0x8001)
PT_SDP_REQ = const(0x9000)
PT_SDP_RES = const(0x9001)
# ISO 15118-20 payload types (accepted on TCP so a -20 EV is not cut off).
_PT_20_FIRST = const(0x8002)
_PT_20_LAST = const(0x8006)
DEFAULT_MAX = const(8192)


class V2gtpError(ValueError):
    pass


def write_header(buf, off, ptype, length):
    buf[off] = VERSION
    buf[off + 1] = VERSION ^ 0xFF
    buf[off + 2] = ptype >> 8
    buf[off + 3] = ptype & 0xFF
    buf[off + 4] = (length >> 24) & 0xFF
    buf[off + 5] = (length >> 16) & 0xFF
    buf[off + 6] = (length >> 8) & 0xFF
    buf[off + 7] = length & 0xFF


def parse_header(buf, off=0, n=-1):
    """(payload type, payload length) of the header at buf[off:]; V2gtpError if invalid."""
    if n < 0:
        n = len(buf) - off
    if n < HDR:
        raise V2gtpError("short header")
    if buf[off] != VERSION or buf[off + 1] != VERSION ^ 0xFF:
        raise V2gtpError("bad version %d/%d" % (buf[off], buf[off + 1]))
    ptype = (buf[off + 2] << 8) | buf[off + 3]
    length = (buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]
    return ptype, length


def known_tcp_type(ptype):
    return ptype == PT_EXI or _PT_20_FIRST <= ptype <= _PT_20_LAST


class V2gtpConnection:
    """Messages over one TCP connection (``firmware.net.tcp.Conn``), using caller-owned buffers.

    ``recv()`` returns (payload type, memoryview of the payload), valid until the next
    ``recv()``; None when the connection has ended.
    """

    def __init__(self, conn, rxbuf=None, max_payload=DEFAULT_MAX):
        self.conn = conn
        if rxbuf is None:
            rxbuf = bytearray(HDR + max_payload)
        self.buf = rxbuf
        self.mv = memoryview(rxbuf)
        self.max_payload = len(rxbuf) - HDR
        self._hdr = bytearray(HDR)
        self.errors = 0
        self.skipped = 0

    async def recv(self):
        c = self.conn
        mv = self.mv
        while True:
            if not await c.read_exactly(mv, HDR):
                return None
            try:
                ptype, length = parse_header(mv, 0, HDR)
            except V2gtpError as e:
                self.errors += 1
                log.warn(_TAG, "%s: closing", e)
                c.abort()
                return None
            if length > self.max_payload:
                self.errors += 1
                log.warn(_TAG, "payload of %d bytes exceeds %d: closing", length, self.max_payload)
                c.abort()
                return None
            if not known_tcp_type(ptype):
                # Unknown payload type: discard the message, keep the connection.
                self.skipped += 1
                log.warn(_TAG, "unknown payload type 0x%04x skipped", ptype)
                left = length
                while left:
                    k = left if left < len(self.buf) else len(self.buf)
                    if not await c.read_exactly(mv, k):
                        return None
                    left -= k
                continue
            if not await c.read_exactly(mv[HDR:], length):
                return None
            return ptype, mv[HDR:HDR + length]

    async def send(self, payload, ptype=PT_EXI, n=-1):
        """Header + payload (the first ``n`` bytes) queued on the connection."""
        if n < 0:
            n = len(payload)
        write_header(self._hdr, 0, ptype, n)
        await self.conn.write(self._hdr, 0, HDR, n == 0)
        if n:
            await self.conn.write(payload, 0, n)

    def close(self):
        self.conn.close()


class V2gtpServer:
    """Accepts V2GTP connections on ``port``; one receive buffer shared by all (one car at a time)."""

    def __init__(self, stack, port, max_payload=DEFAULT_MAX):
        self.port = port
        self.listener = stack.tcp_listen(port)
        self.rxbuf = bytearray(HDR + max_payload)

    async def accept(self):
        conn = await self.listener.accept()
        return V2gtpConnection(conn, self.rxbuf)
