"""In-memory transport and a sample endpoint for the RPC tests (no tests here): the
test plays the central system through ``Pipe``."""
import asyncio
import json

import tools  # noqa: F401
from firmware.ocpp import rpc
from tests.common.support import run


class Pipe:
    """In-memory message transport: ``feed`` what the central system sends, read what
    the charge point sent with ``next_sent``; ``drop`` ends the connection."""

    def __init__(self, fail_send=False):
        self.sent = []
        self.read = 0
        self.fail_send = fail_send
        self._in = []
        self._ev = asyncio.Event()

    async def send(self, text):
        if self.fail_send:
            raise OSError("write failed")
        self.sent.append(text)

    async def recv(self):
        while not self._in:
            self._ev.clear()
            await self._ev.wait()
        x = self._in.pop(0)
        if x is None:
            self._in.append(None)
            raise EOFError("dropped")  # any exception from recv() ends serve()
        return x

    def feed(self, msg):
        self._in.append(msg if isinstance(msg, (str, bytes)) else json.dumps(msg))
        self._ev.set()

    def drop(self):
        self._in.append(None)
        self._ev.set()

    async def next_sent(self):
        await until(lambda: len(self.sent) > self.read)
        self.read += 1
        return json.loads(self.sent[self.read - 1])


async def until(pred, what="condition"):
    for _ in range(2000):
        if pred():
            return
        await asyncio.sleep(0)
    for _ in range(300):  # sockets involved: give the loop real time (bounded)
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


RESET = {"type": ("e!", ("Hard", "Soft"))}
CHANGE_CONFIGURATION = {"key": ("s!", 50), "value": ("s!", 500)}
PROFILE = {
    "chargingProfileId": ("i!",),
    "stackLevel": ("i!", 0),
    "chargingProfilePurpose": ("e!", ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")),
    "validFrom": ("t",),
    "chargingSchedule": ("o!", {
        "chargingRateUnit": ("e!", ("A", "W")),
        "chargingSchedulePeriod": ("a!", ("o", {"startPeriod": ("i!",), "limit": ("n!",),
                                                "numberPhases": ("i",)}), 1),
        "minChargingRate": ("n",),
    }),
}
SET_PROFILE = {"connectorId": ("i!", 0), "csChargingProfiles": ("o!", PROFILE)}
BOOT_CONF = {"status": ("e!", ("Accepted", "Pending", "Rejected")),
             "currentTime": ("t!",), "interval": ("i!",)}


def endpoint(**kw):
    r = rpc.Rpc(**kw)
    log = []

    def reset(p):
        log.append(("reset", p["type"]))
        return {"status": "Accepted"}

    async def change(p):
        await asyncio.sleep(0)
        return {"status": "Accepted"}, (lambda: log.append(("after", p["key"])))

    def boom(p):
        raise KeyError("x")

    def generic(p):
        raise rpc.CallError(rpc.GENERIC_ERROR, "nope", {"why": 1})

    r.on("Reset", reset, RESET)
    r.on("ChangeConfiguration", change, CHANGE_CONFIGURATION)
    r.on("SetChargingProfile", lambda p: {"status": "Accepted"}, SET_PROFILE)
    r.on("ClearCache", boom)
    r.on("DataTransfer", generic)
    r.on("GetLocalListVersion", lambda p: [1])
    r.on("Heartbeatish", lambda p: {})
    return r, log


def with_pipe(body, **kw):
    async def main():
        r, log = endpoint(**kw)
        pipe = Pipe()
        task = asyncio.create_task(r.serve(pipe))
        try:
            return await body(r, pipe, log)
        finally:
            pipe.drop()
            await task
    return run(main())
