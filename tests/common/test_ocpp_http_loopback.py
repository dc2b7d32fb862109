"""Loopback HTTP server for the HTTP client tests (common subset), and its self-test.
Written from RFC 9112 independently of firmware/ocpp/http.py (it shares no code with
the client), so a bug on one side does not hide on the other.

``HttpServer(script)`` runs ``await script(req)`` per connection, where ``req`` holds
the parsed request (method, path, headers, body) and writes raw bytes back; helpers
build well-formed answers, the tests build the malformed ones by hand. Ports are picked
at random with retries (MicroPython's start_server cannot report an ephemeral port).
"""
import asyncio
import random

import tools  # noqa: F401  (MicroPython stand-ins on sys.path under CPython)
from tests.common.support import run


class Request:
    """One request: ``body`` holds it, or with a spool file ``size`` (the body is
    then in the file: a long-running MicroPython heap may hold no block that large)."""

    def __init__(self, reader, writer, spool=None):
        self.r = reader
        self.w = writer
        self.spool = spool
        self.method = None
        self.path = None
        self.headers = {}
        self.body = b""
        self.size = 0

    async def read(self):
        line = await self.r.readline()
        if not line:
            return False
        self.method, self.path, _v = line.decode().strip().split(" ", 2)
        while True:
            line = await self.r.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode().partition(":")
            self.headers[k.strip().lower()] = v.strip()
        n = int(self.headers.get("content-length", "0"))
        f = open(self.spool, "wb") if self.spool else None
        body = None if f else bytearray(n)  # one buffer: concatenation fragments
        try:
            while self.size < n:
                d = await self.r.read(min(n - self.size, 512))
                if not d:
                    raise EOFError("body cut at %d of %d" % (self.size, n))
                if f:
                    f.write(d)
                else:
                    body[self.size:self.size + len(d)] = d
                self.size += len(d)
        finally:
            if f:
                f.close()
        if body is not None:
            self.body = bytes(body)
        return True

    async def send(self, data):
        self.w.write(data)
        await self.w.drain()

    async def answer(self, body=b"", status=200, reason="OK", headers=()):
        head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, reason, len(body))
        for h in headers:
            head += h + "\r\n"
        await self.send(head.encode() + b"\r\n")
        if body:
            await self.send(body)

    async def chunked(self, pieces, ext=b"", trailers=b""):
        await self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for p in pieces:
            await self.send(("%x" % len(p)).encode() + ext + b"\r\n" + p + b"\r\n")
        await self.send(b"0\r\n" + trailers + b"\r\n")

    async def redirect(self, location, status=302):
        await self.answer(b"moved", status, "Moved", ("Location: " + location,))


class HttpServer:
    """``script(req)`` per connection; ``requests`` lists every request seen. With
    ``spool`` (a path), request bodies go to that file (the last one wins)."""

    def __init__(self, script, spool=None):
        self.script = script
        self.spool = spool
        self.requests = []
        self.errors = []
        self.port = None
        self.srv = None

    def url(self, path="/", auth=""):
        return "http://%s127.0.0.1:%d%s" % (auth, self.port, path)

    async def start(self):
        for _ in range(30):
            p = random.randint(20000, 59999)
            try:
                self.srv = await asyncio.start_server(self._handle, "127.0.0.1", p)
            except OSError:
                continue
            self.port = p
            return self
        raise OSError("no free port")

    async def stop(self):
        if self.srv is not None:
            self.srv.close()
            await self.srv.wait_closed()
            self.srv = None

    async def _handle(self, reader, writer):
        req = Request(reader, writer, self.spool)
        try:
            if await req.read():
                self.requests.append(req)
                await self.script(req)
        except Exception as e:  # noqa: BLE001  (reported by the test, not lost)
            if type(e).__name__ not in ("ConnectionResetError", "BrokenPipeError"):
                self.errors.append(e)
        try:
            writer.close()
            await writer.wait_closed()
        except Exception:  # noqa: BLE001
            pass


def serve(script, body):
    """Run ``await body(server)`` with a server running ``script``."""
    async def main():
        srv = await HttpServer(script).start()
        try:
            return await body(srv)
        finally:
            await srv.stop()
    return run(main())


def test_server_parses_a_request_and_answers():
    async def script(req):
        await req.answer(req.method.encode() + b" " + req.path.encode() + b" " + req.body)

    async def body(srv):
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
        await w.drain()
        data = b""
        while True:
            d = await r.read(100)
            if not d:
                break
            data += d
        w.close()
        return data
    data = serve(script, body)
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nPUT /x abc", data
