"""Properties of the composite schedule (firmware.ocpp.schedule) on generated profiles,
checked second by second against a brute-force reference written independently here:
the composite equals the reference at every second, is constant on each period it
reports, never exceeds the winning profile of each purpose nor the hardware maximum, and
its periods start at 0, ascend and differ from one to the next.

CPython only: hypothesis.
"""
import tools  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.ocpp import schedule as sch
from firmware.ocpp import timefmt

T0 = timefmt.parse("2026-11-21T06:00:00Z")
WINDOW = 400
DAY = 86400


@st.composite
def profiles(draw):
    n = draw(st.integers(1, 4))
    out = []
    for i in range(n):
        purpose = draw(st.sampled_from(sch.PURPOSES))
        kind = draw(st.sampled_from(sch.KINDS))
        starts = sorted(set([0] + draw(st.lists(st.integers(1, 300), max_size=4))))
        periods = []
        for s in starts:
            tenths = st.integers(0, 400).map(lambda x: x / 10)
            q = {"startPeriod": s, "limit": draw(st.one_of(st.integers(0, 40), tenths))}
            ph = draw(st.integers(0, 3))
            if ph:
                q["numberPhases"] = ph
            periods.append(q)
        unit = draw(st.sampled_from(("A", "W")))
        if unit == "W":
            for q in periods:
                q["limit"] = q["limit"] * 690
        sc = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
        if draw(st.booleans()) or kind == "Recurring":
            sc["startSchedule"] = timefmt.iso(T0 + draw(st.integers(-200, 200)))
        if draw(st.booleans()):
            sc["duration"] = draw(st.integers(1, 400))
        if draw(st.booleans()):
            sc["minChargingRate"] = draw(st.integers(0, 12))
        p = {"chargingProfileId": i + 1, "stackLevel": draw(st.integers(0, 3)),
             "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
             "chargingSchedule": sc}
        if kind == "Recurring":
            p["recurrencyKind"] = draw(st.sampled_from(("Daily", "Weekly")))
        if draw(st.booleans()):
            p["validFrom"] = timefmt.iso(T0 + draw(st.integers(-300, 300)))
        if draw(st.booleans()):
            p["validTo"] = timefmt.iso(T0 + draw(st.integers(301, 900)))
        if purpose == "ChargePointMaxProfile":
            c = 0
        else:
            c = draw(st.integers(0 if purpose != "TxProfile" else 1, 1))
        out.append(sch.parse(p, c))
    return out


def ref_value(p, t, origin):
    """(limit x10, phases) of one profile at t, or None: the definitions, step by step."""
    if p["vf"] is not None and t < p["vf"]:
        return None
    if p["vt"] is not None and t >= p["vt"]:
        return None
    a = origin if p["st"] is None else p["st"]
    if t < a:
        return None
    if p["r"]:
        while a + p["r"] <= t:
            a += p["r"]
    off = t - a
    if p["du"] is not None and off >= p["du"]:
        return None
    got = None
    for s, lim, ph in p["pe"]:
        if s <= off and (not p["r"] or s < p["r"]):
            got = (lim, ph)
    return got


def ref_winner(ps, purpose, connector, t, origin, site):
    best = None
    for p in ps:
        if p["pu"] != purpose or p["c"] not in (0, connector):
            continue
        v = ref_value(p, t, origin)
        if v is None:
            continue
        key = (p["lv"], p["c"] != 0)
        if best is None or key > best[0]:
            best = (key, v, p)
    if best is None:
        return None
    (lim, ph), p = best[1], best[2]
    ph = ph or site.phases
    da = lim // (site.volts * ph) if p["w"] else lim
    mn = None
    if p["mn"] is not None:
        mn = p["mn"] // (site.volts * ph) if p["w"] else p["mn"]
    return da, mn


def ref_composite(ps, connector, t, origin, site, in_tx):
    cap = ref_winner(ps, sch.CPMAX, 0, t, origin, site)
    lims = [site.max_da]
    if cap is not None:
        lims.append(cap[0])
    mn = None
    if connector:
        w = ref_winner(ps, sch.TX, connector, t, origin, site) if in_tx else None
        if w is None:
            w = ref_winner(ps, sch.TXDEFAULT, connector, t, origin, site)
        if w is not None:
            lims.append(w[0])
            mn = w[1]
    da = min(lims)
    return 0 if mn is not None and da < mn else da, lims


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=profiles(), connector=st.integers(0, 1), in_tx=st.booleans(),
       cycle=st.integers(0, 8), shift=st.integers(-350, 50), phases=st.integers(1, 3),
       origin_off=st.integers(-100, 100))
def test_composite_matches_the_definition_second_by_second(ps, connector, in_tx, cycle, shift,
                                                             phases, origin_off):
    site = sch.Site(phases, 230, 320)
    t0 = T0 + cycle * DAY + shift  # near a daily (and, at 7, weekly) restart
    origin = t0 + origin_off
    per, dur = sch.composite(ps, connector, t0, WINDOW, origin, site, in_tx, max_periods=1000)
    assert dur == WINDOW
    assert per[0][0] == 0
    for a, b in zip(per, per[1:]):
        assert a[0] < b[0] < WINDOW and (a[1], a[2]) != (b[1], b[2])
    ends = [q[0] for q in per[1:]] + [WINDOW]
    for (start, da, _ph), end in zip(per, ends):
        for t in range(start, end):  # constant on the period, and the definition's value
            want, lims = ref_composite(ps, connector, t0 + t, origin, site, in_tx)
            assert da == want, (t, da, want)
            assert all(da <= x for x in lims)  # never above a winning profile or the maximum


@settings(max_examples=100, deadline=None)
@given(ps=profiles(), cut=st.integers(1, 6), phases=st.integers(1, 3))
def test_a_cut_composite_is_a_prefix_of_the_whole(ps, cut, phases):
    site = sch.Site(phases, 230, 320)
    whole, dur = sch.composite(ps, 1, T0, 2 * DAY, T0, site, True, max_periods=1000)
    assert dur == 2 * DAY
    part, pdur = sch.composite(ps, 1, T0, 2 * DAY, T0, site, True, max_periods=cut)
    assert part == whole[:cut]
    assert pdur == (whole[cut][0] if len(whole) > cut else 2 * DAY)


@settings(max_examples=100, deadline=None)
@given(ps=profiles(), at=st.integers(-500, 1500))
def test_limit_holds_until_the_next_boundary_it_names(ps, at):
    site = sch.Site(3, 230, 320)
    t = T0 + at
    da, _ph, _mn, nxt, _lim = sch.limit_at(ps, 1, t, T0, site)
    assert nxt is None or nxt > t
    end = t + 300 if nxt is None else min(nxt, t + 300)
    for u in range(t, end):
        assert sch.limit_at(ps, 1, u, T0, site)[0] == da
