"""StatusNotification: the connector's OCPP status from the charger and session,
error codes from the charger's faults, reported once a status has held for
MinimumStatusDuration seconds (connector 0 is the charge point as a whole)."""
import asyncio

from micropython import const

from lib import clock, log
from firmware import events
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults
from firmware.ocpp.rpc import RpcError

_TAG = "ocpp.status"
_RETRY_MS = const(5000)

# OCPP errorCode per firmware fault code (faults.NAMES order).
_ERRORS = (
    "NoError", "GroundFailure", "EVCommunicationError", "EVCommunicationError", "OtherError",
    "PowerSwitchFailure", "PowerSwitchFailure", "OtherError", "OtherError", "OtherError",
    "OverCurrentFailure", "InternalError", "EVCommunicationError", "ConnectorLockFailure",
    "GroundFailure",
)


def error_code(fault):
    return _ERRORS[fault] if 0 <= fault < len(_ERRORS) else "OtherError"


class Status:
    """Connector status bookkeeping and the StatusNotification sender."""

    def __init__(self, cp):
        self.cp = cp
        self.available = cp.cfg.state("available", True)  # ChangeAvailability, persisted
        self.reported = [None, None]  # (status, errorCode) sent per connector
        self._seen = [None, None]
        self._t_seen = [0, 0]
        self.sent = 0
        self.kick = asyncio.Event()
        cp.app.bus.subscribe(self._on_event)

    def _on_event(self, kind, arg):
        if kind in (events.CHARGER_STATE, events.FAULT, events.FAULT_CLEARED,
                    events.SESSION_STARTED, events.SESSION_ENDED, events.PLUGGED,
                    events.UNPLUGGED):
            self.kick.set()

    def connector(self, n):
        """(status, errorCode, fault name) of connector ``n`` now."""
        app = self.cp.app
        ch = app.charger
        if n == 0:
            return ("Available" if self.available else "Unavailable"), "NoError", None
        st = ch.state
        if st == chg.FAULT:
            return "Faulted", error_code(ch.fault), faults.name(ch.fault)
        s = app.session
        if st == chg.IDLE:
            return ("Available" if self.available else "Unavailable"), "NoError", None
        if st == chg.FINISHED or (s.stop_requested() and st in (chg.STOPPING, chg.CONNECTED)):
            return "Finishing", "NoError", None
        if st == chg.CHARGING:
            return "Charging", "NoError", None
        if st == chg.READY:
            return "SuspendedEV", "NoError", None
        if st in (chg.PAUSED, chg.STOPPING):
            return "SuspendedEVSE", "NoError", None
        return "Preparing", "NoError", None  # plugged, not authorised yet

    def due(self):
        """The next (connector, status, error, vendor code) to report, or the ms to wait
        (MinimumStatusDuration) or None when everything is reported."""
        wait = None
        now = clock.ticks_ms()
        hold = self.cp.cfg.get("MinimumStatusDuration") * 1000
        for n in (0, 1):
            st, err, vendor = self.connector(n)
            key = (st, err)
            if key != self._seen[n]:
                self._seen[n] = key
                self._t_seen[n] = now
            if key == self.reported[n]:
                continue
            left = hold - clock.ticks_diff(now, self._t_seen[n])
            if left <= 0 or self.reported[n] is None:
                return n, st, err, vendor
            wait = left if wait is None else min(wait, left)
        return wait

    def resend(self, n=None):
        """Report connector ``n`` (or all) again (TriggerMessage)."""
        for k in (0, 1):
            if n is None or n == k:
                self.reported[k] = None
        self.kick.set()

    async def notify(self, n, st, err, vendor):
        p = {"connectorId": n, "errorCode": err, "status": st, "timestamp": self.cp.now()}
        if vendor:
            p["vendorErrorCode"] = vendor
        await self.cp.rpc.call("StatusNotification", p, schema={})
        self.sent += 1
        self.reported[n] = (st, err)

    async def run(self):
        cp = self.cp
        while True:
            await cp.wait_registered()
            d = self.due()
            if d is None or type(d) is int:
                self.kick.clear()
                await _wait(self.kick, d)
                continue
            try:
                await self.notify(*d)
            except RpcError as e:
                log.warn(_TAG, "StatusNotification failed: %s", e)
                await clock.sleep_ms(_RETRY_MS)


async def _wait(ev, ms):
    """Wait for ``ev`` at most ``ms`` (None: no limit)."""
    if ms is None:
        await ev.wait()
        return
    try:
        await asyncio.wait_for(ev.wait(), ms / 1000)
    except asyncio.TimeoutError:
        pass
