"""Test rig of the OCPP charge-point tests (no tests here): a fake App (real session
controller and session log, a fake charger and meter), in-memory connections, and a
scripted central system that answers every CALL and records it. Imports no more than
the charge point needs (the MicroPython runs have a 128 KB heap)."""
import gc
import sys

# The whole charge point on the real session controller needs about 300 KB of heap as
# .mpy on the unix port (its ~110 KB of code is in RAM there, where a device runs it
# frozen from flash): with less, these tests are left out (the test modules ask for
# 320 KB through MPTEST_HEAP_KB).
FITS = sys.implementation.name != "micropython" or gc.mem_free() + gc.mem_alloc() > 300 * 1024
import asyncio
import json

import tools  # noqa: F401

if FITS:
    from firmware import config, events
    from firmware.ocpp import chargepoint
    from firmware.ocpp import status as chg  # the charger's state numbers
    from firmware.ocpp.backoff import Backoff
    from firmware.session.controller import SessionController
    from firmware.session.record import SessionRecord
    from firmware.storage import fs

NOW = "2026-11-21T08:00:00Z"


class FakeMeter:
    def __init__(self):
        self.energy_wh = 5000
        self.power_w = 0
        self.current_ma = [0, 0, 0]
        self.voltage_mv = [230000, 230000, 230000]

    def update(self):
        return True


class FakeBoard:
    name = "fake"

    def __init__(self, root):
        self.fs_root = root
        self.meter = FakeMeter()
        self.lock = object()
        self.reboots = []

    def reboot(self):
        self.reboots.append(1)


class FakeCharger:
    def __init__(self, bus):
        self.bus = bus
        self.state = chg.IDLE
        self.fault = 0
        self.offer_da = 0
        self.closed = False
        self.locked = False

    def enter(self, state, fault=0):
        self.fault = fault
        self.state = state
        self.bus.emit(events.CHARGER_STATE, state)


class FakeApp:
    """What the charge point uses of firmware.main.App."""

    def __init__(self, root, auth="external"):
        fs.makedirs(root)
        self.board = FakeBoard(root)
        self.cfg = config.make({"auth": auth, "phases": 3})
        self.bus = events.Bus()
        self.record = SessionRecord(fs.join(root, "sessions.log"))
        self.session = SessionController(self.cfg, self.board, self.bus, self.record)
        self.charger = FakeCharger(self.bus)
        self.recovered = self.record.recover()

    def plug(self):
        self.bus.emit(events.PLUGGED, 32)
        self.charger.enter(chg.CONNECTED)

    def unplug(self):
        self.charger.enter(chg.IDLE)
        self.bus.emit(events.UNPLUGGED)


async def until(pred, what="condition"):
    for _ in range(2000):
        if pred():
            return
        await asyncio.sleep(0)
    for _ in range(300):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


class Conn:
    """In-memory connection: ``feed`` what the central system sends, ``next_sent``
    reads what the charge point sent; ``drop`` ends it."""

    def __init__(self):
        self.sent = []
        self.read = 0
        self._in = []
        self._ev = asyncio.Event()
        self.out = asyncio.Event()

    async def send(self, text):
        self.sent.append(text)
        self.out.set()

    async def recv(self):
        while not self._in:
            self._ev.clear()
            await self._ev.wait()
        x = self._in[0]
        if x is None:
            raise EOFError("dropped")
        self._in.pop(0)
        return x

    def feed(self, msg):
        self._in.append(json.dumps(msg))
        self._ev.set()

    def drop(self):
        self._in.append(None)
        self._ev.set()

    async def close(self):
        self.drop()

    async def next_sent(self):
        await until(lambda: len(self.sent) > self.read, "a message")
        self.read += 1
        return json.loads(self.sent[self.read - 1])


class Csms:
    """Answers the charge point's CALLs on the current connection; ``calls`` records
    (action, payload); ``answers`` maps an action to a payload or a function of the
    payload returning one (or a list ``[4, code]`` for a CALLERROR, or None: no answer)."""

    def __init__(self):
        self.calls = []
        self.results = {}  # id of our CALL -> the charge point's answer
        self.next_tx = 1
        self.answers = {
            "BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300},
            "Heartbeat": {"currentTime": NOW},
            "StatusNotification": {},
            "MeterValues": {},
            "Authorize": {"idTagInfo": {"status": "Accepted"}},
            "StartTransaction": self._start,
            "StopTransaction": {},
            "DiagnosticsStatusNotification": {},
            "FirmwareStatusNotification": {},
        }
        self._n = 0

    def _start(self, p):
        self.next_tx += 1
        return {"transactionId": 100 + self.next_tx - 1, "idTagInfo": {"status": "Accepted"}}

    def actions(self, name=None):
        return [p for a, p in self.calls if a == name] if name else [a for a, _ in self.calls]

    async def serve(self, conn):
        while True:
            while len(conn.sent) <= conn.read:
                conn.out.clear()
                await conn.out.wait()
            msg = await conn.next_sent()
            if msg[0] != 2:
                self.results[msg[1]] = msg
                continue
            _, uid, action, payload = msg
            self.calls.append((action, payload))
            a = self.answers.get(action)
            if callable(a):
                a = a(payload)
            if a is None:
                continue
            if type(a) is list:
                conn.feed([4, uid, a[1], "test", {}])
            else:
                conn.feed([3, uid, a])

    async def call(self, conn, action, payload):
        """Send a CALL to the charge point and return its answer [3|4, ...]."""
        self._n += 1
        uid = "cs-%d" % self._n
        conn.feed([2, uid, action, payload])
        await until(lambda: uid in self.results, action)
        return self.results.pop(uid)


class Rig:
    """A ChargePoint on a FakeApp with a scripted central system, in one event loop."""

    def __init__(self, root, auth="external", cfg=None, app=None):
        self.root = root
        self.app = app or FakeApp(root, auth)
        self.csms = Csms()
        self.conns = []
        self.up = True  # False: connecting fails (backend down)
        self.resets = []
        self.cp = chargepoint.ChargePoint(self.app, connect=self._connect,
                                          reset_hook=self.resets.append, cfg_overrides=cfg)
        self._tasks = []

    async def _connect(self):
        if not self.up:
            raise OSError("refused")
        c = Conn()
        self.conns.append(c)
        self._tasks.append(asyncio.create_task(self.csms.serve(c)))
        return c

    @property
    def conn(self):
        return self.conns[-1]

    def start(self):
        self._tasks.append(asyncio.create_task(
            self.cp.run(Backoff(first_ms=5, max_ms=20, jitter=0))))

    async def stop(self):
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except BaseException:
                pass

    def cut(self):
        """The connection breaks (and stays down until ``up`` is True again)."""
        self.up = False
        self.conn.drop()

    async def until(self, pred, what="condition"):
        await until(pred, what)

    async def call(self, action, payload):
        return await self.csms.call(self.conn, action, payload)


def run_rig(body, root, **kw):
    async def main():
        rig = Rig(root, **kw)
        rig.start()
        try:
            return await body(rig)
        finally:
            await rig.stop()
    return asyncio.run(main())


def dumps(x):
    return json.dumps(x)
