"""A small HTTP/1.1 client on asyncio streams, for firmware downloads and diagnostics
uploads (OCPP 1.6 FirmwareManagement), on CPython and MicroPython.

``http://`` and ``https://`` (TLS verified against a CA: ``wsproto.tls_context``, the
context the WebSocket uses), Basic authentication from ``user:password@`` in the URL
(sent only to the URL that carries it), one request per connection
(``Connection: close``). ``get`` streams a response body into a file through one
preallocated buffer (Content-Length, chunked, or up to the close), following
301/302/303/307/308 redirects up to a limit; ``send`` uploads a body made of byte
strings, file ranges (``file_part``, read from disk while sending) and runs of zero
bytes (an int), optionally wrapped as multipart/form-data (``multipart``). A transfer
that makes no progress for ``timeout_ms`` is abandoned.

Everything that goes wrong raises HttpError (``status`` is the HTTP status, 0 when
there was none): refused or lost connections, timeouts, HTTP errors, malformed
responses; TlsFailed when the server's certificate was refused. Nothing a server sends
makes a buffer grow: header lines are bounded by the reader's buffer, their number by
``_MAX_HEADERS``, bodies by ``max_bytes``.
"""
import asyncio
import binascii
import sys

from micropython import const

from lib import log
from firmware.ocpp import wait
from firmware.ocpp.wsproto import ConnectionClosed, Reader, TlsError, WsError, split_host_port
from firmware.storage import fs

_TAG = "http"
_CHUNK = const(1024)
_MAX_HEADERS = const(32)  # header and trailer lines of one response, 1xx included
_MAX_REDIRECTS = const(3)
_MAX_CHUNK_DIGITS = const(7)  # a chunk of < 256 MB
_CANCEL_MS = const(2000)
_CPYTHON = sys.implementation.name != "micropython"
_EOF = "connection lost"  # wsproto.Reader's reason for a clean end of stream


class HttpError(Exception):
    """A transfer failed; ``status`` is the HTTP status of the response (0: none)."""

    def __init__(self, msg, status=0):
        super().__init__(msg)
        self.status = status


class TlsFailed(HttpError):
    """TLS failed: the server's certificate was refused, or the TLS session broke."""


def _unquote(s):
    # Percent-decoding of the user:password part (a password may hold ':' or '@').
    if "%" not in s:
        return s.encode()
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        if b[i] == 37 and i + 2 < len(b) and _hex(b[i + 1:i + 3]):
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
            continue
        out.append(b[i])
        i += 1
    return bytes(out)


def _hex(b):
    for c in b:
        if not (48 <= c <= 57 or 97 <= c | 32 <= 102):
            return False
    return len(b) > 0


def parse_url(url):
    """Split ``http[s]://[user:pass@]host[:port][/path]`` into
    (secure, host, port, path, auth); auth is (user, password) bytes or None."""
    if url.startswith("http://"):
        secure, rest, port = False, url[7:], 80
    elif url.startswith("https://"):
        secure, rest, port = True, url[8:], 443
    else:
        raise HttpError("not an http:// or https:// URL: %s" % url[:40])
    i = rest.find("/")
    j = rest.find("?")
    if j >= 0 and (i < 0 or j < i):
        i = j
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if path[0] == "?":
        path = "/" + path
    k = path.find("#")
    if k >= 0:
        path = path[:k] or "/"
    auth = None
    k = hostport.rfind("@")
    if k >= 0:
        cred = hostport[:k]
        hostport = hostport[k + 1:]
        c = cred.find(":")
        auth = (_unquote(cred), b"") if c < 0 else (_unquote(cred[:c]), _unquote(cred[c + 1:]))
    try:
        host, port = split_host_port(hostport, port)
    except ValueError as e:
        raise HttpError("%s in %s" % (e, url[:60]))
    for c in url:  # spaces and controls would end up in the request head
        if c <= " " or c == "\x7f":
            raise HttpError("bad character in URL %r" % url[:60])
    return secure, host, port, path, auth


