"""Transactions: StartTransaction / StopTransaction / MeterValues journaled from the
session's events, Authorize (with a small cache), RemoteStartTransaction and
RemoteStopTransaction, and the StopTransaction of a session a power loss cut."""
from micropython import const

from lib import clock, log
from firmware import events
from firmware.ocpp import meter, status, txq
from firmware.ocpp.rpc import RpcError

_TAG = "ocpp.tx"
_CACHE_MAX = const(16)
_IDLE_MS = const(1000)

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
        self.cache = {}  # idTag -> last status the backend gave (AuthorizationCache)
        self.stopped_local = None  # session already stopped for a reset
        self._early_tag = None  # authorised before the plug (see _on_event)
        self._t_sample = clock.ticks_ms()
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
        self.cp.txq.add(txq.START, s.sid, {
            "connectorId": 1, "idTag": tag[:20], "meterStart": s.start_wh,
            "timestamp": self.cp.now()})
        self._t_sample = clock.ticks_ms()

    def stop(self, sid, wh, ts, reason, id_tag=None):
        p = {"transactionId": 0, "meterStop": wh, "timestamp": ts,
             "reason": reason if reason in _REASONS else "Other"}
        if id_tag:
            p["idTag"] = id_tag[:20]
        names = self.cp.cfg.csl("StopTxnSampledData")
        if names:
            p["transactionData"] = [{"timestamp": ts, "sampledValue": meter.sampled(
                self.cp.app, names, "Transaction.End")}]
        self.cp.txq.add(txq.STOP, sid, p)

    def recover(self, rec):
        """At boot: StopTransaction for every journaled transaction left open, from the
        session log's record of it (``App.recovered``: reason PowerLoss)."""
        q = self.cp.txq
        done = {}
        for r in self.cp.app.record.done:
            done[r["id"]] = r
        if rec is not None:
            done[rec["id"]] = rec
            if rec["id"] > q.last_started:
                # Cut between the session log's start and our journal's: both messages.
                q.add(txq.START, rec["id"], {
                    "connectorId": 1, "idTag": (rec.get("tag") or "local")[:20],
                    "meterStart": rec["wh0"], "timestamp": _iso(rec["ts"])})
        for sid in q.open[:]:
            r = done.get(sid)
            if r is not None:
                self.stop(sid, r["wh"], _iso(r["ts"]), r.get("reason") or "PowerLoss", r.get("tag"))
            else:
                self.stop(sid, self.cp.app.board.meter.energy_wh, self.cp.now(), "PowerLoss")
            log.warn(_TAG, "transaction of session %d closed at boot", sid)

    async def sampler(self):
        """MeterValues every MeterValueSampleInterval seconds of a transaction."""
        cp = self.cp
        while True:
            iv = cp.cfg.get("MeterValueSampleInterval") * 1000
            s = cp.session.current
            left = iv - clock.ticks_diff(clock.ticks_ms(), self._t_sample)
            if iv <= 0 or s is None or left > 0:
                await clock.sleep_ms(_IDLE_MS if iv <= 0 or s is None else min(left, _IDLE_MS))
                continue
            self._t_sample = clock.ticks_ms()
            names = cp.cfg.csl("MeterValuesSampledData")
            if names:
                cp.txq.add(txq.METER, s.sid, {"connectorId": 1, "transactionId": 0, "meterValue": [
                    {"timestamp": cp.now(),
                     "sampledValue": meter.sampled(cp.app, names, "Sample.Periodic")}]})

    # ---- authorisation ----------------------------------------------------------------

    async def authorize(self, id_tag):
        """Authorize ``id_tag`` with the backend (or offline from the cache); on
        Accepted the session is authorised. Returns the status."""
        cp = self.cp
        st = None
        if cp.rpc.connected and cp.registered.is_set():
            try:
                r = await cp.rpc.call("Authorize", {"idTag": id_tag[:20]}, schema=AUTHORIZE_CONF)
                st = r["idTagInfo"]["status"]
                self._remember(id_tag, st)
            except RpcError as e:
                log.warn(_TAG, "Authorize failed: %s", e)
        if st is None:  # offline
            st = self.cache.get(id_tag) if cp.cfg.get("LocalAuthorizeOffline") else None
            if st is None:
                st = "Accepted" if cp.cfg.get("AllowOfflineTxForUnknownId") else "Invalid"
        if st == "Accepted":
            self._grant(id_tag)
        return st

    def _grant(self, id_tag):
        s = self.cp.session
        if not s.plugged:
            self._early_tag = id_tag
        s.authorize(id_tag)

    def _remember(self, id_tag, st):
        if not self.cp.cfg.get("AuthorizationCacheEnabled"):
            return
        if id_tag not in self.cache and len(self.cache) >= _CACHE_MAX:
            for k in self.cache:
                del self.cache[k]
                break
        self.cache[id_tag] = st

    def on_answer(self, action, local, r):
        """The backend answered a transaction message (from ``deliver``)."""
        info = r.get("idTagInfo")
        if info is None:
            return
        s = self.cp.session
        if info["status"] != "Accepted" and action == txq.START:
            cur = s.current
            if cur is not None and cur.sid == local and self.cp.cfg.get("StopTransactionOnInvalidId"):
                s.request_stop("DeAuthorized")
                s.deauthorize()

    # ---- remote commands --------------------------------------------------------------

    def _remote_start(self, p):
        cp = self.cp
        s = cp.session
        busy = s.current is not None or cp.app.charger.state == status.FAULT or not cp.status.available
        if p.get("connectorId", 1) != 1 or busy:
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
