"""SmartCharging requests (loaded by ``smart`` on the first one): SetChargingProfile,
ClearChargingProfile, GetCompositeSchedule, and the check of a RemoteStartTransaction's
charging profile. The payload tables are checked here rather than at registration, so
they cost no RAM until a backend uses smart charging."""
from micropython import const

from lib import log
from firmware import events
from firmware.ocpp import schedule as sch
from firmware.ocpp import timefmt
from firmware.ocpp.schema import ValidationError, validate
from firmware.storage.kv import Store

_TAG = "ocpp.smart"
_MAX_DOC = const(16384)
_MAX_OUT = const(48)  # periods in a GetCompositeSchedule answer
_MAX_SLEEP_MS = const(60000)  # re-evaluate at least this often (the clock may be re-synced)

_PERIOD = {"startPeriod": ("i!", 0), "limit": ("n!", 0), "numberPhases": ("i",)}
_SCHEDULE = {"duration": ("i", 0), "startSchedule": ("t",),
             "chargingRateUnit": ("e!", ("A", "W")),
             "chargingSchedulePeriod": ("a!", ("o", _PERIOD), 1), "minChargingRate": ("n", 0)}
PROFILE = {"chargingProfileId": ("i!",), "transactionId": ("i",), "stackLevel": ("i!", 0),
           "chargingProfilePurpose": ("e!", sch.PURPOSES),
           "chargingProfileKind": ("e!", sch.KINDS),
           "recurrencyKind": ("e", ("Daily", "Weekly")), "validFrom": ("t",), "validTo": ("t",),
           "chargingSchedule": ("o!", _SCHEDULE)}
SET_PROFILE = {"connectorId": ("i!", 0), "csChargingProfiles": ("o!", PROFILE)}
CLEAR_PROFILE = {"id": ("i",), "connectorId": ("i", 0),
                 "chargingProfilePurpose": ("e", sch.PURPOSES), "stackLevel": ("i", 0)}
GET_COMPOSITE = {"connectorId": ("i!", 0), "duration": ("i!", 0),
                 "chargingRateUnit": ("e", ("A", "W"))}

_ACCEPTED = {"status": "Accepted"}
_REJECTED = {"status": "Rejected"}


def _acceptable(sm, pr):
    """Within this charge point's SmartCharging configuration (connectors, stack levels,
    periods, rate units)."""
    cfg = sm.cp.cfg
    return pr["c"] <= cfg.get("NumberOfConnectors") \
        and pr["lv"] <= cfg.get("ChargeProfileMaxStackLevel") \
        and len(pr["pe"]) <= cfg.get("ChargingScheduleMaxPeriods") \
        and ("Power" if pr["w"] else "Current") in \
        cfg.csl("ChargingScheduleAllowedChargingRateUnit")


def install(sm, pr):
    """Install profile ``pr`` on Smart ``sm`` (replacing one with its id, or its stack
    level and purpose on its connector); False when MaxChargingProfilesInstalled is
    reached or it cannot be persisted."""
    keep = [q for q in sm.profiles if q["id"] != pr["id"] and not (
        q["lv"] == pr["lv"] and q["pu"] == pr["pu"] and q["c"] == pr["c"])]
    if len(keep) >= sm.cp.cfg.get("MaxChargingProfilesInstalled"):
        return False
    keep.append(pr)
    if not _keep(sm, keep):
        return False
    log.info(_TAG, "profile %d installed (connector %d, %s, level %d)", pr["id"], pr["c"],
             sch.PURPOSES[pr["pu"]], pr["lv"])
    return True


def _keep(sm, profiles):
    """Make ``profiles`` the installed ones (persisted first, but for TxProfiles)."""
    new = [q for q in profiles if q["pu"] != sch.TX]
    if new != [q for q in sm.profiles if q["pu"] != sch.TX]:
        if sm.store is None:
            sm.store = Store(sm.path, _MAX_DOC)
        try:
            sm.store.save({"p": new})
        except (OSError, ValueError) as e:
            log.error(_TAG, "cannot save profiles: %s", e)
            return False
    sm.profiles = profiles
    sm.changed.set()
    return True


