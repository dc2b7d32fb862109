"""RFC 6455 WebSocket client for OCPP-J, on asyncio streams (CPython and MicroPython).

The subset a charge point needs: ws:// and wss:// (TLS verified against a configured
CA, security profile 2), HTTP Basic authentication (security profile 1), one
negotiated subprotocol, masked client frames, ping/pong keep-alive, fragmented
messages reassembled into one preallocated buffer with a size limit, the close
handshake; ``backoff`` paces reconnects. No extensions are offered, so
RSV bits are always a protocol error.

Network failures surface as OSError (asyncio.TimeoutError for the connect timeout),
TLS failures (a refused certificate) as TlsError, everything the peer gets wrong as
another WsError subclass.
"""
import asyncio
import random
import sys

from micropython import const

from lib import clock, log
from firmware.ocpp.wsproto import (  # noqa: F401  (re-exported: the public names)
    CLOSE_ABNORMAL, CLOSE_BAD_DATA, CLOSE_GOING_AWAY, CLOSE_NO_STATUS, CLOSE_NORMAL,
    CLOSE_PROTOCOL, CLOSE_TLS, CLOSE_TOO_BIG, ConnectionClosed, HandshakeError, MessageTooBig,
    ProtocolError, Reader, TlsError, WsError, accept_key, basic_password, handshake, mask,
    parse_url, pem_to_der, tls_context)
from firmware.ocpp.backoff import Backoff, connect_retry  # noqa: F401
from firmware.ocpp.wait import wait_for_ms

_TAG = "ws"

_OP_CONT = const(0x0)
_OP_TEXT = const(0x1)
_OP_BINARY = const(0x2)
_OP_CLOSE = const(0x8)
_OP_PING = const(0x9)
_OP_PONG = const(0xA)
_FIN = const(0x80)
_RSV = const(0x70)
_MASKED = const(0x80)

_OPEN = const(0)
_CLOSING = const(1)
_CLOSED = const(2)

# Outgoing payload is masked chunk by chunk in one buffer (a multiple of 4, so every
# chunk after the first starts at mask phase 0); header space in front of it.
_TX_CHUNK = const(512)
_TX_HEAD = const(16)
_CTRL_MAX = const(125)

_CPYTHON = sys.implementation.name != "micropython"


