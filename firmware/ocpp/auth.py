"""Who may charge: the Local Authorization List (SendLocalList, GetLocalListVersion), the
Authorization Cache, the decision for a presented idTag, and what follows when the
backend invalidates the idTag of a running transaction.

Decision (``check``), as OCPP 1.6 describes local authorization: the list comes before the
cache (each only if enabled); an Accepted entry past its expiryDate counts as Expired.
Online, an Accepted local entry starts at once with LocalPreAuthorize, anything else
asks the backend (Authorize; its answer goes into the cache, except for idTags on the
list). Offline (or the Authorize failed), a local entry decides if LocalAuthorizeOffline
is set; an idTag known nowhere is Accepted only with AllowOfflineTxForUnknownId.
"""
import asyncio

from micropython import const

from lib import clock, log
from firmware.ocpp import tagrec
from firmware.ocpp.authcache import AuthCache
from firmware.ocpp.locallist import LocalList, TooLong
from firmware.ocpp.rpc import RpcError
from firmware.storage import fs

_TAG = "ocpp.auth"
_MAX_VERSION = const(0x7FFFFFFF)
_WATCH_MS = const(500)

ACCEPTED = tagrec.ACCEPTED
INVALID = "Invalid"

AUTHORIZE_CONF = {"idTagInfo": ("o!", tagrec.ID_TAG_INFO)}
SEND_LOCAL_LIST = {
    "listVersion": ("i!",),
    "localAuthorizationList": ("a", ("o", {"idTag": ("s!", 20),
                                           "idTagInfo": ("o", tagrec.ID_TAG_INFO)})),
    "updateType": ("e!", ("Differential", "Full")),
}


def _first(e):
    return e[0]


