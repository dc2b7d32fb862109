"""StatusNotification: the connector's OCPP status from the charger and session,
error codes from the charger's faults, reported once a status has held for
MinimumStatusDuration seconds (connector 0 is the charge point as a whole)."""
from micropython import const

from lib import clock, log
from firmware import events
from firmware.iec61851 import faults
from firmware.ocpp import wait
from firmware.ocpp.rpc import RpcError

_TAG = "ocpp.status"
_RETRY_MS = const(5000)

# The charger's states (firmware.iec61851.charger IDLE..FAULT; a test checks they agree):
# not imported, so that this module loads without the charger's code.
IDLE = const(0)
CONNECTED = const(1)
READY = const(2)
CHARGING = const(3)
PAUSED = const(4)
STOPPING = const(5)
FINISHED = const(6)
FAULT = const(7)

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
        self.kick = wait.asyncio.Event()
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
        if st == FAULT:
            return "Faulted", error_code(ch.fault), faults.name(ch.fault)
        s = app.session
        if st == IDLE:
            # Reservation profile (reserve.py); asked first: unavailability ends it
            rv = getattr(self.cp, "reserve", None)
            r = rv is not None and rv.active()
            if not self.available:
                return "Unavailable", "NoError", None
            return ("Reserved" if r else "Available"), "NoError", None
        if st == FINISHED or (s.stop_requested() and st in (STOPPING, CONNECTED)):
            return "Finishing", "NoError", None
        if st == CHARGING:
            return "Charging", "NoError", None
        if st == READY:
            return "SuspendedEV", "NoError", None
        if st in (PAUSED, STOPPING):
            return "SuspendedEVSE", "NoError", None
        return "Preparing", "NoError", None  # plugged, not authorised yet

    def due(self):
        """The next (connector, status, error, vendor code) to report, or the ms to wait
        (MinimumStatusDuration) or None when everything is reported."""
        soon = None
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
            soon = left if soon is None else min(soon, left)
        return soon

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
                await wait.event(self.kick, d)
                continue
            try:
                await self.notify(*d)
            except RpcError as e:
                log.warn(_TAG, "StatusNotification failed: %s", e)
                await clock.sleep_ms(_RETRY_MS)
