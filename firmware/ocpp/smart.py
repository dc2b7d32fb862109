"""SmartCharging, the part that is always loaded: the installed charging profiles (read
at boot from their power-cut safe ``kv.Store``), the task that keeps the session's
current limit on the composite schedule, and the hooks for RemoteStartTransaction and
the session's events. Everything else (``smartreq``: the requests, the limit, the
store's writes; ``schedule``: the maths) is imported once a profile exists: a charge
point whose backend never sends one carries neither. Where the backend does, import them
at boot: loaded late, on a fragmented heap, the names they intern can need one large free
block that is no longer there (MemoryError; see tests/host/test_ocpp_smart.py)."""
from micropython import const

from lib import log
from firmware.ocpp import wait
from firmware.storage import fs
from firmware.storage.kv import Store

_TAG = "ocpp.smart"
_TX = const(2)  # schedule.TX: the purpose of a transaction's own profile
_RETRY_MS = const(5000)


def _req():
    from firmware.ocpp import smartreq

    return smartreq


def install(cp):
    """Register SetChargingProfile, ClearChargingProfile and GetCompositeSchedule on ``cp``
    (validated by ``smartreq``); returns the Smart (its task: ``run``)."""
    s = Smart(cp)
    r = cp.rpc
    r.on("SetChargingProfile", lambda p: _req().set_profile(s, p))
    r.on("ClearChargingProfile", lambda p: _req().clear_profile(s, p))
    r.on("GetCompositeSchedule", lambda p: _req().get_composite(s, p))
    return s


class Smart:
    """The installed charging profiles of one charge point (``schedule``'s compact form),
    the pending TxProfile of a remote start, and the limit they set."""

    def __init__(self, cp):
        self.cp = cp
        self.path = path = fs.join(cp.app.board.fs_root, "ocpp_profiles.json")
        self.store = None  # made by smartreq for the first save
        self.profiles = []
        saved = None
        if fs.exists(path) or fs.exists(path + ".tmp") or fs.exists(path + ".bak"):
            saved = (Store(path, 16384).load({}) or {}).get("p")
        if saved:
            from firmware.ocpp import schedule

            # TxProfiles belong to a transaction, and none survives a reboot
            self.profiles = [p for p in saved if schedule.sane(p) and p["pu"] != _TX]
        self.pending = None  # the TxProfile of a RemoteStartTransaction, until it starts
        self.limit_da = None  # what we put on the session (None: no limit)
        self.changed = wait.asyncio.Event()
        cp.app.bus.subscribe(self._on_event)

    def remote_start(self, profile):
        """RemoteStartTransaction's ``chargingProfile`` (None: none): False when it is
        no acceptable TxProfile (the request is then Rejected); else it becomes the
        transaction's TxProfile once the transaction starts."""
        self.pending = None
        return True if profile is None else _req().remote_profile(self, profile)

    def now(self):
        """The backend's time in Unix seconds (absolute schedules are in its clock)."""
        return self.cp.time_s()

    def _on_event(self, kind, arg):
        if self.pending is not None or self.profiles:
            _req().on_event(self, kind)

    def apply(self):
        """Put the composite limit of now on the session; ms until the next period
        boundary (0: nothing to follow)."""
        return _req().apply(self) if self.profiles or self.limit_da is not None else 0

    async def run(self):
        """Follow the composite schedule (until cancelled)."""
        while True:
            self.changed.clear()
            try:
                ms = self.apply()
            except Exception as e:  # MemoryError loading smartreq: keep the limit, retry
                log.error(_TAG, "cannot follow the schedule: %s", e)
                ms = _RETRY_MS
            await wait.event(self.changed, ms or None)
