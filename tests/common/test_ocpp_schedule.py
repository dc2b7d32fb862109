"""Charging profiles and the composite schedule (firmware.ocpp.schedule: pure maths)."""
import tools  # noqa: F401
from firmware.ocpp import schedule as sch
from firmware.ocpp import timefmt
from tests.common.support import raises

T0 = timefmt.parse("2026-11-21T00:00:00Z")
SITE = sch.Site(phases=3, volts=230, max_da=320)


def prof(pid=1, purpose="TxDefaultProfile", kind="Absolute", level=0, periods=((0, 16),),
         unit="A", start=T0, duration=None, connector=1, **kw):
    sc = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
        dict({"startPeriod": q[0], "limit": q[1]}, **({"numberPhases": q[2]} if len(q) > 2 else {}))
        for q in periods]}
    if start is not None:
        sc["startSchedule"] = timefmt.iso(start)
    if duration is not None:
        sc["duration"] = duration
    if "min_rate" in kw:
        sc["minChargingRate"] = kw.pop("min_rate")
    p = {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sc}
    for k in ("validFrom", "validTo"):
        if k in kw:
            p[k] = timefmt.iso(kw.pop(k))
    p.update(kw)
    return sch.parse(p, connector)


def lim(profiles, t, origin=T0, connector=1, in_tx=True, site=SITE):
    da, ph, mn, nxt, limited = sch.limit_at(profiles, connector, t, origin, site, in_tx)
    return da if limited else None


def test_parse_keeps_tenths_times_and_codes():
    p = prof(pid=9, purpose="TxProfile", kind="Recurring", recurrencyKind="Weekly", level=3,
             periods=((0, 16.55, 1), (600, 0)), duration=3600, transactionId=5, min_rate=6.1,
             validFrom=T0 - 10, validTo=T0 + 10)
    assert p["id"] == 9 and p["c"] == 1 and p["lv"] == 3 and p["pu"] == sch.TX
    assert p["k"] == sch.RECURRING and p["r"] == 604800 and p["tx"] == 5
    assert p["pe"] == [[0, 165, 1], [600, 0, 0]] and p["mn"] == 61
    assert p["vf"] == T0 - 10 and p["vt"] == T0 + 10 and p["st"] == T0 and p["du"] == 3600
    assert prof(kind="Relative")["st"] is None  # a relative schedule has no fixed start
    assert prof(unit="W")["w"] == 1


def test_parse_rejects_inconsistent_profiles():
    for kw in ({"periods": ((10, 16),)}, {"periods": ((0, 16), (0, 10))},
               {"periods": ((0, 16), (600, 10), (300, 8))}, {"periods": ((0, 16, 4),)},
               {"kind": "Recurring"}, {"validFrom": T0 + 5, "validTo": T0 + 5},
               {"periods": ((0, -1),)}, {"periods": ((0, 1e300),)},
               {"periods": ((0, float("nan")),)}, {"min_rate": -0.5}):
        raises(sch.ProfileError, prof, **kw)
    p = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
         "chargingProfileKind": "Absolute", "validFrom": "2026-13-99T99:00:00Z",
         "chargingSchedule": {"chargingRateUnit": "A",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}
    raises(sch.ProfileError, sch.parse, p, 1)


def test_absolute_periods_duration_and_boundaries():
    p = prof(periods=((0, 16), (600, 10), (1200, 0)), duration=1800)
    assert sch.span(p, T0 - 5, T0) == (None, 0, T0)
    assert sch.span(p, T0, T0) == (160, 0, T0 + 600)
    assert sch.span(p, T0 + 599, T0) == (160, 0, T0 + 600)
    assert sch.span(p, T0 + 600, T0) == (100, 0, T0 + 1200)
    assert sch.span(p, T0 + 1799, T0) == (0, 0, T0 + 1800)
    assert sch.span(p, T0 + 1800, T0) == (None, 0, None)  # the schedule is over
    open_end = prof(periods=((0, 16), (600, 10)))
    assert sch.span(open_end, T0 + 10 ** 6, T0) == (100, 0, None)


def test_valid_from_and_valid_to_bound_the_profile():
    p = prof(periods=((0, 16), (600, 10)), validFrom=T0 + 300, validTo=T0 + 900)
    assert sch.span(p, T0, T0) == (None, 0, T0 + 300)
    assert sch.span(p, T0 + 300, T0) == (160, 0, T0 + 600)
    assert sch.span(p, T0 + 600, T0) == (100, 0, T0 + 900)
    assert sch.span(p, T0 + 900, T0)[0] is None


def test_recurring_daily_and_weekly_restart_each_cycle():
    d = prof(kind="Recurring", recurrencyKind="Daily", periods=((0, 16), (3600, 8)),
             duration=7200)
    for day in (0, 1, 30):
        base = T0 + day * 86400
        assert sch.span(d, base + 10, T0)[:2] == (160, 0)
        assert sch.span(d, base + 3600, T0) == (80, 0, base + 7200)
        assert sch.span(d, base + 7200, T0) == (None, 0, base + 86400)  # until tomorrow
    assert sch.span(d, T0 - 10, T0) == (None, 0, T0)  # not before its first start
    w = prof(kind="Recurring", recurrencyKind="Weekly", periods=((0, 16), (86400, 8)))
    assert sch.span(w, T0 + 7 * 86400 + 5, T0)[0] == 160
    assert sch.span(w, T0 + 8 * 86400 + 5, T0) == (80, 0, T0 + 14 * 86400)


