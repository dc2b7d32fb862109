"""WebSocket protocol pieces for ``ws``: errors, URL and TLS helpers, the HTTP upgrade,
the buffered reader and the masking loop (RFC 6455). Kept apart from the connection
class so that each module compiles in a small heap."""
import binascii
import hashlib
import random

from micropython import const

CLOSE_NORMAL = const(1000)
CLOSE_GOING_AWAY = const(1001)
CLOSE_PROTOCOL = const(1002)
CLOSE_NO_STATUS = const(1005)
CLOSE_ABNORMAL = const(1006)
CLOSE_BAD_DATA = const(1007)
CLOSE_TOO_BIG = const(1009)
CLOSE_TLS = const(1015)

# Reads go through one small buffer: frame headers are parsed in place and HTTP
# header lines are bounded by it.
RX_CHUNK = const(512)
_MAX_HEADERS = const(48)
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsError(Exception):
    """Base class of everything the peer can get wrong."""


class HandshakeError(WsError):
    """The HTTP upgrade failed; ``status`` is the HTTP status (0 if none/not HTTP)."""

    def __init__(self, msg, status=0):
        super().__init__(msg)
        self.status = status


class ProtocolError(WsError):
    """The server broke RFC 6455; ``code`` is the close code we failed the connection with."""

    def __init__(self, msg, code=CLOSE_PROTOCOL):
        super().__init__(msg)
        self.code = code


class MessageTooBig(ProtocolError):
    """A message exceeded ``max_message`` (closed with 1009)."""


class ConnectionClosed(WsError):
    """The connection is closed: ``code``/``reason`` of the close frame, 1006 if it was lost."""

    def __init__(self, code, reason=""):
        super().__init__("closed %d %s" % (code, reason))
        self.code = code
        self.reason = reason


class TlsError(ConnectionClosed):
    """TLS failed: the server's certificate was refused (not signed by the configured
    CA, wrong name, expired) or the TLS session broke. Close code 1015."""

    def __init__(self, reason):
        super().__init__(CLOSE_TLS, reason)


def parse_url(url):
    """Split ``ws[s]://host[:port][/path]`` into (secure, host, port, path)."""
    if url.startswith("ws://"):
        secure, rest, port = False, url[5:], 80
    elif url.startswith("wss://"):
        secure, rest, port = True, url[6:], 443
    else:
        raise ValueError("not a ws:// or wss:// URL")
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if "@" in hostport:
        raise ValueError("credentials in the URL are not supported")
    host, port = split_host_port(hostport, port)
    return secure, host, port, path


