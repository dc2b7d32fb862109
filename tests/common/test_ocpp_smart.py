"""SmartCharging through the ChargePoint on a fake App, with a scripted central system:
SetChargingProfile / ClearChargingProfile / GetCompositeSchedule, the rules on purposes,
connectors, transactions and limits, RemoteStartTransaction's profile, persistence, and
the session limit following the composite schedule."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    from firmware.ocpp import chargepoint, smart, smartreq, timefmt
    from firmware.storage import fs
    from tests.common.test_ocpp_fake import NOW, FakeApp, run_rig
    from tests.common.test_storage_support import Sandbox

    T_NOW = timefmt.parse(NOW)  # the rig's backend clock at boot
    NO_LIMIT = 10000  # the session controller's "no external limit" in deciamps

    def profile(pid, purpose="TxDefaultProfile", periods=((0, 10),), level=0,
                kind="Absolute", start=None, unit="A", duration=None, **kw):
        sc = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
            {"startPeriod": s, "limit": lim} for s, lim in periods]}
        if start is not None:
            sc["startSchedule"] = timefmt.iso(start)
        if duration is not None:
            sc["duration"] = duration
        p = {"chargingProfileId": pid, "stackLevel": level,
             "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
             "chargingSchedule": sc}
        p.update(kw)
        return p

    async def ready(rig):
        await rig.until(lambda: rig.cp.registered.is_set(), "registered")

    async def set_p(rig, connector, p):
        r = await rig.call("SetChargingProfile", {"connectorId": connector,
                                                  "csChargingProfiles": p})
        assert r[0] == 3, r
        return r[2]["status"]

    async def clear(rig, **crit):
        r = await rig.call("ClearChargingProfile", crit)
        assert r[0] == 3, r
        return r[2]["status"]

    async def composite(rig, connector, duration, unit=None):
        p = {"connectorId": connector, "duration": duration}
        if unit:
            p["chargingRateUnit"] = unit
        r = await rig.call("GetCompositeSchedule", p)
        assert r[0] == 3, r
        return r[2]

    async def transaction(rig):
        rig.app.plug()
        rig.app.session.authorize("TAG1")
        await rig.until(lambda: rig.app.session.current is not None and
                        rig.cp.txq.remote_id(rig.app.session.current.sid) is not None, "tx id")
        return rig.cp.txq.remote_id(rig.app.session.current.sid)

    def ids(rig):
        return sorted(q["id"] for q in rig.cp.smart.profiles)

    def test_tx_default_limits_the_session_and_clearing_lifts_it():
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            assert s.limit_da() == NO_LIMIT
            assert await set_p(rig, 0, profile(1, periods=((0, 10.5),))) == "Accepted"
            await rig.until(lambda: s.limit_da() == 105, "limit 10.5 A")
            assert await clear(rig, id=1) == "Accepted"
            await rig.until(lambda: s.limit_da() == NO_LIMIT, "limit lifted")
            assert await clear(rig, id=1) == "Unknown"
            # a zero limit pauses (the charger offers nothing below 6 A)
            assert await set_p(rig, 1, profile(2, periods=((0, 0),))) == "Accepted"
            await rig.until(lambda: s.limit_da() == 0, "limit 0")
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_requests_the_charge_point_must_reject():
        async def body(rig):
            await ready(rig)
            out = []
            for n, p in (
                    (1, profile(1, "ChargePointMaxProfile")),  # only on connector 0
                    (2, profile(2)),  # no such connector
                    (1, profile(3, "TxProfile")),  # no transaction
                    (0, profile(4, level=9)),  # ChargeProfileMaxStackLevel is 8
                    (0, profile(5, periods=[(i * 60, 10) for i in range(25)])),  # > 24 periods
                    (0, profile(6, periods=((60, 10),))),  # must start at 0
                    (0, profile(7, kind="Recurring")),  # recurring without its kind
            ):
                out.append(await set_p(rig, n, p))
            assert out == ["Rejected"] * 7, out
            assert ids(rig) == []
            for i in range(8):  # MaxChargingProfilesInstalled
                purpose = ("TxDefaultProfile", "ChargePointMaxProfile")[i // 4]
                assert await set_p(rig, 0, profile(10 + i, purpose, level=i % 4)) == "Accepted"
            assert await set_p(rig, 1, profile(20)) == "Rejected"
            assert len(ids(rig)) == 8
            assert await set_p(rig, 0, profile(10, level=3, periods=((0, 7),))) == "Accepted"
            # replaced by id (level 0 -> 3 replaces id 13 too: same level and purpose)
            assert ids(rig) == [10, 11, 12, 14, 15, 16, 17]
            r = await rig.call("GetCompositeSchedule", {"connectorId": 2, "duration": 60})
            assert r[2]["status"] == "Rejected"
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_malformed_requests_get_call_errors():
        async def body(rig):
            await ready(rig)
            p = profile(1)
            del p["chargingSchedule"]
            r1 = await rig.call("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": p})
            r2 = await rig.call("SetChargingProfile", {"connectorId": 0, "csChargingProfiles":
                                                       profile(1, purpose="Other")})
            r3 = await rig.call("SetChargingProfile", {"connectorId": 0, "csChargingProfiles":
                                                       profile(1, periods=())})
            r4 = await rig.call("GetCompositeSchedule", {"connectorId": 1})
            r5 = await rig.call("ClearChargingProfile", {"stackLevel": "1"})
            return [r[2] if r[0] == 4 else r for r in (r1, r2, r3, r4, r5)]
        with Sandbox("smart") as sb:
            codes = run_rig(body, sb.dir)
        assert codes == ["ProtocolError", "PropertyConstraintViolation",
                         "OccurenceConstraintViolation", "ProtocolError",
                         "TypeConstraintViolation"], codes

    def test_same_level_and_purpose_replaces_and_clear_matches_every_criterion_given():
        async def body(rig):
            await ready(rig)
            assert await set_p(rig, 0, profile(1, level=1)) == "Accepted"
            assert await set_p(rig, 0, profile(2, level=1)) == "Accepted"  # replaces 1
            assert ids(rig) == [2]
            assert await set_p(rig, 1, profile(3, level=1)) == "Accepted"  # other connector
            assert await set_p(rig, 0, profile(4, "ChargePointMaxProfile", level=1)) == "Accepted"
            assert await set_p(rig, 0, profile(5, "ChargePointMaxProfile", level=2)) == "Accepted"
            assert ids(rig) == [2, 3, 4, 5]
            assert await clear(rig, id=2, connectorId=1) == "Unknown"  # both must match
            assert await clear(rig, connectorId=1) == "Accepted"
            assert ids(rig) == [2, 4, 5]
            assert await clear(rig, chargingProfilePurpose="ChargePointMaxProfile",
                               stackLevel=2) == "Accepted"
            assert ids(rig) == [2, 4]
            assert await clear(rig, stackLevel=7) == "Unknown"
            assert await clear(rig, chargingProfilePurpose="TxDefaultProfile") == "Accepted"
            assert ids(rig) == [4]
            assert await clear(rig) == "Accepted"  # no criterion: everything
            assert ids(rig) == []
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_tx_profile_needs_its_transaction_and_ends_with_it():
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            assert await set_p(rig, 0, profile(1, periods=((0, 12),))) == "Accepted"
            tid = await transaction(rig)
            await rig.until(lambda: s.limit_da() == 120, "TxDefault 12 A")
            assert await set_p(rig, 1, profile(2, "TxProfile", transactionId=tid + 1)) == "Rejected"
            assert await set_p(rig, 0, profile(2, "TxProfile")) == "Rejected"  # connector 0
            assert await set_p(rig, 1, profile(2, "TxProfile", ((0, 8),), transactionId=tid)) \
                == "Accepted"
            await rig.until(lambda: s.limit_da() == 80, "TxProfile 8 A beats the default")
            got = await composite(rig, 1, 300)
            assert [(q["startPeriod"], q["limit"]) for q in
                    got["chargingSchedule"]["chargingSchedulePeriod"]] == [(0, 8)]
            rig.app.unplug()  # the transaction ends
            await rig.until(lambda: ids(rig) == [1] and s.limit_da() == 120, "TxProfile gone")
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_remote_start_profile_becomes_the_transactions_tx_profile():
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            r = await rig.call("RemoteStartTransaction", {"idTag": "T1", "chargingProfile":
                                                          profile(1, "TxDefaultProfile")})
            assert r[2] == {"status": "Rejected"}
            r = await rig.call("RemoteStartTransaction", {"idTag": "T1", "chargingProfile":
                                                          {"chargingProfileId": "x"}})
            assert r[2] == {"status": "Rejected"}
            assert s.current is None and not s.authorized()
            r = await rig.call("RemoteStartTransaction", {"idTag": "T1", "chargingProfile": profile(
                7, "TxProfile", ((0, 6), (3600, 13)), kind="Relative")})
            assert r[2] == {"status": "Accepted"}
            assert ids(rig) == []  # not before the transaction starts
            rig.app.plug()
            await rig.until(lambda: s.current is not None, "session")
            await rig.until(lambda: ids(rig) == [7] and s.limit_da() == 60, "TxProfile active")
            got = (await composite(rig, 1, 7200))["chargingSchedule"]["chargingSchedulePeriod"]
            assert [q["limit"] for q in got] == [6, 13]
            assert 3590 <= got[1]["startPeriod"] <= 3600  # relative to the transaction's start
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_composite_schedule_in_amps_and_watts_on_both_connectors():
        async def body(rig):
            await ready(rig)
            t = rig.cp.smart.now()
            assert await set_p(rig, 0, profile(1, "ChargePointMaxProfile", ((0, 13), (600, 9)),
                                               start=t - 10)) == "Accepted"
            assert await set_p(rig, 1, profile(2, "TxDefaultProfile", ((0, 6900), (300, 3450)),
                                               start=t - 10, unit="W", duration=900)) == "Accepted"
            a = await composite(rig, 1, 1200)
            w = await composite(rig, 1, 1200, "W")
            z = await composite(rig, 0, 1200)
            empty = await composite(rig, 0, 60) if await clear(rig) == "Accepted" else None
            return t, a, w, z, empty
        with Sandbox("smart") as sb:
            t, a, w, z, empty = run_rig(body, sb.dir)
        assert a["status"] == "Accepted" and a["connectorId"] == 1
        t0 = timefmt.parse(a["scheduleStart"])
        assert abs(t0 - t) <= 2
        sc = a["chargingSchedule"]
        assert sc["chargingRateUnit"] == "A" and sc["duration"] == 1200
        d = t0 - t  # seconds between our reference and the answer's start
        # 6900 W / 3 / 230 V = 10 A until +290 s, 5 A (3450 W) to +890, then CPMax 9 A
        assert [(q["startPeriod"] + d, q["limit"]) for q in sc["chargingSchedulePeriod"]] == \
            [(d, 10), (290, 5), (890, 9)]
        assert [q["limit"] for q in w["chargingSchedule"]["chargingSchedulePeriod"]] == \
            [6900, 3450, 6210]
        assert [q["limit"] for q in z["chargingSchedule"]["chargingSchedulePeriod"]] == [13, 9]
        assert empty["chargingSchedule"]["chargingSchedulePeriod"] == \
            [{"startPeriod": 0, "limit": 16, "numberPhases": 3}]  # the hardware's maximum

    def test_limit_follows_the_period_boundaries():
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            sm = rig.cp.smart
            t = sm.now()
            assert await set_p(rig, 0, profile(1, "ChargePointMaxProfile", ((0, 16), (600, 7),
                                                                            (1200, 3)), start=t,
                                               duration=1800)) == "Accepted"
            await rig.until(lambda: s.limit_da() == 160, "16 A")
            ms = sm.apply()
            assert 590000 <= ms <= 600000 or ms == 60000  # next boundary (or the cap)
            seen = []
            for jump, want in ((600, 70), (600, 30), (600, NO_LIMIT)):
                rig.cp.clock_offset_s += jump  # the backend's clock moves on
                sm.changed.set()
                await rig.until(lambda: s.limit_da() == want, "limit %d" % want)
                seen.append(s.limit_da())
            return seen
        with Sandbox("smart") as sb:
            assert run_rig(body, sb.dir) == [70, 30, NO_LIMIT]

    def test_the_limit_task_survives_a_failing_evaluation():
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            good = smartreq.apply
            fails = []

            def bad(sm):
                fails.append(1)
                raise MemoryError("no block for the module")
            smartreq.apply = bad
            try:
                assert await set_p(rig, 0, profile(1, periods=((0, 9),))) == "Accepted"
                await rig.until(lambda: fails, "a failed evaluation")
            finally:
                smartreq.apply = good
            assert s.limit_da() == NO_LIMIT  # nothing applied, the old limit holds
            assert await set_p(rig, 0, profile(2, level=1, periods=((0, 7),))) == "Accepted"
            await rig.until(lambda: s.limit_da() == 70, "the task still follows")
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)

    def test_profiles_survive_a_reboot_the_tx_profile_does_not():
        async def body(rig):
            await ready(rig)
            cap = profile(1, "ChargePointMaxProfile", ((0, 11),))
            assert await set_p(rig, 0, cap) == "Accepted"
            assert await set_p(rig, 1, profile(2, level=2, periods=((0, 9),))) == "Accepted"
            await transaction(rig)
            assert await set_p(rig, 1, profile(3, "TxProfile")) == "Accepted"
            assert ids(rig) == [1, 2, 3]
        with Sandbox("smart") as sb:
            run_rig(body, sb.dir)
            cp = chargepoint.ChargePoint(FakeApp(sb.dir), connect=None)
            assert sorted(q["id"] for q in cp.smart.profiles) == [1, 2]
            cp.smart.apply()
            assert cp.session.limit_da() == 90

    class _Bare:
        """Just what ``Smart`` reads at boot (a ChargePoint per load would not fit the
        MicroPython heap in a loop)."""

        def __init__(self, root):
            self.app = self
            self.board = self
            self.bus = self
            self.fs_root = root
            self.clock_offset_s = 0

        def subscribe(self, fn):
            pass

    def loaded(root):
        return sorted(q["id"] for q in smart.Smart(_Bare(root)).profiles)

    def test_a_cut_save_leaves_the_old_or_the_new_profiles():
        with Sandbox("smart") as sb:
            cp = chargepoint.ChargePoint(FakeApp(sb.dir), connect=None)
            assert smartreq.set_profile(cp.smart, {"connectorId": 0, "csChargingProfiles":
                                                   profile(1)}) == {"status": "Accepted"}
            path = fs.join(sb.dir, "ocpp_profiles.json")
            with open(path, "rb") as f:
                old = f.read()
            smartreq.set_profile(cp.smart, {"connectorId": 0, "csChargingProfiles":
                                            profile(2, level=1)})
            with open(path, "rb") as f:
                new = f.read()
            assert loaded(sb.dir) == [1, 2]
            for cut in range(0, len(new), 7):
                # the new generation written only up to ``cut`` over the old one
                with open(path + ".bak", "wb") as f:
                    f.write(old)
                with open(path, "wb") as f:
                    f.write(new[:cut])
                assert loaded(sb.dir) == [1], cut
            with open(path, "wb") as f:  # a foreign document: dropped, no crash at boot
                f.write(b'{"p": [{"id": 1}, 5, {"id": 2, "pe": []}]}')
            fs.remove_if_exists(path + ".bak")
            assert loaded(sb.dir) == []

    def test_a_clock_sync_moves_the_limit_to_the_backends_period_at_once():
        # The backend's clock jumps an hour ahead (a Heartbeat answer): an absolute profile
        # whose second period starts then applies now, not at the task's next check.
        async def body(rig):
            await ready(rig)
            s = rig.app.session
            p = profile(1, periods=((0, 10), (3600, 16)), start=T_NOW - 60)
            assert await set_p(rig, 0, p) == "Accepted"
            await rig.until(lambda: s.limit_da() == 100, "first period")
            later = timefmt.iso(T_NOW + 3600)
            rig.csms.answers["Heartbeat"] = {"currentTime": later}
            r = await rig.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
            assert r[2] == {"status": "Accepted"}
            await rig.until(lambda: s.limit_da() == 160, "second period after the sync")
        with Sandbox("ocpp") as sb:
            run_rig(body, sb.dir)
