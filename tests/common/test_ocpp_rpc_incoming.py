"""OCPP-J RPC framing, incoming side: dispatch, every CALLERROR path, garbage frames,
the schema tables and date-time shapes."""

import tools  # noqa: F401
from firmware.ocpp import rpc
from tests.common.support import raises
from tests.common.test_ocpp_pipe import RESET, CHANGE_CONFIGURATION, SET_PROFILE, with_pipe


def _answers(calls):
    """Feed incoming CALL frames; return the answer frame for each."""
    async def body(r, pipe, log):
        out = []
        for c in calls:
            pipe.feed(c)
            out.append(await pipe.next_sent())
        return out, log
    return with_pipe(body)


def test_incoming_call_dispatched_and_answered():
    (res, conf, after), log = _answers([
        [2, "c1", "Reset", {"type": "Soft"}],
        [2, "c2", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}],
        [2, "c3", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
            "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "validFrom": "2026-01-01T10:00:00.5+01:00",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16}, {"startPeriod": 60, "limit": 6.5}]}}}],
    ])
    assert res == [3, "c1", {"status": "Accepted"}]
    assert conf == [3, "c2", {"status": "Accepted"}]
    assert after == [3, "c3", {"status": "Accepted"}]
    assert log == [("reset", "Soft"), ("after", "HeartbeatInterval")]


def test_every_callerror_path():
    big = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": []}}}
    ok = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}}
    cases = [
        ([2, "e1", "FooBar", {}], rpc.NOT_IMPLEMENTED),
        ([2, "e2", "UnlockConnector", {"connectorId": 1}], rpc.NOT_SUPPORTED),
        ([2, "e3", "Reset", ["Soft"]], rpc.FORMATION_VIOLATION),
        ([2, "e4", "Reset", {}], rpc.PROTOCOL_ERROR),
        ([2, "e5", "Reset", {"type": "Soft", "extra": 1}], rpc.FORMATION_VIOLATION),
        ([2, "e6", "Reset", {"type": 1}], rpc.TYPE_CONSTRAINT_VIOLATION),
        ([2, "e7", "Reset", {"type": "Maybe"}], rpc.PROPERTY_CONSTRAINT_VIOLATION),
        ([2, "e8", "ChangeConfiguration", {"key": "k" * 51, "value": "1"}],
         rpc.TYPE_CONSTRAINT_VIOLATION),
        ([2, "e9", "Reset"], rpc.FORMATION_VIOLATION),
        ([2, "e10", 42, {}], rpc.FORMATION_VIOLATION),
        ([2, "e11", "Reset", {"type": "Soft"}, "extra"], rpc.FORMATION_VIOLATION),
        ([2, "e12", "DataTransfer", {}], rpc.GENERIC_ERROR),
        ([2, "e13", "ClearCache", {}], rpc.INTERNAL_ERROR),
        ([2, "e14", "GetLocalListVersion", {}], rpc.INTERNAL_ERROR),
        ([2, "e15", "Heartbeatish", []], rpc.FORMATION_VIOLATION),
        ([2, "e16", "SetChargingProfile", big], rpc.OCCURENCE_CONSTRAINT_VIOLATION),
        ([2, "e17", "SetChargingProfile", dict(ok, connectorId=-1)],
         rpc.PROPERTY_CONSTRAINT_VIOLATION),
        ([2, "e18", "SetChargingProfile", dict(ok, connectorId=True)],
         rpc.TYPE_CONSTRAINT_VIOLATION),
        ([5, "e19", "Reset", {}], rpc.FORMATION_VIOLATION),
        (["2", "e20", "Reset", {}], rpc.FORMATION_VIOLATION),
    ]
    answers, log = _answers([c for c, _ in cases])
    for (c, code), a in zip(cases, answers):
        assert a[0] == 4 and a[1] == c[1] and a[2] == code, (c, a)
        assert type(a[3]) is str and type(a[4]) is dict
    assert answers[11][4] == {"why": 1}
    assert log == []


def test_garbage_frames_dropped_loop_survives():
    async def body(r, pipe, log):
        for g in ("not json", "{}", "[]", "[2]", '[2, 5, "Reset", {}]', "3",
                  '[2, "%s", "Reset", {"type": "Soft"}]' % ("x" * 37), '[2, "", "Reset", {}]',
                  b"\x00binary", "[" * 200, '[4, "nobody", "GenericError", "", {}]',
                  '[3, "nobody", {}]', "\u00e9\u20ac"):
            pipe.feed(g)
        pipe.feed([2, "ok", "Reset", {"type": "Hard"}])
        assert await pipe.next_sent() == [3, "ok", {"status": "Accepted"}]
        assert len(pipe.sent) == 1 and r.dropped == 13
        assert log == [("reset", "Hard")]
    with_pipe(body)


def test_validate_tables():
    v = rpc.validate
    v({"type": "Soft"}, RESET)
    e = raises(rpc.ValidationError, v, {"type": "Soft", "x": 1}, RESET)
    assert e.code == rpc.FORMATION_VIOLATION and "x" in e.description
    e = raises(rpc.ValidationError, v, {}, CHANGE_CONFIGURATION)
    assert e.code == rpc.PROTOCOL_ERROR and "key" in e.description
    sched = {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 2, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingSchedule": {"chargingRateUnit": "W", "minChargingRate": 1.5,
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}]}}}
    v(sched, SET_PROFILE)
    sched["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = "1"
    e = raises(rpc.ValidationError, v, sched, SET_PROFILE)
    assert e.code == rpc.TYPE_CONSTRAINT_VIOLATION
    assert "chargingSchedulePeriod[0].limit" in e.description
    raises(rpc.ValidationError, v, [], RESET)
    v({"a": [1, "x", None]}, {"a": ("a", ("*",))})
    raises(ValueError, v, {"a": 1}, {"a": ("q",)})  # a broken table is a bug, not a peer error
    assert raises(rpc.ValidationError, v, {"b": 1}, {"b": ("b",)}).code == \
        rpc.TYPE_CONSTRAINT_VIOLATION


def test_datetime_shapes():
    good = ("2026-11-21T06:31:44Z", "2026-11-21T06:31:44.123Z", "2026-11-21T06:31:44+01:00",
            "2026-11-21T06:31:44", "2026-11-21t06:31:44.5-05:30")
    bad = ("yesterday", "2026-11-21", "2026-11-21T06:31", "2026-11-21T06:31:44.Z",
           "2026-11-21T06:31:44+1", "2026/11/21T06:31:44Z", "2026-11-21T06:31:44Zjunk",
           "2026-11-2XT06:31:44Z", "")
    for s in good:
        assert rpc.is_datetime(s), s
    for s in bad:
        assert not rpc.is_datetime(s), s
