"""Reservation profile: ReserveNow and CancelReservation for the one connector.

A reservation holds the connector for its idTag, or for any idTag with the same
parentIdTag (the presented idTag's parent comes from the local list, the cache or the
Authorize answer), until its expiryDate, a cancel, a fault or unavailability, or the
transaction that uses it (its StartTransaction carries the reservationId). While it
holds, the connector reports Reserved and other idTags (local or RemoteStart) are
refused. It is persisted (``cfg.state``) so a reboot keeps it. Connector 0 would
need ReserveConnectorZeroSupported.
"""
import asyncio

from micropython import const

from lib import log
from firmware import events
from firmware.ocpp import tagrec, timefmt, wait
from firmware.ocpp.status import FAULT, IDLE

_TAG = "ocpp.reserve"
_POLL_MS = const(1000)  # expiry and availability are checked this often while reserved

RESERVE_NOW = {"connectorId": ("i!", 0), "expiryDate": ("t!",), "idTag": ("s!", 20),
               "parentIdTag": ("s", 20), "reservationId": ("i!",)}
CANCEL_RESERVATION = {"reservationId": ("i!",)}


def _valid(r):
    # [reservationId, connectorId, idTag, parentIdTag or None, expiry Unix s]
    if type(r) is not list or len(r) != 5 or type(r[0]) is not int or type(r[1]) is not int \
            or type(r[2]) is not str or not (r[3] is None or type(r[3]) is str) \
            or type(r[4]) is not int:
        return None
    return r


class Reservations:
    """The connector's reservation (``current``) and its handlers."""

    def __init__(self, cp):
        self.cp = cp
        self.current = _valid(cp.cfg.state("reservation"))
        self.kick = asyncio.Event()
        self._ok = None  # key of the last idTag ``allows`` let through
        cp.rpc.on("ReserveNow", self.reserve_now, RESERVE_NOW)
        cp.rpc.on("CancelReservation", self.cancel, CANCEL_RESERVATION)
        cp.app.bus.subscribe(self._on_event)

    def _now(self):
        return self.cp.time_s()

    def active(self):
        """The reservation in force (ended here if it expired or the connector cannot
        serve it any more), or None."""
        r = self.current
        if r is None:
            return None
        cp = self.cp
        if r[4] <= self._now():
            self._set(None, "expired")
        elif cp.app.charger.state == FAULT or not cp.status.available:
            self._set(None, "connector faulted or unavailable")
        return self.current

    def _set(self, r, why):
        old = self.current
        self.current = r
        try:
            self.cp.cfg.set_state("reservation", r)
        except (OSError, ValueError) as e:
            log.error(_TAG, "cannot persist the reservation: %s", e)
        log.info(_TAG, "reservation %s %s", (r or old or (0,))[0], why)
        self.cp.status.kick.set()
        self.kick.set()

    def _on_event(self, kind, arg):
        if self.current is not None and (kind == events.FAULT or (
                kind == events.CHARGER_STATE and arg == FAULT)):
            self._set(None, "ended by a fault")

    # ---- the backend's calls ----------------------------------------------------------

    def reserve_now(self, p):
        cp = self.cp
        n = p["connectorId"]
        if (n == 0 and not cp.cfg.get("ReserveConnectorZeroSupported")) \
                or n > cp.cfg.get("NumberOfConnectors"):
            return {"status": "Rejected"}
        try:
            exp = timefmt.parse(p["expiryDate"])
        except ValueError:
            return {"status": "Rejected"}
        if exp <= self._now():
            return {"status": "Rejected"}
        if cp.app.charger.state == FAULT:
            return {"status": "Faulted"}
        if not cp.status.available:
            return {"status": "Unavailable"}
        r = self.active()
        s = cp.session
        if (r is not None and r[0] != p["reservationId"]) or s.current is not None \
                or s.authorized() or cp.app.charger.state != IDLE:
            return {"status": "Occupied"}
        self._set([p["reservationId"], n, p["idTag"], p.get("parentIdTag"), exp],
                  "accepted for %s" % p["idTag"])
        return {"status": "Accepted"}

    def cancel(self, p):
        r = self.active()
        if r is None or r[0] != p["reservationId"]:
            return {"status": "Rejected"}
        self._set(None, "cancelled")
        return {"status": "Accepted"}

    # ---- the firmware's questions -----------------------------------------------------

    def allows(self, id_tag, parent=None):
        """May ``id_tag`` (child of ``parent``; None: looked up locally) charge now?"""
        r = self.active()
        if r is None:
            return True
        k = tagrec.key(id_tag)
        if k != tagrec.key(r[2]):
            if parent is None:
                loc = self.cp.auth.local(id_tag)
                parent = loc[1] if loc is not None else None
            if r[3] is None or parent is None or tagrec.key(parent) != tagrec.key(r[3]):
                log.info(_TAG, "%s refused: connector reserved", id_tag)
                return False
        self._ok = k
        return True

    def take(self, id_tag):
        """A transaction starts for ``id_tag``: the reservationId it fulfils (the
        reservation ends) or None."""
        r = self.active()
        if r is None:
            return None
        k = tagrec.key(id_tag)
        if k != tagrec.key(r[2]) and k != self._ok:
            return None
        self._set(None, "used")
        return r[0]

    async def run(self):
        """Ends the reservation at its expiryDate (and on unavailability)."""
        while True:
            r = self.active()
            self.kick.clear()
            await wait.event(self.kick, None if r is None else _POLL_MS)
