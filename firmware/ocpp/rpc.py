"""OCPP-J RPC framing (OCPP 1.6 JSON, section 4) over a message transport.

CALL [2, id, action, payload], CALLRESULT [3, id, payload], CALLERROR [4, id, code,
description, details]. Outgoing calls go one at a time through a bounded FIFO (the
OCPP rule: one outstanding CALL per direction), each with a timeout; incoming calls
are validated against the handler's schema table (``schema``) and dispatched;
anything malformed is answered with the matching CALLERROR or, without a usable id,
counted and dropped. Nothing a peer sends ends the receive loop.
"""
import asyncio
import json
import random

from micropython import const

from lib import clock, log
from firmware.ocpp import wait
from firmware.ocpp.schema import (  # noqa: F401  (re-exported for handlers)
    FORMATION_VIOLATION, GENERIC_ERROR, INTERNAL_ERROR, NOT_IMPLEMENTED, NOT_SUPPORTED,
    OCCURENCE_CONSTRAINT_VIOLATION, PROPERTY_CONSTRAINT_VIOLATION, PROTOCOL_ERROR,
    SECURITY_ERROR, TYPE_CONSTRAINT_VIOLATION, CallError, RpcError, ValidationError,
    is_datetime, validate)

_TAG = "rpc"

_CALL = const(2)
_CALLRESULT = const(3)
_CALLERROR = const(4)
_MAX_ID = const(36)
_MAX_DESC = const(255)

# Actions a central system may send to a 1.6 charge point (+ security extension):
# a known action without a handler is NotSupported, any other NotImplemented.
CSMS_ACTIONS = (" CancelReservation ChangeAvailability ChangeConfiguration ClearCache"
                " ClearChargingProfile DataTransfer GetCompositeSchedule GetConfiguration"
                " GetDiagnostics GetLocalListVersion RemoteStartTransaction"
                " RemoteStopTransaction ReserveNow Reset SendLocalList SetChargingProfile"
                " TriggerMessage UnlockConnector UpdateFirmware CertificateSigned"
                " DeleteCertificate ExtendedTriggerMessage GetInstalledCertificateIds GetLog"
                " InstallCertificate SignedUpdateFirmware ")

# A tool watching the traffic (the simulator's timeline): ``observer(direction, type,
# action, payload)``, direction ">" sent / "<" received, type 2/3/4 (a CALLERROR we
# send names no action: its payload is the error code). None on a device.
observer = None


class CallTimeout(RpcError):
    """No answer within the call's timeout."""


class ConnectionLost(RpcError):
    """The connection ended while the call was outstanding (it may have been delivered)."""


class QueueFull(RpcError):
    """More calls are waiting than ``max_queue``."""


class BadResponse(RpcError):
    """The answer to our call was malformed or failed its schema; ``code`` says how."""

    def __init__(self, code, msg):
        super().__init__("%s: %s" % (code, msg))
        self.code = code


class _Call:
    def __init__(self, action, payload, timeout_ms, schema):
        self.action = action
        self.payload = payload
        self.timeout_ms = timeout_ms
        self.schema = schema
        self.id = None
        self.result = None
        self.error = None
        self.done = asyncio.Event()


