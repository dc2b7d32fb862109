"""OCPP 1.6 charging profiles as plain data, and the composite schedule (pure: no I/O,
no clock; every time is Unix seconds of the backend's clock).

``parse`` turns a validated ``csChargingProfiles`` object into a compact dict that is
cheap to keep and to persist as JSON::

    {"id": 7, "c": connector, "lv": stackLevel, "pu": CPMAX|TXDEFAULT|TX,
     "k": ABSOLUTE|RECURRING|RELATIVE, "r": cycle s (0: not recurring), "tx": txId|None,
     "vf": validFrom|None, "vt": validTo|None, "st": startSchedule|None,
     "du": duration|None, "w": 1 for W else 0 (A), "mn": minChargingRate x10|None,
     "pe": [[startPeriod, limit x10, numberPhases or 0], ...]}

Limits are kept as integer tenths (the protocol's resolution is 0.1), so no float
rounding ever raises a limit. ``composite`` gives the schedule the charger follows:
per purpose the highest stack level that has a period at an instant wins; a TxProfile
beats the TxDefaultProfile; the result is min(ChargePointMax, Tx or TxDefault, the
hardware's maximum) in deciamps.
"""
from micropython import const

from firmware.ocpp import timefmt

CPMAX = const(0)
TXDEFAULT = const(1)
TX = const(2)
PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")

ABSOLUTE = const(0)
RECURRING = const(1)
RELATIVE = const(2)
KINDS = ("Absolute", "Recurring", "Relative")

_DAY = const(86400)
_WEEK = const(604800)
_MAX_STEPS = const(600)  # boundaries visited for one composite (bounds a hostile profile)


class ProfileError(ValueError):
    """A charging profile the charge point cannot accept (the reason is the message)."""


def _time(p, name):
    v = p.get(name)
    if v is None:
        return None
    t = timefmt.parse(v)
    if not (1 <= int(v[5:7]) <= 12 and 1 <= int(v[8:10]) <= 31 and int(v[11:13]) < 24
            and int(v[14:16]) < 60 and int(v[17:19]) < 61):
        raise ValueError("date-time out of range")
    return t


def _tenths(x):
    # floor: a limit is never raised by rounding; NaN fails the comparison too
    if not 0 <= x <= 1e7:
        raise ProfileError("limit out of range")
    return int(x * 10 + 1e-6)


def parse(p, connector):
    """The compact form of ``csChargingProfiles`` ``p`` (already schema-checked) for
    ``connector``; raises ProfileError when its content is inconsistent."""
    sc = p["chargingSchedule"]
    kind = KINDS.index(p["chargingProfileKind"])
    rk = p.get("recurrencyKind")
    if kind == RECURRING and rk is None:
        raise ProfileError("recurring without recurrencyKind")
    pe = []
    last = -1
    for q in sc["chargingSchedulePeriod"]:
        s = q["startPeriod"]
        ph = q.get("numberPhases", 0)
        if s <= last or (last < 0 and s != 0):
            raise ProfileError("periods must start at 0 and ascend")
        if ph and not 1 <= ph <= 3:
            raise ProfileError("numberPhases %d" % ph)
        pe.append([s, _tenths(q["limit"]), ph])
        last = s
    try:
        vf = _time(p, "validFrom")
        vt = _time(p, "validTo")
        st = _time(sc, "startSchedule")
    except ValueError:
        raise ProfileError("bad date-time")
    if vf is not None and vt is not None and vt <= vf:
        raise ProfileError("validTo before validFrom")
    mn = sc.get("minChargingRate")
    return {"id": p["chargingProfileId"], "c": connector, "lv": p["stackLevel"],
            "pu": PURPOSES.index(p["chargingProfilePurpose"]), "k": kind,
            "r": (_WEEK if rk == "Weekly" else _DAY) if kind == RECURRING else 0,
            "tx": p.get("transactionId"), "vf": vf, "vt": vt,
            "st": None if kind == RELATIVE else st, "du": sc.get("duration"),
            "w": 1 if sc["chargingRateUnit"] == "W" else 0,
            "mn": None if mn is None else _tenths(mn), "pe": pe}


def _min(a, b):
    if a is None:
        return b
    return a if b is None or a < b else b


def span(pr, t, origin):
    """``(limit x10, numberPhases, next)`` of profile ``pr`` at time ``t``: limit None
    where the profile sets none; ``next`` is the first time after ``t`` at which that may
    change (None: never). ``origin`` starts relative schedules (and those without
    startSchedule): the transaction's start."""
    vf = pr["vf"]
    vt = pr["vt"]
    if vf is not None and t < vf:
        return None, 0, vf
    if vt is not None and t >= vt:
        return None, 0, None
    a = pr["st"]
    if a is None:
        a = origin
    if t < a:
        return None, 0, _min(a, vt)
    off = t - a
    end = pr["r"]
    if end:
        a += off // end * end
        off = t - a
    else:
        end = None
    du = pr["du"]
    if du is not None and (end is None or du < end):
        if off >= du:  # schedule over (until the next cycle)
            return None, 0, _min(None if end is None else a + end, vt)
        end = du
    pe = pr["pe"]
    i = 0
    n = len(pe)
    while i + 1 < n and pe[i + 1][0] <= off:
        i += 1
    nb = end
    if i + 1 < n and (end is None or pe[i + 1][0] < end):
        nb = pe[i + 1][0]
    return pe[i][1], pe[i][2], _min(None if nb is None else a + nb, vt)


