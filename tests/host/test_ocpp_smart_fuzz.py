"""A hostile backend's SmartCharging requests (hypothesis): any sequence of
SetChargingProfile / ClearChargingProfile / GetCompositeSchedule payloads, valid or
mutated, is answered with a status or a CALLERROR, never crashes a handler, and leaves
profiles that reload identically from storage and that the limit task can follow.

CPython only: hypothesis.
"""
import shutil
import tempfile

import tools  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.ocpp import chargepoint, smart, smartreq
from firmware.ocpp.schema import CallError
from lib import log
from tests.common.test_ocpp_fake import FakeApp
from tests.common.test_ocpp_smart import _Bare

_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 10 ** 12), st.floats(allow_nan=True),
                  st.text(max_size=30), st.lists(st.integers(), max_size=3), st.just({}))
_LATER = st.sampled_from(["2026-11-21T09:00:00Z", "2030-01-01T00:00:00Z", "2026-11-21T07:00:00Z"])
_TIMES = st.sampled_from(["2026-11-21T08:00:00Z", "2026-11-21T07:59:00+01:00",
                          "1970-01-01T00:00:00Z", "2026-02-30T25:61:61Z",
                          "9999-12-31T23:59:59.999Z", "2026-11-21T08:00:00"])


@st.composite
def a_profile(draw):
    """Mostly a valid profile (so that many are installed), sometimes one field broken."""
    n = draw(st.sampled_from([3, 26]))
    starts = sorted(set([0] + draw(st.lists(st.integers(1, 4000), max_size=n))))
    periods = []
    for s in starts:
        q = {"startPeriod": s, "limit": draw(st.one_of(st.integers(0, 40), st.floats(0, 50)))}
        if draw(st.booleans()):
            q["numberPhases"] = draw(st.integers(1, 3))
        periods.append(q)
    sc = draw(st.fixed_dictionaries(
        {"chargingRateUnit": st.sampled_from(["A", "W"])},
        optional={"duration": st.integers(0, 10 ** 6), "startSchedule": _TIMES,
                  "minChargingRate": st.floats(0, 20)}))
    sc["chargingSchedulePeriod"] = periods
    if sc["chargingRateUnit"] == "W":
        for q in periods:
            q["limit"] = q["limit"] * 690
    p = draw(st.fixed_dictionaries(
        {"chargingProfileId": st.integers(0, 12), "stackLevel": st.sampled_from([0, 1, 2, 3, 8, 9]),
         "chargingProfilePurpose": st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile",
                                                    "TxProfile"]),
         "chargingProfileKind": st.sampled_from(["Absolute", "Recurring", "Relative"])},
        optional={"validFrom": _TIMES, "validTo": _LATER, "transactionId": st.integers(0, 3)}))
    if p["chargingProfileKind"] == "Recurring" or draw(st.integers(0, 5)) == 0:
        p["recurrencyKind"] = draw(st.sampled_from(["Daily", "Weekly"]))
    p["chargingSchedule"] = sc
    broken = draw(st.integers(0, 11))
    if broken == 0:  # a field replaced by junk
        k = draw(st.sampled_from(sorted(p)))
        p[k] = draw(_JUNK)
    elif broken == 1:  # a period's field replaced by junk
        q = draw(st.sampled_from(periods))
        q[draw(st.sampled_from(["startPeriod", "limit", "numberPhases", "extra"]))] = draw(_JUNK)
    elif broken == 2:
        k = draw(st.sampled_from(sorted(sc)))
        sc[k] = draw(_JUNK)
    return p


_REQUEST = st.one_of(
    st.tuples(st.just("set"), st.fixed_dictionaries({
        "connectorId": st.sampled_from([0, 1, 0, 1, 2, -1]), "csChargingProfiles": a_profile()})),
    st.tuples(st.just("clear"), st.fixed_dictionaries({}, optional={
        "id": st.integers(-1, 12), "connectorId": st.integers(-1, 2),
        "stackLevel": st.integers(-1, 9),
        "chargingProfilePurpose": st.sampled_from(["TxDefaultProfile", "ChargePointMaxProfile",
                                                   "x"])})),
    st.tuples(st.just("get"), st.fixed_dictionaries(
        {"connectorId": st.integers(-1, 2), "duration": st.integers(-1, 10 ** 6)},
        optional={"chargingRateUnit": st.sampled_from(["A", "W", "V"])})),
    st.tuples(st.just("set"), st.fixed_dictionaries({"connectorId": st.integers(0, 1),
                                                     "csChargingProfiles": a_profile()})),
    st.tuples(st.just("set"), st.fixed_dictionaries({"connectorId": st.just(0),
                                                     "csChargingProfiles": a_profile()})),
    st.tuples(st.just("junk"), _JUNK),
)

_STATUS = {"set": ("Accepted", "Rejected"), "clear": ("Accepted", "Unknown"),
           "get": ("Accepted", "Rejected")}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=st.lists(_REQUEST, min_size=1, max_size=14), in_tx=st.booleans())
def test_any_request_sequence_is_answered_and_persisted_consistently(reqs, in_tx):
    root = tempfile.mkdtemp(prefix="evse-smart-fuzz-")
    log.set_sink(lambda *a: None)
    try:
        app = FakeApp(root)
        cp = chargepoint.ChargePoint(app, connect=lambda: None)
        if in_tx:
            app.plug()
            app.session.authorize("T")
        sm = cp.smart
        for kind, p in reqs:
            fn = {"set": smartreq.set_profile, "clear": smartreq.clear_profile,
                  "get": smartreq.get_composite, "junk": smartreq.set_profile}[kind]
            try:
                r = fn(sm, p)
            except CallError:
                continue
            assert kind != "junk"
            assert r["status"] in _STATUS[kind], (kind, r)
            if kind == "get" and r["status"] == "Accepted":
                per = r["chargingSchedule"]["chargingSchedulePeriod"]
                assert per and per[0]["startPeriod"] == 0
                assert all(q["limit"] >= 0 for q in per)
            sm.apply()
        assert len(sm.profiles) <= cp.cfg.get("MaxChargingProfilesInstalled")
        again = smart.Smart(_Bare(root)).profiles
        assert again == [q for q in sm.profiles if q["pu"] != 2]
    finally:
        log.set_sink(None)
        shutil.rmtree(root, ignore_errors=True)
