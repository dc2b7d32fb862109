"""Loopback WebSocket server for the OCPP transport tests (common subset), and its
self-tests. Written from RFC 6455 independently of firmware/ocpp/ws.py (it shares no
code with the client), so a bug on one side does not hide on the other.

``Server(script, ...)`` answers the HTTP upgrade (configurably wrong, for the refusal
tests) and runs ``await script(conn)`` per connection; ``conn`` reads and writes raw
frames. Ports are picked at random with retries (MicroPython's start_server cannot
report an ephemeral port).
"""
import asyncio
import binascii
import hashlib
import random

import tools  # noqa: F401  (MicroPython stand-ins on sys.path under CPython)
from tests.common.support import run

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept(key):
    return binascii.b2a_base64(hashlib.sha1(key + GUID).digest()).strip()


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """Encode one frame (server side: unmasked unless ``mask`` is given)."""
    n = len(payload) if length is None else length
    out = bytearray()
    out.append((0x80 if fin else 0) | rsv | opcode)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        out.append(mbit | n)
    elif n < 65536:
        out.append(mbit | 126)
        out += n.to_bytes(2, "big")
    else:
        out.append(mbit | 127)
        out += n.to_bytes(8, "big")
    if mask is not None:
        out += mask
        payload = bytes(payload[i] ^ mask[i % 4] for i in range(len(payload)))
    out += payload
    return bytes(out)


def close_body(code, reason=b""):
    return code.to_bytes(2, "big") + reason


class Frame:
    def __init__(self, fin, rsv, opcode, masked, mask, payload):
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.masked = masked
        self.mask = mask
        self.payload = payload

    def close_code(self):
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None


class Conn:
    """Server side of one connection."""

    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.request = None
        self.headers = {}

    async def read_request(self):
        line = await self.r.readline()
        self.request = line.decode().strip()
        while True:
            line = await self.r.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode().partition(":")
            self.headers[k.strip().lower()] = v.strip()

    async def send_raw(self, data):
        self.w.write(data)
        await self.w.drain()

    async def send(self, opcode, payload=b"", **kw):
        await self.send_raw(frame(opcode, payload, **kw))

    async def send_text(self, text):
        await self.send(1, text.encode())

    async def recv_frame(self):
        """Next frame from the client, unmasked; None at EOF."""
        try:
            h = await self.r.readexactly(2)
            n = h[1] & 0x7F
            if n == 126:
                n = int.from_bytes(await self.r.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.r.readexactly(8), "big")
            masked = bool(h[1] & 0x80)
            mask = await self.r.readexactly(4) if masked else None
            data = bytearray(await self.r.readexactly(n)) if n else bytearray()
        except (EOFError, OSError):
            return None
        except Exception as e:  # CPython: IncompleteReadError
            if type(e).__name__ == "IncompleteReadError":
                return None
            raise
        if masked:
            for i in range(n):
                data[i] ^= mask[i & 3]
        return Frame(bool(h[0] & 0x80), h[0] & 0x70, h[0] & 0x0F, masked, mask, bytes(data))

    async def recv_data(self, answer_pings=True):
        """Next data frame (pings answered); None at EOF."""
        while True:
            f = await self.recv_frame()
            if f is None or f.opcode in (0, 1, 2, 8):
                return f
            if f.opcode == 9 and answer_pings:
                await self.send(10, f.payload)

    async def recv_text(self):
        f = await self.recv_data()
        if f is None or f.opcode == 8:
            return None
        return f.payload.decode()

    async def close(self):
        try:
            self.w.close()
            await self.w.wait_closed()
        except Exception:
            pass


class Server:
    """Loopback server. Options change the upgrade answer: ``status``, ``protocol``
    (None: omit the header; default: echo ocpp1.6 when offered), ``accept`` (override),
    ``extra`` (raw header lines), ``raw_response`` (bytes sent instead)."""

    def __init__(self, script, status=101, protocol="ocpp1.6", accept=None, extra=b"",
                 raw_response=None, require_auth=None):
        self.script = script
        self.status = status
        self.protocol = protocol
        self.accept = accept
        self.extra = extra
        self.raw_response = raw_response
        self.require_auth = require_auth
        self.conns = []
        self.results = []
        self.errors = []
        self.port = None
        self.srv = None

    @property
    def url(self):
        return "ws://127.0.0.1:%d/ocpp/CP_1" % self.port

    async def start(self, port=None):
        for _ in range(30):
            p = port or random.randint(20000, 59999)
            try:
                self.srv = await asyncio.start_server(self._handle, "127.0.0.1", p)
            except OSError:
                if port:
                    raise
                continue
            self.port = p
            return self
        raise OSError("no free port")

    async def stop(self):
        if self.srv is not None:
            self.srv.close()
            await self.srv.wait_closed()
            self.srv = None
        for c in self.conns:
            await c.close()

    async def wait(self, n=1):
        """Until ``n`` connection scripts have finished (bounded: a hung test fails)."""
        for _ in range(1000):
            if len(self.results) + len(self.errors) >= n:
                if self.errors:
                    raise self.errors[0]
                return self.results
            await asyncio.sleep(0.01)
        raise AssertionError("server script did not finish")

    async def _handle(self, reader, writer):
        conn = Conn(reader, writer)
        self.conns.append(conn)
        try:
            await conn.read_request()
            if self.raw_response is not None:
                await conn.send_raw(self.raw_response)
                return
            status = self.status
            auth = conn.headers.get("authorization")
            if self.require_auth is not None and auth != self.require_auth:
                status = 401
            offered = [p.strip() for p in conn.headers.get("sec-websocket-protocol", "").split(",")]
            if status == 101 and self.protocol == "ocpp1.6" and "ocpp1.6" not in offered:
                status = 400
            if status != 101:
                await conn.send_raw(b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n" % status)
                return
            key = conn.headers.get("sec-websocket-key", "").encode()
            acc = self.accept if self.accept is not None else ws_accept(key)
            resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\n")
            resp += b"Sec-WebSocket-Accept: " + acc + b"\r\n"
            if self.protocol is not None:
                resp += b"Sec-WebSocket-Protocol: " + self.protocol.encode() + b"\r\n"
            await conn.send_raw(resp + self.extra + b"\r\n")
            self.results.append(await self.script(conn))
        except Exception as e:
            self.errors.append(e)
        finally:
            await conn.close()


async def echo(conn):
    """Script: echo data messages back until the client closes; return what came."""
    got = []
    while True:
        f = await conn.recv_data()
        if f is None:
            return got
        if f.opcode == 8:
            await conn.send(8, f.payload)
            return got
        got.append(f)
        await conn.send(f.opcode, f.payload)


def session(script, body, **opts):
    """Start a server with ``script``, run ``await body(server)``, stop the server."""
    async def main():
        srv = await Server(script, **opts).start()
        try:
            return await body(srv)
        finally:
            await srv.stop()
    return run(main())


async def expect(exc, coro):
    """Await ``coro``; return the ``exc`` it must raise."""
    try:
        await coro
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)

# --- self-tests of the helpers --------------------------------------------------------


def test_accept_key_rfc_example():
    # RFC 6455 section 1.3 example.
    assert ws_accept(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_frame_encoding():
    assert frame(1, b"Hi") == b"\x81\x02Hi"
    assert frame(2, b"x" * 200)[:4] == b"\x82\x7e\x00\xc8"
    assert frame(9, b"", fin=True) == b"\x89\x00"
    m = frame(1, b"Hello", mask=b"\x37\xfa\x21\x3d")
    assert m == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 5.7