class Site:
    """What converts limits: the phase count and the nominal voltage, the hardware's
    maximum in deciamps."""

    def __init__(self, phases=3, volts=230, max_da=320):
        self.phases = phases
        self.volts = volts
        self.max_da = max_da

    def to_da(self, pr, lim, ph):
        if not pr["w"]:
            return lim
        return lim // (self.volts * (ph or self.phases))  # deciwatts -> deciamps


def site(cfg):
    """The Site of the firmware's configuration (``firmware.config``)."""
    return Site(cfg["phases"], cfg.get("nominal_voltage_v", 230), cfg["max_current_a"] * 10)


def _winner(profiles, pu, connector, t, origin, site):
    """(deciamps, phases, profile, next) of the highest stack level of purpose ``pu``
    that sets a limit at ``t`` on ``connector`` (connector-specific before connector 0)."""
    best = None
    best_key = -1
    nxt = None
    for pr in profiles:
        if pr["pu"] != pu or (pr["c"] != connector and pr["c"] != 0):
            continue
        lim, ph, n = span(pr, t, origin)
        nxt = _min(nxt, n)
        key = pr["lv"] * 2 + (pr["c"] != 0)
        if lim is not None and key > best_key:
            best_key = key
            best = (site.to_da(pr, lim, ph), ph, pr)
    if best is None:
        return None, 0, None, nxt
    return best[0], best[1], best[2], nxt


def limit_at(profiles, connector, t, origin, site, in_tx=True):
    """``(deciamps, phases, minimum deciamps or None, next, limited)`` the composite
    schedule allows on ``connector`` (0: the charge point as a whole) at ``t``;
    ``limited`` False when no profile sets a limit (then deciamps is the site's
    maximum). A TxProfile counts only ``in_tx``. Below the winning Tx/TxDefault
    profile's minChargingRate the result is 0 (pause rather than charge inefficiently)."""
    da, ph, _, nxt = _winner(profiles, CPMAX, 0, t, origin, site)
    limited = da is not None
    mn = None
    if connector:
        tda, tph, pr, n = _winner(profiles, TX, connector, t, origin, site) if in_tx \
            else (None, 0, None, None)
        nxt = _min(nxt, n)
        tdef, dph, dpr, n = _winner(profiles, TXDEFAULT, connector, t, origin, site)
        nxt = _min(nxt, n)
        if tda is None:
            tda, tph, pr = tdef, dph, dpr
        if tda is not None:
            limited = True
            if pr["mn"] is not None:
                mn = site.to_da(pr, pr["mn"], tph)
            if da is None or tda < da:
                da, ph = tda, tph
    if da is None or da > site.max_da:
        da = site.max_da
    if mn is not None and da < mn:
        da = 0
    return da, ph or site.phases, mn, nxt, limited


def composite(profiles, connector, t0, duration, origin, site, in_tx=True, max_periods=48):
    """The composite schedule over ``[t0, t0 + duration)``: a list of
    ``[startPeriod, deciamps, phases]`` (startPeriod relative to ``t0``; each holds
    until the next one), the first at 0, consecutive ones differing; and the duration
    covered (shorter than asked when ``max_periods`` cut it)."""
    out = []
    t = t0
    t1 = t0 + duration
    steps = 0
    while (t < t1 or not out) and steps < _MAX_STEPS:
        steps += 1
        da, ph, _, nxt, _ = limit_at(profiles, connector, t, origin, site, in_tx)
        if not out or out[-1][1] != da or out[-1][2] != ph:
            if len(out) >= max_periods:
                return out, t - t0
            out.append([t - t0, da, ph])
        if nxt is None or nxt <= t:
            break
        t = nxt
    return out, (t - t0 if steps >= _MAX_STEPS and t < t1 else duration)


def sane(p):
    """True when ``p`` (read back from storage) has the compact form's shape: a damaged
    or foreign file is dropped, never raised on at boot."""
    try:
        for k in ("id", "c", "lv", "pu", "k", "r", "w"):
            if type(p[k]) is not int:
                return False
        for k in ("vf", "vt", "st", "du", "mn", "tx"):
            if p[k] is not None and type(p[k]) is not int:
                return False
        pe = p["pe"]
        if not pe or pe[0][0] != 0 or not 0 <= p["pu"] <= 2 or p["r"] < 0:
            return False
        for q in pe:
            if len(q) != 3 or type(q[0]) is not int or type(q[1]) is not int \
                    or type(q[2]) is not int:
                return False
        return True
    except (KeyError, TypeError, IndexError):
        return False