class Auth:
    """The charge point's local list (``list``) and cache (``cache``), both on flash.
    Loaded at boot, not at the first idTag: a card must never meet a failed import."""

    def __init__(self, cp):
        self.cp = cp
        root = cp.app.board.fs_root
        self.list = LocalList(fs.join(root, "ocpp_list.bin"))
        self.cache = AuthCache(fs.join(root, "ocpp_cache.bin"))
        cp.rpc.on("SendLocalList", self.send_local_list, SEND_LOCAL_LIST)
        cp.rpc.on("GetLocalListVersion", self.get_local_list_version, {})

    def now_s(self):
        """Unix seconds on the backend's clock (expiryDate is on that clock)."""
        return self.cp.time_s()

    # ---- lookups ----------------------------------------------------------------------

    def local(self, id_tag):
        """``(status, parentIdTag)`` from the local list, else the cache; None if the
        idTag is in neither (or both are disabled)."""
        cfg = self.cp.cfg
        k = tagrec.key(id_tag)
        e = None
        if cfg.get("LocalAuthListEnabled"):
            e = self.list.lookup(k)
        if e is None and cfg.get("AuthorizationCacheEnabled"):
            e = self.cache.get(k)
        if e is None:
            return None
        st, exp, parent = e
        if st == ACCEPTED and exp and exp <= self.now_s():
            st = tagrec.EXPIRED
        return st, parent

    def remember(self, id_tag, info):
        """An idTagInfo from the backend (Authorize, StartTransaction, StopTransaction)."""
        cfg = self.cp.cfg
        if not cfg.get("AuthorizationCacheEnabled"):
            return
        k = tagrec.key(id_tag)
        if k is None or (cfg.get("LocalAuthListEnabled") and self.list.lookup(k) is not None):
            return  # the list's entry is what counts for it
        try:
            self.cache.put(k, info, self.now_s())
        except (OSError, ValueError) as e:  # never into the caller (the delivery task)
            log.warn(_TAG, "not cached: %s", e)

    def clear_cache(self):
        """ClearCache: True when the cache is empty now."""
        try:
            self.cache.clear()
            return True
        except OSError as e:
            log.warn(_TAG, "ClearCache failed: %s", e)
            return False

    async def check(self, id_tag):
        """``(status, parentIdTag)`` for a presented idTag (see the module docstring)."""
        cp = self.cp
        cfg = cp.cfg
        loc = self.local(id_tag)
        online = cp.rpc.connected and cp.registered.is_set()
        if online and loc is not None and loc[0] == ACCEPTED and cfg.get("LocalPreAuthorize"):
            return loc
        if online:
            try:
                r = await cp.rpc.call("Authorize", {"idTag": id_tag[:20]}, schema=AUTHORIZE_CONF)
                info = r["idTagInfo"]
                self.remember(id_tag, info)
                return info["status"], info.get("parentIdTag")
            except RpcError as e:
                log.warn(_TAG, "Authorize failed (%s): deciding offline", e)
        if not cfg.get("LocalAuthorizeOffline"):
            loc = None  # offline, neither list nor cache may authorise
        if loc is not None:
            return loc
        return (ACCEPTED if cfg.get("AllowOfflineTxForUnknownId") else INVALID), None

    # ---- an idTag invalidated during its transaction ------------------------------------

    def invalidated(self, ses):
        """The backend answered the StartTransaction of running session ``ses`` with a
        non-Accepted idTagInfo: charging goes on up to MaxEnergyOnInvalidId Wh of the
        transaction, then the transaction stops (StopTransactionOnInvalidId, reason
        DeAuthorized) or only the energy delivery does."""
        limit = self.cp.cfg.get("MaxEnergyOnInvalidId")
        if limit > 0 and self._used_wh(ses) < limit:
            log.warn(_TAG, "idTag invalidated: charging on up to %d Wh", limit)
            asyncio.create_task(self._watch(ses, limit))
        else:
            self._cut(ses)

    def _used_wh(self, ses):
        return self.cp.app.board.meter.energy_wh - ses.start_wh

    async def _watch(self, ses, limit):
        s = self.cp.session
        while s.current is ses:
            if self._used_wh(ses) >= limit:
                self._cut(ses)
                return
            await clock.sleep_ms(_WATCH_MS)

    def _cut(self, ses):
        s = self.cp.session
        if s.current is not ses:
            return
        if self.cp.cfg.get("StopTransactionOnInvalidId"):
            s.request_stop("DeAuthorized")
        s.deauthorize()  # without the stop: no energy, the transaction stays open
        log.warn(_TAG, "idTag of session %d invalidated: %s", ses.sid,
                 "stopped" if s.stop_requested() else "energy delivery stopped")

    # ---- LocalAuthListManagement ------------------------------------------------------

    def get_local_list_version(self, p):
        if not self.cp.cfg.get("LocalAuthListEnabled"):
            return {"listVersion": -1}
        return {"listVersion": self.list.version()}

    def send_local_list(self, p):
        return {"status": self._update(p)}

    def _update(self, p):
        cfg = self.cp.cfg
        if not cfg.get("LocalAuthListEnabled"):
            return "NotSupported"
        items = p.get("localAuthorizationList") or ()
        full = p["updateType"] == "Full"
        v = p["listVersion"]
        if len(items) > cfg.get("SendLocalListMaxLength") or v < 0 or v > _MAX_VERSION:
            return "Failed"
        if not full and v <= self.list.version():
            return "VersionMismatch"
        if v == 0 and items:
            return "Failed"  # version 0 means "empty" (and -1 "disabled")
        changes = []
        for e in items:
            k = tagrec.key(e["idTag"])
            info = e.get("idTagInfo")
            if k is None or (info and len((info.get("parentIdTag") or "").encode()) > 20):
                return "Failed"  # not storable as sent (a NUL, over 20 bytes of UTF-8)
            changes.append((k, info))
        changes.sort(key=_first)
        for i in range(1, len(changes)):
            if changes[i][0] == changes[i - 1][0]:
                return "Failed"  # the same idTag twice: which one would count?
        try:
            self.list.apply(full, v, changes, cfg.get("LocalAuthListMaxLength"))
        except (TooLong, OSError) as e:
            log.warn(_TAG, "SendLocalList version %d failed: %s", v, e)
            return "Failed"
        return "Accepted"
