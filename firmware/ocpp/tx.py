"""Transactions: StartTransaction / StopTransaction / MeterValues journaled from the
session's events, Authorize (through ``auth``), RemoteStartTransaction and
RemoteStopTransaction, and the StopTransaction of a session a power loss cut."""
from lib import log
from firmware import events
from firmware.ocpp import status, txq

_TAG = "ocpp.tx"

_ID_TAG_INFO = {"status": ("e!", ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")),
                "expiryDate": ("t",), "parentIdTag": ("s", 20)}
AUTHORIZE_CONF = {"idTagInfo": ("o!", _ID_TAG_INFO)}
START_CONF = {"idTagInfo": ("o!", _ID_TAG_INFO), "transactionId": ("i!",)}
STOP_CONF = {"idTagInfo": ("o", _ID_TAG_INFO)}
REMOTE_START = {"connectorId": ("i",), "idTag": ("s!", 20), "chargingProfile": ("*",)}
REMOTE_STOP = {"transactionId": ("i!",)}
_REASONS = ("EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
            "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized")


class Transactions:
    """Turns sessions into transaction messages and remote commands into sessions."""

    def __init__(self, cp):
        self.cp = cp
        self.stopped_local = None  # session already stopped for a reset
        self._early_tag = None  # authorised before the plug (see _on_event)
        r = cp.rpc
        r.on("RemoteStartTransaction", self._remote_start, REMOTE_START)
        r.on("RemoteStopTransaction", self._remote_stop, REMOTE_STOP)
        cp.app.bus.subscribe(self._on_event)

    # ---- from the firmware -----------------------------------------------------------

    def _on_event(self, kind, arg):
        s = self.cp.session
        if kind == events.PLUGGED:
            # The session controller begins a session when authorised after the plug
            # only; an authorisation that came first (RemoteStart, then the cable) is
            # handed over again, so the charging it allows is a transaction.
            tag = self._early_tag
            self._early_tag = None
            if tag is not None and s.authorized() and s.current is None:
                s.authorize(tag)
        elif kind == events.UNPLUGGED:
            self._early_tag = None
        elif kind == events.SESSION_STARTED and s.current is not None:
            self.start(s.current)
        elif kind == events.SESSION_ENDED and s.last is not None:
            if s.last.sid != self.stopped_local:
                self.stop(s.last.sid, s.last.energy_wh, self.cp.now(), arg, s.last.id_tag)

    def start(self, s):
        tag = s.id_tag or "local"
        p = {"connectorId": 1, "idTag": tag[:20], "meterStart": s.start_wh,
             "timestamp": self.cp.now()}
        rid = self.cp.reserve.take(tag)  # the reservation this transaction uses
        if rid is not None:
            p["reservationId"] = rid
        self.cp.txq.add(txq.START, s.sid, p)
        self.cp.sampling.begin(s.sid)

    def stop(self, sid, wh, ts, reason, id_tag=None, cut=False):
        """StopTransaction of local transaction ``sid`` (``cut``: ended by a power loss,
        ``wh`` is its last persisted reading, not the meter now)."""
        p = {"transactionId": 0, "meterStop": wh, "timestamp": ts,
             "reason": reason if reason in _REASONS else "Other"}
        if id_tag:
            p["idTag"] = id_tag[:20]
        self.cp.sampling.stop_data(sid, p, wh if cut else None)  # transactionData
        self.cp.txq.add(txq.STOP, sid, p)

    def recover(self, rec):
        """At boot: StopTransaction for every journaled transaction left open, from the
        session log's record of it (``App.recovered``: reason PowerLoss)."""
        q = self.cp.txq
        off = self.cp.saved_offset_s  # the session log's times are on the local clock
        done = {}
        for r in self.cp.app.record.done:
            done[r["id"]] = r
        if rec is not None:
            done[rec["id"]] = rec
            if rec["id"] > q.last_started:
                # Cut between the session log's start and our journal's: both messages.
                q.add(txq.START, rec["id"], {
                    "connectorId": 1, "idTag": (rec.get("tag") or "local")[:20],
                    "meterStart": rec["wh0"], "timestamp": _iso(rec["ts"] + off)})
        for sid in q.open[:]:
            r = done.get(sid)
            if r is not None:
                self.stop(sid, r["wh"], _iso(r["ts"] + off), r.get("reason") or "PowerLoss",
                          r.get("tag"), True)
            else:
                self.stop(sid, self.cp.app.board.meter.energy_wh, self.cp.now(), "PowerLoss", None,
                          True)
            log.warn(_TAG, "transaction of session %d closed at boot", sid)

    # ---- authorisation ----------------------------------------------------------------

    async def authorize(self, id_tag):
        """Authorize ``id_tag`` (``auth.Auth.check``: local list, cache, the backend,
        the offline rules); on Accepted the session is authorised, unless the connector
        is reserved for another idTag (then "Reserved"). Returns the status."""
        cp = self.cp
        st, parent = await cp.auth.check(id_tag)
        if st == "Accepted" and not cp.reserve.allows(id_tag, parent):
            st = "Reserved"
        if st == "Accepted":
            self._grant(id_tag)
        return st

    def _grant(self, id_tag):
        s = self.cp.session
        if not s.plugged:
            self._early_tag = id_tag
        s.authorize(id_tag)

    def on_answer(self, action, local, r):
        """The backend answered a transaction message (from ``deliver``): its idTagInfo
        goes into the cache; a non-Accepted one in the StartTransaction answer of the
        running transaction invalidates it (``auth.Auth.invalidated``)."""
        info = r.get("idTagInfo")
        if info is None:
            return
        s = self.cp.session
        cur = s.current if s.current is not None and s.current.sid == local else None
        ses = cur or (s.last if s.last is not None and s.last.sid == local else None)
        if ses is not None and ses.id_tag:
            self.cp.auth.remember(ses.id_tag, info)
        if info["status"] != "Accepted" and action == txq.START and cur is not None:
            self.cp.auth.invalidated(cur)

    # ---- remote commands --------------------------------------------------------------

    def _remote_start(self, p):
        cp = self.cp
        s = cp.session
        busy = s.current is not None or cp.app.charger.state == status.FAULT or not cp.status.available
        busy = busy or s.stop_requested()  # Finishing: a new transaction needs the unplug first
        if p.get("connectorId", 1) != 1 or busy or not cp.reserve.allows(p["idTag"]):
            return {"status": "Rejected"}
        if not cp.smart.remote_start(p.get("chargingProfile")):  # must be a usable TxProfile
            return {"status": "Rejected"}
        tag = p["idTag"]

        async def go():
            if cp.cfg.get("AuthorizeRemoteTxRequests"):
                await self.authorize(tag)
            else:
                self._grant(tag)
        return {"status": "Accepted"}, go

    def _remote_stop(self, p):
        cur = self.cp.session.current
        if cur is None or self.cp.txq.remote_id(cur.sid) != p["transactionId"]:
            return {"status": "Rejected"}
        self.cp.session.request_stop("Remote")
        return {"status": "Accepted"}


def _iso(ts):
    from firmware.ocpp import timefmt

    return timefmt.iso(ts)