class Rpc:
    """One OCPP-J endpoint (the charge point side).

    ``on(action, handler, schema)`` registers a handler: ``handler(payload)`` (plain or
    async) returns the CALLRESULT payload, or ``(payload, after)`` where ``after()`` is
    run (as a task if it is a coroutine) once the CALLRESULT is sent; raising CallError
    answers with that error. Incoming calls are handled one after the other by the
    receive loop, so a handler must not await ``call`` (its answer could never be read):
    that belongs in ``after``. ``max_queue`` bounds the calls waiting behind the
    outstanding one. ``await call(action, payload)`` returns the peer's
    CALLRESULT payload. ``serve(conn)`` runs one connection (any object with async
    ``send(str)``/``recv()``); ``run(connect)`` keeps one up with back-off (its
    connections also need an async ``close()``).
    """

    def __init__(self, timeout_ms=30000, max_queue=8, known_actions=CSMS_ACTIONS):
        self.timeout_ms = timeout_ms
        self.max_queue = max_queue
        self.known_actions = known_actions
        self.handlers = {}
        self.dropped = 0  # frames without a usable id, stray answers
        self.errors_sent = 0
        self.connections = 0
        self._queue = []
        self._current = None
        self._conn = None
        self._kick = asyncio.Event()
        self._seq = 0
        self._prefix = "%04x" % random.getrandbits(16)

    def on(self, action, handler, schema=None):
        """Answer incoming ``action`` calls with ``handler`` after validating with ``schema``."""
        self.handlers[action] = (handler, schema)

    @property
    def connected(self):
        return self._conn is not None

    @property
    def pending(self):
        """Calls waiting to be sent (not counting the outstanding one)."""
        return len(self._queue)

    async def call(self, action, payload, timeout_ms=None, schema=None):
        """Send a CALL (after those queued before it) and return the CALLRESULT payload.
        Waits while disconnected. Raises CallError, CallTimeout, ConnectionLost,
        QueueFull or BadResponse (answer invalid against ``schema``)."""
        if len(self._queue) >= self.max_queue:
            raise QueueFull("%d calls waiting" % len(self._queue))
        c = _Call(action, payload, timeout_ms or self.timeout_ms, schema)
        self._queue.append(c)
        self._kick.set()
        try:
            await c.done.wait()
        except BaseException:  # cancelled: leave the queue; an outstanding call runs out
            if c in self._queue:
                self._queue.remove(c)
            raise
        if c.error is not None:
            raise c.error
        return c.result

    def _new_id(self):
        self._seq += 1
        return "%s-%d" % (self._prefix, self._seq)

    # --- one connection ---

    async def serve(self, conn):
        """Run the connection until it ends (close, loss, protocol error)."""
        self._conn = conn
        self.connections += 1
        sender = asyncio.create_task(self._sender(conn))
        try:
            while True:
                try:
                    text = await conn.recv()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.info(_TAG, "connection ended: %s", e)
                    break
                if type(text) is not str:
                    self._drop("binary message")
                    continue
                await self._on_text(text)
        finally:
            self._conn = None
            self._kick.set()
            sender.cancel()
            # Polled rather than awaited: awaiting the task would let CPython hand a
            # cancellation of serve() on to the sender (lost if the sender then ends
            # normally, as its wait_for may), and leaves MicroPython's task pointing at
            # the finished sender, where a later cancel() of the run loop goes astray.
            try:
                while not sender.done():
                    await asyncio.sleep(0)
            finally:
                self._end_current()

    def _end_current(self):
        c = self._current
        self._current = None
        if c is not None and not c.done.is_set():
            c.error = ConnectionLost("%s not answered" % c.action)
            c.done.set()

    async def run(self, connect, backoff=None, on_connect=None, sleep_ms=None):
        """Keep a connection forever: ``await connect()`` with back-off, serve it, and
        reconnect after a back-off delay when it ends. ``on_connect()`` runs as a task
        on every new connection (e.g. a BootNotification)."""
        from firmware.ocpp.ws import Backoff, connect_retry

        backoff = backoff or Backoff()
        sleep_ms = sleep_ms or clock.sleep_ms
        while True:
            conn = await connect_retry(connect, backoff, sleep_ms=sleep_ms)
            if on_connect is not None:
                asyncio.create_task(on_connect())
            try:
                await self.serve(conn)
            finally:  # also when cancelled: the connection is ours
                await conn.close()
            await sleep_ms(backoff.next_ms())

    async def _sender(self, conn):
        # Checks that conn is still current as well as being cancelled: CPython 3.11's
        # wait_for can swallow a cancellation that races with its result.
        while self._conn is conn:
            if not self._queue:
                self._kick.clear()
                await self._kick.wait()
                continue
            c = self._queue.pop(0)
            c.id = self._new_id()
            self._current = c
            try:
                text = json.dumps([_CALL, c.id, c.action, c.payload])
            except Exception as e:
                self._current = None
                c.error = BadResponse(INTERNAL_ERROR, "payload not serialisable: %s" % e)
                c.done.set()
                continue
            try:
                await conn.send(text)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not delivered: first in line on the next connection.
                self._current = None
                self._queue.insert(0, c)
                return
            if observer is not None:
                observer(">", _CALL, c.action, c.payload)
            try:
                await wait.wait_for_ms(c.done.wait(), c.timeout_ms)
            except asyncio.TimeoutError:
                if not c.done.is_set():
                    c.error = CallTimeout("%s %s: no answer in %d ms"
                                          % (c.action, c.id, c.timeout_ms))
                    c.done.set()
            self._current = None

    # --- incoming ---

    def _drop(self, why):
        self.dropped += 1
        log.warn(_TAG, "dropped frame: %s", why)

    async def _on_text(self, text):
        try:
            msg = json.loads(text)
        except Exception:  # ValueError, or too deep for the parser
            self._drop("not JSON")
            return
        if type(msg) is not list or len(msg) < 2:
            self._drop("not an OCPP-J message")
            return
        uid = msg[1]
        if type(uid) is not str or not uid or len(uid) > _MAX_ID:
            self._drop("no usable unique id")
            return
        mt = msg[0]
        if mt == _CALL and type(mt) is int:
            await self._on_call(msg, uid)
        elif mt == _CALLRESULT and type(mt) is int:
            self._on_answer(msg, uid, False)
        elif mt == _CALLERROR and type(mt) is int:
            self._on_answer(msg, uid, True)
        else:
            await self._send_error(uid, FORMATION_VIOLATION, "unknown message type")

    async def _on_call(self, msg, uid):
        if len(msg) != 4 or type(msg[2]) is not str:
            await self._send_error(uid, FORMATION_VIOLATION, "a CALL is [2, id, action, payload]")
            return
        action = msg[2]
        if observer is not None:
            observer("<", _CALL, action, msg[3])
        h = self.handlers.get(action)
        if h is None:
            if (" %s " % action) in self.known_actions:
                await self._send_error(uid, NOT_SUPPORTED, "%s not supported" % action)
            else:
                await self._send_error(uid, NOT_IMPLEMENTED, "unknown action %s" % action[:40])
            return
        handler, schema = h
        after = None
        try:
            payload = msg[3]
            if schema is not None:
                validate(payload, schema)
            elif type(payload) is not dict:
                raise ValidationError(FORMATION_VIOLATION, "payload: not an object")
            r = handler(payload)
            if hasattr(r, "send"):  # a coroutine (MicroPython: a generator)
                r = await r
            if type(r) is tuple:
                r, after = r
            if type(r) is not dict:
                raise CallError(INTERNAL_ERROR, "%s handler gave no object" % action)
            text = json.dumps([_CALLRESULT, uid, r])
        except CallError as e:
            await self._send_error(uid, e.code, e.description, e.details)
            return
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error(_TAG, "%s handler failed: %s: %s", action, type(e).__name__, e)
            await self._send_error(uid, INTERNAL_ERROR, "%s failed" % action)
            return
        await self._send(text)
        if observer is not None:
            observer(">", _CALLRESULT, action, r)
        if after is not None:
            try:
                r = after()
                if hasattr(r, "send"):
                    asyncio.create_task(r)
            except Exception as e:
                log.error(_TAG, "%s after-hook failed: %s", action, e)

    def _on_answer(self, msg, uid, is_error):
        c = self._current
        if c is None or c.id != uid or c.done.is_set():
            self._drop("answer to no outstanding call (%s)" % uid)
            return
        if is_error:
            if len(msg) < 3 or type(msg[2]) is not str:
                c.error = BadResponse(FORMATION_VIOLATION, "malformed CALLERROR")
            else:
                desc = msg[3] if len(msg) > 3 and type(msg[3]) is str else ""
                details = msg[4] if len(msg) > 4 and type(msg[4]) is dict else {}
                c.error = CallError(msg[2], desc, details)
        elif len(msg) != 3 or type(msg[2]) is not dict:
            c.error = BadResponse(FORMATION_VIOLATION, "malformed CALLRESULT")
        else:
            if c.schema is not None:
                try:
                    validate(msg[2], c.schema)
                except ValidationError as e:
                    c.error = BadResponse(e.code, e.description)
            if c.error is None:
                c.result = msg[2]
        if observer is not None:
            observer("<", _CALLERROR if is_error else _CALLRESULT, c.action,
                     msg[2] if len(msg) > 2 else None)
        c.done.set()

    async def _send_error(self, uid, code, desc, details=None):
        self.errors_sent += 1
        log.warn(_TAG, "CALLERROR %s %s: %s", uid, code, desc)
        if observer is not None:
            observer(">", _CALLERROR, None, code)
        try:
            text = json.dumps([_CALLERROR, uid, code, desc[:_MAX_DESC], details or {}])
        except Exception:
            text = json.dumps([_CALLERROR, uid, code, desc[:_MAX_DESC], {}])
        await self._send(text)

    async def _send(self, text):
        conn = self._conn
        if conn is None:
            return
        try:
            await conn.send(text)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the receive loop sees the end of the connection
            log.warn(_TAG, "send failed: %s", e)