def _resolve(base, loc):
    """The absolute URL of a redirect's Location ``loc`` seen from ``base``."""
    if loc.startswith("http://") or loc.startswith("https://"):
        return loc
    secure, host, port, path, auth = parse_url(base)
    if loc.startswith("//"):
        return ("https:" if secure else "http:") + loc
    pre = "%s://" % ("https" if secure else "http")
    if auth is not None:  # same origin: the credentials stay
        pre += "%s:%s@" % (_quote(auth[0]), _quote(auth[1]))
    pre += ("[%s]" % host) if ":" in host else host
    if port != (443 if secure else 80):
        pre += ":%d" % port
    if loc.startswith("/"):
        return pre + loc
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    return pre + path[:path.rfind("/") + 1] + loc


def _text(b):
    try:
        return b.decode()
    except (UnicodeError, ValueError):
        raise HttpError("bad redirect Location")


def _quote(b):
    out = []
    for c in b:
        ch = chr(c)
        out.append(ch if ch.isalpha() or ch.isdigit() or ch in "-._~" else "%%%02X" % c)
    return "".join(out)


def file_part(path, offset=0, length=-1):
    """A body piece: ``length`` bytes (-1: to the end) of the file at ``path`` from
    ``offset``; read while sending, so the file is never held in RAM."""
    n = fs.size(path)
    if n < 0:
        raise HttpError("no file %s" % path)
    offset = min(offset, n)
    if length < 0 or offset + length > n:
        length = n - offset
    return (path, offset, length)


def body_length(parts):
    n = 0
    for p in parts:
        t = type(p)
        n += p[2] if t is tuple else (p if t is int else len(p))
    return n


def multipart(parts, filename, field="file", ctype="application/octet-stream"):
    """Wrap body ``parts`` as a multipart/form-data upload of one file: returns
    (parts, content type)."""
    import random

    boundary = "----evse%08x%08x" % (random.getrandbits(32), random.getrandbits(32))
    head = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            "Content-Type: %s\r\n\r\n" % (boundary, field, filename.replace('"', ""),
                                           ctype)).encode()
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    return [head] + list(parts) + [tail], "multipart/form-data; boundary=" + boundary