def test_relative_schedule_starts_with_the_transaction():
    p = prof(kind="Relative", start=T0 + 999, periods=((0, 6), (60, 32)))
    tx = T0 + 5000
    assert sch.span(p, tx + 30, tx) == (60, 0, tx + 60)
    assert sch.span(p, tx + 60, tx)[0] == 320
    # an Absolute profile without startSchedule behaves the same
    q = prof(start=None, periods=((0, 6), (60, 32)))
    assert sch.span(q, tx + 30, tx) == (60, 0, tx + 60)


def test_watts_become_amps_with_period_phases_or_configured_ones():
    three = prof(unit="W", periods=((0, 11040),))  # 11040 W / (230 V x 3) = 16 A
    one = prof(unit="W", periods=((0, 3680, 1),), pid=2, level=1)  # 16 A on one phase
    assert lim([three], T0) == 160
    assert lim([three], T0, site=sch.Site(1, 230, 320)) == 320  # 48 A capped at 32 A
    assert lim([one], T0) == 160
    assert lim([three], T0, site=sch.Site(3, 240, 320)) == 153  # 15.33 A, rounded down


def test_highest_stack_level_wins_and_lower_resumes_after_it_ends():
    low = prof(pid=1, level=0, periods=((0, 20),))
    high = prof(pid=2, level=5, periods=((0, 8),), duration=600)
    ps = [high, low]
    assert lim(ps, T0 + 10) == 80
    assert lim(ps, T0 + 600) == 200
    higher_but_later = prof(pid=3, level=7, periods=((0, 30),), start=T0 + 1000)
    assert lim(ps + [higher_but_later], T0 + 999) == 200
    assert lim(ps + [higher_but_later], T0 + 1000) == 300  # not the lower 20 A: it wins


def test_tx_beats_tx_default_and_cpmax_caps_both():
    dflt = prof(pid=1, purpose="TxDefaultProfile", connector=0, periods=((0, 10),))
    tx = prof(pid=2, purpose="TxProfile", periods=((0, 25),))
    cpmax = prof(pid=3, purpose="ChargePointMaxProfile", connector=0, periods=((0, 20),),
                 duration=100)
    assert lim([dflt], T0) == 100  # connector 0 TxDefault applies to connector 1
    assert lim([dflt, tx], T0) == 250
    assert lim([dflt, tx], T0, in_tx=False) == 100  # a TxProfile needs its transaction
    assert lim([dflt, tx, cpmax], T0) == 200
    assert lim([dflt, tx, cpmax], T0 + 100) == 250
    assert lim([cpmax], T0, connector=0) == 200
    assert lim([dflt, tx], T0, connector=0) is None  # connector 0: ChargePointMax only
    assert lim([], T0) is None
    da, ph, mn, nxt, limited = sch.limit_at([], 1, T0, T0, SITE)
    assert (da, ph, nxt, limited) == (320, 3, None, False)


def test_connector_specific_tx_default_beats_connector_zero_at_the_same_level():
    zero = prof(pid=1, connector=0, periods=((0, 10),))
    one = prof(pid=2, connector=1, periods=((0, 14),))
    assert lim([one, zero], T0) == 140 and lim([zero, one], T0) == 140
    assert lim([prof(pid=3, connector=0, level=1, periods=((0, 12),)), one], T0) == 120


def test_below_min_charging_rate_pauses():
    p = prof(periods=((0, 16), (60, 5)), min_rate=6)
    assert lim([p], T0) == 160
    assert lim([p], T0 + 60) == 0
    cap = prof(pid=2, purpose="ChargePointMaxProfile", connector=0, periods=((0, 4),))
    assert lim([p, cap], T0) == 0
    edge = prof(periods=((0, 6), (60, 5.9)), min_rate=6)
    assert lim([edge], T0) == 60 and lim([edge], T0 + 60) == 0


def test_composite_lists_boundaries_merged_and_relative():
    a = prof(pid=1, level=0, periods=((0, 16), (600, 16), (1200, 10)))
    b = prof(pid=2, purpose="ChargePointMaxProfile", connector=0, periods=((0, 12),),
             start=T0 + 900, duration=600)
    per, dur = sch.composite([a, b], 1, T0 + 100, 3600, T0 + 100, SITE)
    assert dur == 3600
    # 16 A (the 600 s boundary changes nothing) until the cap at 900, 10 A from 1200
    assert per == [[0, 160, 3], [800, 120, 3], [1100, 100, 3]]
    none, dur = sch.composite([], 1, T0, 60, T0, SITE)
    assert none == [[0, 320, 3]] and dur == 60
    assert sch.composite([a], 1, T0, 0, T0, SITE) == ([[0, 160, 3]], 0)  # the instant itself


def test_composite_is_cut_at_max_periods():
    p = prof(kind="Recurring", recurrencyKind="Daily",
             periods=[(i * 3600, 6 + i % 2) for i in range(24)])
    per, dur = sch.composite([p], 1, T0, 7 * 86400, T0, SITE, max_periods=10)
    assert len(per) == 10 and dur == 10 * 3600
    assert [q[1] for q in per[:3]] == [60, 70, 60]


def test_composite_work_is_bounded_and_says_how_far_it_got():
    # 24 boundaries a day that change nothing: the walk stops after _MAX_STEPS of them
    same = prof(kind="Recurring", recurrencyKind="Daily",
                periods=[(i * 3600, 10) for i in range(24)])
    per, dur = sch.composite([same], 1, T0, 365 * 86400, T0, SITE)
    assert per == [[0, 100, 3]]
    assert 86400 <= dur < 365 * 86400 and dur % 3600 == 0