def split_host_port(hostport, port):
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` as (host, port); ``port`` is the
    scheme's default. ValueError when malformed (ws:// and http:// URLs share this)."""
    if hostport.startswith("["):
        j = hostport.find("]")
        if j < 0:
            raise ValueError("bad IPv6 literal")
        host, tail = hostport[1:j], hostport[j + 1:]
    else:
        j = hostport.rfind(":")
        host, tail = (hostport, "") if j < 0 else (hostport[:j], hostport[j:])
    if tail:
        if not tail.startswith(":") or not tail[1:].isdigit():
            raise ValueError("bad port")
        port = int(tail[1:])
    if not host or not 0 < port < 65536:
        raise ValueError("bad host or port")
    return host, port


def pem_to_der(pem):
    """First certificate of a PEM text (str or bytes) as DER bytes (MicroPython's cadata)."""
    if isinstance(pem, str):
        pem = pem.encode()
    begin = pem.find(b"-----BEGIN CERTIFICATE-----")
    end = pem.find(b"-----END CERTIFICATE-----")
    if begin < 0 or end < begin:
        raise ValueError("no PEM certificate")
    body = pem[begin + 27:end].replace(b"\r", b"").replace(b"\n", b"").replace(b" ", b"")
    return binascii.a2b_base64(body)


def basic_password(authorization_key):
    """HTTP Basic password for an OCPP 1.6 AuthorizationKey: 32-40 hex digits stand for
    the 16-20 key bytes and are sent decoded (security whitepaper; OCTT TC_085_CS),
    anything else is sent as it is."""
    k = authorization_key.encode() if isinstance(authorization_key, str) else authorization_key
    if 32 <= len(k) <= 40 and not len(k) & 1:
        try:
            return binascii.unhexlify(k)
        except ValueError:
            pass
    return k


def tls_context(cadata):
    """Client TLS context that verifies the server against the CA ``cadata`` (DER bytes)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # MicroPython's client context does not verify unless told to.
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=cadata)
    return ctx


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (both base64 bytes)."""
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest())[:-1]


def _random_bytes(n):
    try:
        import os

        return os.urandom(n)
    except (ImportError, AttributeError, OSError):
        return bytes(random.getrandbits(8) for _ in range(n))


def mask(buf, start, end, m0, m1, m2, m3):
    """XOR buf[start:end] in place with the mask bytes, phase 0 at ``start``."""
    # Plain bytecode on purpose: @micropython.native measured no faster on the unix port
    # (about 7 MB/s either way) and would tie the .mpy to one architecture.
    i = start
    stop = start + ((end - start) & ~3)
    while i < stop:
        buf[i] ^= m0
        buf[i + 1] ^= m1
        buf[i + 2] ^= m2
        buf[i + 3] ^= m3
        i += 4
    if i < end:
        buf[i] ^= m0
        if i + 1 < end:
            buf[i + 1] ^= m1
            if i + 2 < end:
                buf[i + 2] ^= m2


class Reader:
    """Buffered reads over an asyncio stream: headers parsed in place, bodies read
    straight into the caller's buffer (readinto on MicroPython)."""

    def __init__(self, stream):
        self.s = stream
        self.buf = bytearray(RX_CHUNK)
        self.mv = memoryview(self.buf)
        self.lo = 0
        self.hi = 0
        self.into = hasattr(stream, "readinto")

    async def _some(self, mv):
        try:
            if self.into:
                n = None
                while n is None:  # a TLS record may be incomplete: wait for more
                    n = await self.s.readinto(mv)
            else:
                data = await self.s.read(len(mv))
                n = len(data)
                mv[:n] = data
        except OSError as e:
            raise ConnectionClosed(CLOSE_ABNORMAL, "read failed: %s" % e)
        except ValueError as e:  # MicroPython's TLS reports its failures so
            raise TlsError("TLS: %s" % (str(e).strip() or "failed"))
        if not n:
            raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")
        return n

    async def need(self, n):
        """Make ``n`` (<= RX_CHUNK) bytes available at buf[lo:]."""
        if self.hi - self.lo >= n:
            return
        if self.lo:
            b = self.buf
            k = self.hi - self.lo
            for i in range(k):  # a partial frame header or header line: short
                b[i] = b[self.lo + i]
            self.lo, self.hi = 0, k
        while self.hi - self.lo < n:
            self.hi += await self._some(self.mv[self.hi:])

    async def readinto(self, mv, n):
        """Fill mv[:n] exactly."""
        k = self.hi - self.lo
        if k:
            k = min(k, n)
            mv[:k] = self.mv[self.lo:self.lo + k]
            self.lo += k
        while k < n:
            k += await self._some(mv[k:n])

    async def readline(self):
        """One header line (without CR LF) as bytes; a line longer than the buffer fails."""
        start = 0
        while True:
            b = self.buf
            for i in range(self.lo + start, self.hi):
                if b[i] == 10:
                    line = bytes(self.mv[self.lo:i])
                    self.lo = i + 1
                    return line[:-1] if line.endswith(b"\r") else line
            start = self.hi - self.lo
            if start >= RX_CHUNK:
                raise HandshakeError("HTTP header line too long")
            await self.need(start + 1)


async def handshake(rd, w, ws):
    """HTTP upgrade for the WebSocket ``ws`` over reader ``rd`` / writer ``w``; returns
    the subprotocol the server chose."""
    key = binascii.b2a_base64(_random_bytes(16))[:-1]
    host = ("[%s]" % ws.host) if ":" in ws.host else ws.host
    if ws.port != (443 if ws.secure else 80):
        host = "%s:%d" % (host, ws.port)
    lines = ["GET %s HTTP/1.1" % ws.path, "Host: " + host, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key.decode(),
             "Sec-WebSocket-Version: 13"]
    if ws.subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(ws.subprotocols))
    if ws.auth:
        user, pw = ws.auth
        cred = (user if isinstance(user, bytes) else user.encode()) + b":" + \
            (pw if isinstance(pw, bytes) else pw.encode())
        lines.append("Authorization: Basic " + binascii.b2a_base64(cred)[:-1].decode())
    if ws.headers:
        for name in ws.headers:
            lines.append("%s: %s" % (name, ws.headers[name]))
    lines.append("\r\n")
    w.write("\r\n".join(lines).encode())
    await w.drain()

    status_line = await rd.readline()
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HandshakeError("not an HTTP response")
    status = int(parts[1])
    hdr = {}
    for _ in range(_MAX_HEADERS):
        line = await rd.readline()
        if not line:
            break
        i = line.find(b":")
        if i <= 0:
            raise HandshakeError("bad HTTP header line", status)
        name = line[:i].strip().lower()
        value = line[i + 1:].strip()
        hdr[name] = (hdr[name] + b", " + value) if name in hdr else value
    else:
        raise HandshakeError("too many HTTP headers", status)
    if status != 101:
        raise HandshakeError("HTTP %d instead of 101" % status, status)
    if hdr.get(b"upgrade", b"").lower() != b"websocket":
        raise HandshakeError("no Upgrade: websocket", status)
    if b"upgrade" not in [t.strip() for t in hdr.get(b"connection", b"").lower().split(b",")]:
        raise HandshakeError("no Connection: Upgrade", status)
    if hdr.get(b"sec-websocket-accept") != accept_key(key):
        raise HandshakeError("bad Sec-WebSocket-Accept", status)
    if b"sec-websocket-extensions" in hdr:
        raise HandshakeError("server chose an extension we did not offer", status)
    proto = hdr.get(b"sec-websocket-protocol")
    if ws.subprotocols:
        if proto is None:
            raise HandshakeError("server accepted no subprotocol", status)
        proto = proto.decode()
        if proto not in ws.subprotocols:
            raise HandshakeError("server chose subprotocol %s" % proto, status)
    elif proto is not None:
        raise HandshakeError("server chose a subprotocol we did not offer", status)
    return proto