class Client:
    """HTTP requests through one preallocated buffer of ``chunk`` bytes.

    ``ssl``: a client context (``wsproto.tls_context(ca_der)``) for https:// (None: https is
    refused). ``timeout_ms``: the longest time without progress (connecting, sending,
    receiving). ``max_redirects``: redirects followed per request.
    ``moved`` counts the body bytes of the last transfer.
    """

    def __init__(self, ssl=None, chunk=_CHUNK, timeout_ms=30000, max_redirects=_MAX_REDIRECTS,
                 user_agent="OpenWallbox"):
        self.ssl = ssl
        self.timeout_ms = timeout_ms
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.moved = 0
        self._buf = bytearray(chunk)
        self._mv = memoryview(self._buf)
        self._rd = None
        self._progress = 0

    # --- public requests -----------------------------------------------------------

    async def get(self, url, path, max_bytes=1 << 24):
        """Download ``url`` into the file ``path`` (written as ``path.part``, renamed when
        complete; nothing is left behind on failure). Returns the size."""
        part = path + ".part"
        try:
            await self._guarded(self._request("GET", url, None, None, part, max_bytes))
            fs.replace(part, path)
        except BaseException:
            try:
                fs.remove_if_exists(part)
            except OSError:
                pass
            raise
        return self.moved

    async def send(self, url, parts, method="PUT", ctype="application/octet-stream"):
        """Upload a body made of ``parts`` (bytes, ``file_part`` tuples, or an int: that
        many zero bytes) with PUT or POST; returns the 2xx status."""
        return await self._guarded(self._request(method, url, parts, ctype, None, 0))

    # --- progress watchdog -----------------------------------------------------------

    async def _guarded(self, coro):
        # The transfer runs as a task; it is cancelled when no byte moved for timeout_ms.
        # One wait per timeout period, not one per read.
        box = [None, None, False]  # result, exception, finished
        done = asyncio.Event()

        async def inner():
            try:
                box[0] = await coro
            except BaseException as e:  # noqa: B902 (cancellation included: it is ours)
                box[1] = e
            box[2] = True
            done.set()

        self._progress = 0
        t = asyncio.create_task(inner())
        try:
            while not box[2]:
                mark = self._progress
                done.clear()
                await wait.event(done, self.timeout_ms)
                if not box[2] and self._progress == mark:
                    t.cancel()
                    done.clear()
                    await wait.event(done, _CANCEL_MS)
                    raise HttpError("timed out: nothing moved for %d ms" % self.timeout_ms)
        finally:
            if not box[2]:
                t.cancel()
        if box[1] is not None:
            raise box[1]
        return box[0]

    # --- one request, redirects included -------------------------------------------

    async def _request(self, method, url, parts, ctype, dest, max_bytes):
        for _ in range(self.max_redirects + 1):
            secure, host, port, path, auth = parse_url(url)
            log.info(_TAG, "%s %s://%s:%d%s", method, "https" if secure else "http", host, port,
                     path[:60])
            r, w = await self._open(secure, host, port)
            try:
                try:
                    status, hdr = await self._exchange(r, w, method, host, port, path, auth,
                                                       parts, ctype, secure)
                    if status in (301, 302, 303, 307, 308) and b"location" in hdr:
                        if method == "GET" or status in (307, 308):
                            url = _resolve(url, _text(hdr[b"location"]))
                            continue
                    if not 200 <= status < 300:
                        raise HttpError("HTTP %d" % status, status)
                    if dest is None:
                        return status
                    await self._body(hdr, dest, max_bytes, status)
                    return status
                except WsError as e:  # what the shared reader raises
                    if isinstance(e, TlsError):
                        raise TlsFailed(str(e.reason))
                    raise HttpError(e.reason if isinstance(e, ConnectionClosed) else str(e))
            finally:
                await self._close(w)
        raise HttpError("more than %d redirects" % self.max_redirects)

    async def _open(self, secure, host, port):
        try:
            if secure:
                if self.ssl is None:
                    raise HttpError("https:// needs a CA (no TLS context)")
                return await asyncio.open_connection(host, port, ssl=self.ssl,
                                                     server_hostname=host)
            return await asyncio.open_connection(host, port)
        except ValueError as e:  # CPython: certificate verification (an SSLError too)
            raise TlsFailed("TLS: %s" % e)
        except OSError as e:
            raise HttpError("connect to %s:%d failed: %s" % (host, port, e))

    async def _close(self, w):
        try:
            w.close()
            await w.wait_closed()
        except Exception:  # reset already, TLS shutdown refused: nothing left to do
            pass

    async def _write(self, w, data, secure):
        try:
            w.write(data)
            await w.drain()
        except OSError as e:
            raise HttpError("write failed: %s" % e)
        except ValueError as e:  # MicroPython's TLS handshake runs on the first write
            if secure:
                raise TlsFailed("TLS: %s" % (str(e).strip() or "failed"))
            raise HttpError("write failed: %s" % e)

    async def _exchange(self, r, w, method, host, port, path, auth, parts, ctype, secure):
        h = "[%s]" % host if ":" in host else host
        if port != (443 if secure else 80):
            h = "%s:%d" % (h, port)
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n" % (
            method, path, h, self.user_agent)
        if auth is not None:
            head += "Authorization: Basic %s\r\n" % binascii.b2a_base64(
                auth[0] + b":" + auth[1])[:-1].decode()
        if parts is not None:
            head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, body_length(parts))
        await self._write(w, (head + "\r\n").encode(), secure)
        if parts is not None:
            await self._send_parts(w, parts, secure)
        rd = self._rd
        if rd is None:
            rd = self._rd = Reader(r)
        else:  # one reader (and its buffer) per client, pointed at each new stream
            rd.s = r
            rd.lo = rd.hi = 0
            rd.into = hasattr(r, "readinto")
        return await self._head(rd)

    async def _send_parts(self, w, parts, secure):
        mv = self._mv
        cap = len(mv)
        self.moved = 0
        for p in parts:
            if type(p) is int:  # that many zero bytes
                while p:
                    k = min(p, cap)
                    for i in range(k):
                        mv[i] = 0
                    await self._write(w, bytes(mv[:k]) if _CPYTHON else mv[:k], secure)
                    p -= k
                    self._tick(k)
                continue
            if type(p) is not tuple:
                await self._write(w, p, secure)
                self._tick(len(p))
                continue
            path, offset, n = p
            with open(path, "rb") as f:
                f.seek(offset)
                while n:
                    k = f.readinto(mv[:min(n, cap)])
                    if not k:
                        raise HttpError("%s shrank while it was sent" % path)
                    await self._write(w, bytes(mv[:k]) if _CPYTHON else mv[:k], secure)
                    n -= k
                    self._tick(k)

    def _tick(self, n):
        self.moved += n
        self._progress += 1

    # --- response -------------------------------------------------------------------

    async def _head(self, rd):
        """Status line and headers: (status, {name: value}) with only the names used."""
        lines = 0
        while True:
            line = await rd.readline()
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 \
                    or not parts[1].isdigit():
                raise HttpError("not an HTTP response: %r" % line[:40])
            status = int(parts[1])
            hdr = {}
            while True:
                lines += 1
                if lines > _MAX_HEADERS:
                    raise HttpError("more than %d header lines" % _MAX_HEADERS, status)
                line = await rd.readline()
                if not line:
                    break
                i = line.find(b":")
                if i <= 0:
                    raise HttpError("bad header line %r" % line[:40], status)
                name = line[:i].strip().lower()
                if name in (b"content-length", b"transfer-encoding", b"location"):
                    v = line[i + 1:].strip()
                    if name in hdr and hdr[name] != v:
                        raise HttpError("conflicting %s headers" % name.decode(), status)
                    hdr[name] = v
            if not 100 <= status < 200:
                self._progress += 1
                return status, hdr

    async def _body(self, hdr, dest, max_bytes, status):
        te = hdr.get(b"transfer-encoding")
        cl = hdr.get(b"content-length")
        self.moved = 0
        with open(dest, "wb") as f:
            if te is not None:
                if te.lower().split(b",")[-1].strip() != b"chunked":
                    raise HttpError("unsupported transfer-encoding %r" % te[:20], status)
                await self._chunked(f, max_bytes, status)
            elif cl is not None:
                if not cl.isdigit() or len(cl) > 10:
                    raise HttpError("bad Content-Length %r" % cl[:20], status)
                n = int(cl)
                if n > max_bytes:
                    raise HttpError("%d bytes: more than %d" % (n, max_bytes), status)
                await self._copy(f, n, status)
            else:
                await self._to_close(f, max_bytes, status)
            fs.sync_file(f)

    async def _read(self, cap):
        """Some bytes (1..cap) into the buffer: what the reader holds, else one read.
        Raises ConnectionClosed at the end of the stream."""
        rd = self._rd
        mv = self._mv
        k = rd.hi - rd.lo
        if k:
            k = min(k, cap)
            mv[:k] = rd.mv[rd.lo:rd.lo + k]
            rd.lo += k
            return k
        return await rd._some(mv[:cap])  # the shared reader's one stream read

    async def _copy(self, f, n, status):
        mv = self._mv
        cap = len(mv)
        left = n
        try:
            while left:
                k = await self._read(min(left, cap))
                f.write(mv[:k])
                left -= k
                self._tick(k)
        except ConnectionClosed as e:
            if isinstance(e, TlsError) or e.reason != _EOF:
                raise
            raise HttpError("connection closed after %d of %d bytes" % (n - left, n), status)

    async def _chunked(self, f, max_bytes, status):
        rd = self._rd
        total = 0
        while True:
            line = await rd.readline()
            i = line.find(b";")
            size = (line if i < 0 else line[:i]).strip()
            if len(size) > _MAX_CHUNK_DIGITS or not _hex(size):
                raise HttpError("bad chunk size line %r" % line[:20], status)
            n = int(size, 16)
            if n == 0:
                break
            total += n
            if total > max_bytes:
                raise HttpError("body of more than %d bytes" % max_bytes, status)
            await self._copy(f, n, status)
            if await rd.readline():
                raise HttpError("no CRLF after a chunk", status)
        for _ in range(_MAX_HEADERS):  # trailers, up to the empty line
            if not await rd.readline():
                return
        raise HttpError("more than %d trailer lines" % _MAX_HEADERS, status)

    async def _to_close(self, f, max_bytes, status):
        # No length given: the body ends with the connection (a cut is undetectable).
        mv = self._mv
        try:
            while True:
                k = await self._read(len(mv))
                if self.moved + k > max_bytes:
                    raise HttpError("body of more than %d bytes" % max_bytes, status)
                f.write(mv[:k])
                self._tick(k)
        except ConnectionClosed as e:
            if isinstance(e, TlsError) or e.reason != _EOF:
                raise