def set_profile(sm, p):
    validate(p, SET_PROFILE)
    n = p["connectorId"]
    try:
        pr = sch.parse(p["csChargingProfiles"], n)
    except sch.ProfileError as e:
        log.warn(_TAG, "profile rejected: %s", e)
        return _REJECTED
    if not _acceptable(sm, pr):
        return _REJECTED
    if pr["pu"] == sch.TX:
        # only for the running transaction (the one named, if one is)
        cur = sm.cp.session.current
        if n != 1 or cur is None or (pr["tx"] is not None and
                                     sm.cp.txq.remote_id(cur.sid) != pr["tx"]):
            return _REJECTED
    elif pr["pu"] == sch.CPMAX and n != 0:
        return _REJECTED
    return _ACCEPTED if install(sm, pr) else _REJECTED


def clear_profile(sm, p):
    """Every installed profile matching all the criteria given (none: every profile)."""
    validate(p, CLEAR_PROFILE)
    i = p.get("id")
    n = p.get("connectorId")
    pu = p.get("chargingProfilePurpose")
    pu = None if pu is None else sch.PURPOSES.index(pu)
    lv = p.get("stackLevel")
    keep = [q for q in sm.profiles if not (
        (i is None or q["id"] == i) and (n is None or q["c"] == n)
        and (pu is None or q["pu"] == pu) and (lv is None or q["lv"] == lv))]
    if len(keep) == len(sm.profiles) or not _keep(sm, keep):
        return {"status": "Unknown"}
    return _ACCEPTED


def _tenth(x10):
    return x10 // 10 if x10 % 10 == 0 else x10 / 10


def get_composite(sm, p):
    validate(p, GET_COMPOSITE)
    n = p["connectorId"]
    if n > sm.cp.cfg.get("NumberOfConnectors"):
        return _REJECTED
    unit = p.get("chargingRateUnit") or "A"
    t0 = sm.now()
    site = sch.site(sm.cp.app.cfg)
    per, dur = sch.composite(sm.profiles, n, t0, p["duration"], origin(sm, t0), site,
                             sm.cp.session.current is not None, _MAX_OUT)
    out = []
    for start, da, ph in per:
        x10 = da * site.volts * ph if unit == "W" else da
        out.append({"startPeriod": start, "limit": _tenth(x10), "numberPhases": ph})
    ts = timefmt.iso(t0)
    return {"status": "Accepted", "connectorId": n, "scheduleStart": ts,
            "chargingSchedule": {"duration": dur, "startSchedule": ts,
                                 "chargingRateUnit": unit, "chargingSchedulePeriod": out}}


def remote_profile(sm, profile):
    """Keep RemoteStartTransaction's ``profile`` as the pending TxProfile; False when it
    is none (malformed, another purpose, a transactionId, beyond the limits)."""
    try:
        validate(profile, PROFILE)
        pr = sch.parse(profile, 1)
    except (ValidationError, sch.ProfileError) as e:
        log.warn(_TAG, "remote start profile rejected: %s", e)
        return False
    if pr["pu"] != sch.TX or pr["tx"] is not None or not _acceptable(sm, pr):
        return False
    sm.pending = pr
    return True


def origin(sm, t):
    """Where relative schedules start: the transaction's start (or ``t``)."""
    cur = sm.cp.session.current
    return t if cur is None else cur.start_s + sm.cp.clock_offset_s


def on_event(sm, kind):
    """The session's events (``smart`` passes them on while there is a profile)."""
    if kind == events.SESSION_STARTED:
        pr = sm.pending
        sm.pending = None
        if pr is not None:
            install(sm, pr)
    elif kind == events.SESSION_ENDED:
        keep = [q for q in sm.profiles if q["pu"] != sch.TX]
        if len(keep) != len(sm.profiles):
            sm.profiles = keep
            log.info(_TAG, "TxProfile dropped with its transaction")
    elif kind == events.UNPLUGGED:
        sm.pending = None
    else:
        return
    sm.changed.set()


def apply(sm):
    """Put the composite limit of now on the session; returns ms until the next period
    boundary (capped)."""
    lim = None
    ms = _MAX_SLEEP_MS
    if sm.profiles:
        t = sm.now()
        da, _, _, nxt, limited = sch.limit_at(sm.profiles, 1, t, origin(sm, t),
                                              sch.site(sm.cp.app.cfg),
                                              sm.cp.session.current is not None)
        if limited:
            lim = da
        if nxt is not None:
            ms = max(1, min(ms, (nxt - t) * 1000))
    if lim != sm.limit_da:
        sm.limit_da = lim
        sm.cp.session.set_limit_a(None if lim is None else lim / 10)
    return ms
