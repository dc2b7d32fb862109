"""Core operations the backend starts: GetConfiguration, ChangeConfiguration, Reset,
ChangeAvailability, UnlockConnector, ClearCache, DataTransfer."""
from micropython import const

from lib import clock, log
from firmware.ocpp.rpc import OCCURENCE_CONSTRAINT_VIOLATION, CallError

_TAG = "ocpp.admin"
_RESET_WAIT_MS = const(10000)  # for the transaction's StopTransaction to go out

GET_CONFIGURATION = {"key": ("a", ("s", 50))}
CHANGE_CONFIGURATION = {"key": ("s!", 50), "value": ("s!", 500)}
RESET = {"type": ("e!", ("Hard", "Soft"))}
CHANGE_AVAILABILITY = {"connectorId": ("i!", 0), "type": ("e!", ("Inoperative", "Operative"))}
UNLOCK_CONNECTOR = {"connectorId": ("i!", 0)}
DATA_TRANSFER = {"vendorId": ("s!", 255), "messageId": ("s", 50), "data": ("s",)}
_DT_STATUS = ("Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId")
DATA_TRANSFER_CONF = {"status": ("e!", _DT_STATUS), "data": ("s",)}


def install(cp):
    a = _Admin(cp)
    r = cp.rpc
    r.on("GetConfiguration", a.get_configuration, GET_CONFIGURATION)
    r.on("ChangeConfiguration", a.change_configuration, CHANGE_CONFIGURATION)
    r.on("Reset", a.reset, RESET)
    r.on("ChangeAvailability", a.change_availability, CHANGE_AVAILABILITY)
    r.on("UnlockConnector", a.unlock, UNLOCK_CONNECTOR)
    r.on("ClearCache", a.clear_cache, {})
    r.on("DataTransfer", a.data_transfer, DATA_TRANSFER)
    cp.admin = a


class _Admin:
    def __init__(self, cp):
        self.cp = cp
        self.pending_availability = None  # applied when the transaction ends
        self.resets = []
        cp.app.bus.subscribe(self._on_event)

    def get_configuration(self, p):
        keys = p.get("key") or None
        if keys and len(keys) > self.cp.cfg.get("GetConfigurationMaxKeys"):
            raise CallError(OCCURENCE_CONSTRAINT_VIOLATION, "too many keys")
        known, unknown = self.cp.cfg.items(keys)
        out = []
        for name, v, ro in known:
            d = {"key": name, "readonly": ro}
            if v is not None:
                d["value"] = v
            out.append(d)
        res = {"configurationKey": out}
        if unknown:
            res["unknownKey"] = unknown
        return res

    def change_configuration(self, p):
        return {"status": self.cp.cfg.change(p["key"], p["value"])}

    def reset(self, p):
        kind = p["type"]

        async def go():
            cp = self.cp
            self.resets.append(kind)
            cur = cp.session.current
            t0 = clock.ticks_ms()

            def waiting(cond):
                return cond() and clock.ticks_diff(clock.ticks_ms(), t0) < _RESET_WAIT_MS
            if cur is not None:
                # The transaction ends the usual way (the charger stops, the session ends
                # with the reset's reason, its StopTransaction carries the reading then).
                reason = kind + "Reset"
                cp.session.request_stop(reason)
                while waiting(lambda: cp.session.current is cur):
                    await clock.sleep_ms(100)
                if cp.session.current is cur:
                    # The charger could not stop in time (a fault holds it): end the
                    # transaction here; the session log closes the session at boot and
                    # its StopTransaction is not sent twice.
                    cp.app.board.meter.update()
                    cp.tx.stopped_local = cur.sid
                    cp.tx.stop(cur.sid, cp.app.board.meter.energy_wh, cp.now(), reason, cur.id_tag)
            while waiting(lambda: cp.app.charger.closed or len(cp.txq)):
                await clock.sleep_ms(100)
            log.warn(_TAG, "%s reset", kind)
            cp.reset_hook(kind)
        return {"status": "Accepted"}, go

    def change_availability(self, p):
        n = p["connectorId"]
        if n > 1:
            return {"status": "Rejected"}
        want = p["type"] == "Operative"
        cp = self.cp
        if cp.session.current is not None and not want:
            self.pending_availability = want
            return {"status": "Scheduled"}
        self._set_available(want)
        return {"status": "Accepted"}

    def _set_available(self, want):
        cp = self.cp
        self.pending_availability = None
        if cp.status.available != want:
            cp.status.available = want
            cp.cfg.set_state("available", want)
            cp.status.kick.set()

    def _on_event(self, kind, arg):
        from firmware import events

        if kind == events.SESSION_ENDED and self.pending_availability is not None:
            self._set_available(self.pending_availability)

    def unlock(self, p):
        cp = self.cp
        if p["connectorId"] != 1:
            return {"status": "NotSupported"}
        if cp.app.board.lock is None:
            return {"status": "NotSupported"}  # tethered cable: nothing to unlock
        if cp.session.current is not None or cp.app.charger.locked:
            # The charger releases the lock once the stop has opened the contactor.
            cp.session.request_stop("UnlockCommand")
            cp.session.deauthorize()
        return {"status": "Unlocked"}

    def clear_cache(self, p):
        return {"status": "Accepted" if self.cp.auth.clear_cache() else "Rejected"}

    def data_transfer(self, p):
        # A vendor extension sets ``cp.vendor_hook(vendorId, messageId, data)`` returning
        # (status, data or None); without one every vendor is unknown.
        hook = self.cp.vendor_hook
        if hook is None:
            return {"status": "UnknownVendorId"}
        try:
            st, data = hook(p["vendorId"], p.get("messageId"), p.get("data"))
        except Exception as e:  # a vendor's code must not take the RPC loop down
            log.warn(_TAG, "DataTransfer hook failed: %r", e)
            return {"status": "Rejected"}
        if st not in _DT_STATUS:
            st = "Rejected"
        res = {"status": st}
        if data is not None:
            res["data"] = str(data)
        return res


async def data_transfer(cp, vendor_id, message_id=None, data=None):
    """DataTransfer from the charge point: returns the backend's (status, data or None);
    raises RpcError when it cannot be delivered or the answer is malformed."""
    p = {"vendorId": vendor_id[:255]}
    if message_id is not None:
        p["messageId"] = message_id[:50]
    if data is not None:
        p["data"] = data
    r = await cp.rpc.call("DataTransfer", p, schema=DATA_TRANSFER_CONF)
    return r["status"], r.get("data")