class WebSocket:
    """One client connection. Create, ``await connect()``, then ``send``/``recv``/``close``.

    ``auth``: (user, password) for HTTP Basic (OCPP: chargePointId and
    ``basic_password(AuthorizationKey)``; str or bytes, binary passwords allowed).
    ``ssl``: a context (``tls_context(ca_der)``) for wss://. ``max_message``: the largest
    message accepted (one preallocated buffer of that size). ``ping_interval_ms``: 0 turns
    the client's pings off (``set_ping_interval`` changes it while connected); a ping
    unanswered for ``pong_timeout_ms`` (default: the interval; checked once per
    interval) drops the connection.
    After a close, ``connect()`` again reuses the buffers.
    """

    def __init__(self, url, subprotocols=("ocpp1.6",), auth=None, ssl=None,
                 server_hostname=None, max_message=16384, ping_interval_ms=0,
                 pong_timeout_ms=0, connect_timeout_ms=10000, close_timeout_ms=2000,
                 headers=None):
        self.secure, self.host, self.port, self.path = parse_url(url)
        if self.secure and ssl is None:
            raise ValueError("wss:// needs an ssl context")
        self.subprotocols = subprotocols
        self.auth = auth
        self.ssl = ssl
        self.server_hostname = server_hostname or self.host
        self.max_message = max_message
        self.ping_interval_ms = ping_interval_ms
        self.pong_timeout_ms = pong_timeout_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.close_timeout_ms = close_timeout_ms
        self.headers = headers
        self.subprotocol = None
        self.last_pong_ms = None
        self.pings_sent = 0
        self._msg = bytearray(max_message)
        self._mmv = memoryview(self._msg)
        self._ctrl = bytearray(_CTRL_MAX)
        self._cmv = memoryview(self._ctrl)
        self._tx = bytearray(_TX_HEAD + _TX_CHUNK)
        self._txv = memoryview(self._tx)
        self._state = _CLOSED
        self._closed = None
        self._rd = None
        self._w = None
        self._wlock = None
        self._reading = False
        self._close_sent = False
        self._done = None
        self._ka = None
        self._ping_out = False
        self._ping_at = 0

    @property
    def open(self):
        return self._state == _OPEN

    # --- opening ---------------------------------------------------------------

    async def connect(self):
        """Open the TCP/TLS connection and do the HTTP upgrade; returns self."""
        if self._state != _CLOSED:
            raise WsError("already connected")
        await wait_for_ms(self._connect(), self.connect_timeout_ms)
        return self

    async def _connect(self):
        try:
            if self.secure:
                r, w = await asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl, server_hostname=self.server_hostname)
            else:
                r, w = await asyncio.open_connection(self.host, self.port)
        except ValueError as e:  # CPython: certificate verification (an SSLError too)
            raise TlsError("TLS: %s" % e)
        self._rd = Reader(r)
        self._w = w
        self._wlock = asyncio.Lock()
        self._done = asyncio.Event()
        self._close_sent = False
        self._closed = None
        self._ping_out = False
        try:
            self.subprotocol = await handshake(self._rd, self._w, self)
        except BaseException as e:
            await self._shutdown()
            if isinstance(e, ValueError) and not isinstance(e, WsError):
                # MicroPython's TLS handshake runs on the first write/read and reports
                # a refused certificate as ValueError.
                raise TlsError("TLS: %s" % (str(e).strip() or "failed"))
            raise
        self._state = _OPEN
        self._start_keepalive()

    # --- sending ---------------------------------------------------------------

    def _write(self, mv):
        # CPython's transports may keep a reference to what they are given.
        self._w.write(bytes(mv) if _CPYTHON else mv)

    async def _send_frame(self, opcode, data, n):
        tx = self._tx
        tx[0] = _FIN | opcode
        if n < 126:
            tx[1] = _MASKED | n
            hl = 2
        elif n < 65536:
            tx[1] = _MASKED | 126
            tx[2] = n >> 8
            tx[3] = n & 0xFF
            hl = 4
        else:
            tx[1] = _MASKED | 127
            for i in range(8):
                tx[2 + i] = (n >> (56 - 8 * i)) & 0xFF
            hl = 10
        r = random.getrandbits(16)
        s = random.getrandbits(16)
        m0, m1, m2, m3 = r >> 8, r & 0xFF, s >> 8, s & 0xFF
        tx[hl] = m0
        tx[hl + 1] = m1
        tx[hl + 2] = m2
        tx[hl + 3] = m3
        hl += 4
        txv = self._txv
        async with self._wlock:
            # First chunk shares the buffer with the header; later ones start at 0.
            start = hl
            cap = (_TX_HEAD + _TX_CHUNK - hl) & ~3
            i = 0
            while True:
                k = min(n - i, cap)
                if k:
                    txv[start:start + k] = data[i:i + k]
                    mask(tx, start, start + k, m0, m1, m2, m3)
                self._write(txv[:start + k])
                i += k
                if i >= n:
                    break
                await self._w.drain()
                start = 0
                cap = _TX_HEAD + _TX_CHUNK
            await self._w.drain()

    async def send(self, data):
        """Send one message: str as a text frame, bytes-like as a binary frame."""
        if self._state != _OPEN:
            raise self._closed_error()
        if isinstance(data, str):
            op = _OP_TEXT
            try:
                mv = memoryview(data)  # MicroPython: str is UTF-8 already
            except TypeError:
                mv = memoryview(data.encode())
        else:
            op = _OP_BINARY
            mv = memoryview(data)
        try:
            await self._send_frame(op, mv, len(mv))
        except (OSError, ValueError) as e:  # ValueError: MicroPython TLS
            await self._lost("write failed: %s" % e)
            raise self._closed_error()

    async def ping(self, payload=b""):
        """Send a ping; its pong updates ``last_pong_ms``."""
        if self._state != _OPEN:
            raise self._closed_error()
        if not self._ping_out:
            self._ping_at = clock.ticks_ms()
            self._ping_out = True
        self.pings_sent += 1
        await self._send_frame(_OP_PING, memoryview(payload), len(payload))

    # --- receiving -------------------------------------------------------------

    async def recv(self):
        """Next message: str for text, bytes for binary. Pings are answered on the way.
        Raises ConnectionClosed when the connection ends, ProtocolError/MessageTooBig
        when the server breaks the protocol (the connection is then closed)."""
        if self._state == _CLOSED:
            raise self._closed_error()
        if self._reading:
            raise WsError("recv already running")
        self._reading = True
        try:
            return await self._recv()
        except ConnectionClosed as e:
            await self._lost(e.reason, e.code)
            raise self._closed_error()
        finally:
            self._reading = False

    async def _recv(self):
        rd = self._rd
        op = 0
        n = 0
        while True:
            await rd.need(2)
            b0 = rd.buf[rd.lo]
            b1 = rd.buf[rd.lo + 1]
            ln = b1 & 0x7F
            hl = 2 if ln < 126 else (4 if ln == 126 else 10)
            if b1 & _MASKED:
                await self._fail("masked frame from the server")
            if b0 & _RSV:
                await self._fail("RSV bits set")
            await rd.need(hl)
            b = rd.buf
            i = rd.lo
            if ln == 126:
                ln = (b[i + 2] << 8) | b[i + 3]
            elif ln == 127:
                if b[i + 2] & 0x80:
                    await self._fail("64-bit length with the top bit set")
                ln = 0
                for j in range(2, 10):
                    ln = (ln << 8) | b[i + j]
            rd.lo += hl
            opcode = b0 & 0x0F
            fin = b0 & _FIN
            if opcode & 0x08:
                if not fin or ln > _CTRL_MAX:
                    await self._fail("fragmented or long control frame")
                await rd.readinto(self._cmv, ln)
                await self._control(opcode, ln)
                continue
            if opcode == _OP_CONT:
                if not op:
                    await self._fail("continuation without a message")
            elif opcode == _OP_TEXT or opcode == _OP_BINARY:
                if op:
                    await self._fail("new message inside a fragmented one")
                op = opcode
            else:
                await self._fail("reserved opcode %d" % opcode)
            if n + ln > self.max_message:
                await self._fail("message of more than %d bytes" % self.max_message, CLOSE_TOO_BIG)
            await rd.readinto(self._mmv[n:], ln)
            n += ln
            if fin:
                break
        if op == _OP_BINARY:
            return bytes(self._mmv[:n])
        try:
            return str(self._mmv[:n], "utf-8")
        except UnicodeError:
            await self._fail("text message is not UTF-8", CLOSE_BAD_DATA)

    async def _control(self, opcode, ln):
        if opcode == _OP_PING:
            if self._state == _OPEN:
                try:
                    await self._send_frame(_OP_PONG, self._cmv, ln)
                except (OSError, ValueError) as e:  # ValueError: MicroPython TLS
                    raise ConnectionClosed(CLOSE_ABNORMAL, "write failed: %s" % e)
        elif opcode == _OP_PONG:
            self._ping_out = False
            self.last_pong_ms = clock.ticks_ms()
        elif opcode == _OP_CLOSE:
            if ln == 1:
                await self._fail("close frame with a 1-byte body")
            code, reason = CLOSE_NO_STATUS, ""
            if ln >= 2:
                code = (self._ctrl[0] << 8) | self._ctrl[1]
                if not (1000 <= code <= 1011 and code not in (1004, 1005, 1006)) \
                        and not 3000 <= code <= 4999:
                    await self._fail("invalid close code %d" % code)
                try:
                    reason = str(self._cmv[2:ln], "utf-8")
                except UnicodeError:
                    await self._fail("close reason is not UTF-8", CLOSE_BAD_DATA)
            if not self._close_sent:
                # Echo the code, as RFC 6455 5.5.1 asks.
                await self._send_close(code if ln else None, "")
            await self._finish(code, reason)
            raise self._closed_error()
        else:
            await self._fail("reserved control opcode %d" % opcode)

    # --- closing ---------------------------------------------------------------

    async def _send_close(self, code, reason):
        self._close_sent = True
        if self._state == _OPEN:
            self._state = _CLOSING
        if code is None:
            body = b""
        else:
            body = bytearray(2)
            body[0] = code >> 8
            body[1] = code & 0xFF
            body = bytes(body) + reason.encode()[:_CTRL_MAX - 2]
        try:
            await wait_for_ms(self._send_frame(_OP_CLOSE, memoryview(body), len(body)),
                              self.close_timeout_ms)
        except (OSError, asyncio.TimeoutError):
            pass

    async def close(self, code=CLOSE_NORMAL, reason=""):
        """Close handshake: send a close frame, wait (bounded) for the server's, then
        close the transport."""
        if self._state == _CLOSED:
            return
        if not self._close_sent:
            await self._send_close(code, reason)
        try:
            if self._reading:
                await wait_for_ms(self._done.wait(), self.close_timeout_ms)
            else:
                await wait_for_ms(self._drain_until_close(), self.close_timeout_ms)
        except (asyncio.TimeoutError, WsError):
            pass
        await self._finish(code, reason)

    async def _drain_until_close(self):
        while True:
            try:
                await self.recv()
            except ConnectionClosed:
                return

    async def _fail(self, msg, code=CLOSE_PROTOCOL):
        """Fail the connection (RFC 6455 7.1.7): close frame with ``code``, drop TCP."""
        log.warn(_TAG, "protocol error: %s", msg)
        if not self._close_sent and self._state != _CLOSED:
            await self._send_close(code, "")
        await self._finish(code, msg)
        raise (MessageTooBig if code == CLOSE_TOO_BIG else ProtocolError)(msg, code)

    async def _lost(self, reason, code=CLOSE_ABNORMAL):
        await self._finish(code, reason)

    async def _finish(self, code, reason):
        if self._state == _CLOSED and self._closed is not None:
            return
        self._state = _CLOSED
        self._closed = (code, reason)
        if self._ka is not None and self._ka is not _current_task():
            self._ka.cancel()
        self._ka = None
        self._done.set()
        await self._shutdown()

    async def _shutdown(self):
        w = self._w
        if w is None:
            return
        try:
            w.close()
            await wait_for_ms(w.wait_closed(), 1000)
        except Exception:  # already reset, TLS shutdown refused: nothing left to do
            pass

    def _closed_error(self):
        code, reason = self._closed or (CLOSE_ABNORMAL, "not connected")
        return ConnectionClosed(code, reason)

    async def abort(self):
        """Drop the connection without a close handshake (a blocked recv() ends)."""
        await self._finish(CLOSE_ABNORMAL, "aborted")

    # --- keep-alive ------------------------------------------------------------

    def set_ping_interval(self, ms, pong_timeout_ms=None):
        """Change the keep-alive (WebSocketPingInterval) on a live connection; 0 stops it."""
        self.ping_interval_ms = ms
        if pong_timeout_ms is not None:
            self.pong_timeout_ms = pong_timeout_ms
        self._start_keepalive()

    def _start_keepalive(self):
        # A task only while pinging: an idle one would outlive a forgotten connection.
        if self._state == _OPEN and self.ping_interval_ms > 0 and self._ka is None:
            self._ka = asyncio.create_task(self._keepalive())

    async def _keepalive(self):
        # A ping every interval; the connection goes when the oldest unanswered ping is
        # pong_timeout_ms old (checked at each interval tick).
        try:
            while self._state == _OPEN:
                iv = self.ping_interval_ms
                if iv <= 0:
                    break
                await clock.sleep_ms(iv)
                if self._state != _OPEN:
                    break
                pto = self.pong_timeout_ms or iv
                if self._ping_out and clock.ticks_diff(clock.ticks_ms(), self._ping_at) >= pto:
                    log.warn(_TAG, "no pong within %d ms: dropping the connection", pto)
                    await self._finish(CLOSE_ABNORMAL, "pong timeout")
                    break
                await self.ping(b"ka")
        except (WsError, OSError):
            pass
        if self._ka is _current_task():
            self._ka = None


def _current_task():
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
