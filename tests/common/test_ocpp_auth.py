"""Who may charge, through the ChargePoint on a fake App with a scripted central system:
SendLocalList / GetLocalListVersion (full, differential, versions, hostile lists, a
reboot, a power cut during an update), the persisted authorization cache and ClearCache,
LocalPreAuthorize, LocalAuthorizeOffline, AllowOfflineTxForUnknownId, expiry, and
StopTransactionOnInvalidId / MaxEnergyOnInvalidId."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    import asyncio

    from firmware.ocpp import status as chg  # the charger's state numbers
    from firmware.storage import fs
    from tests.common.test_ocpp_fake import FakeApp, Rig
    from tests.common.test_storage_support import Sandbox

    PAST = "2020-01-01T00:00:00Z"
    FUTURE = "2099-01-01T00:00:00Z"

    def _run(body, root, up=True, **kw):
        """``body(rig)`` on a fresh ChargePoint over ``root`` (a boot); ``up`` False:
        the backend is unreachable from the start."""
        async def main():
            rig = Rig(root, app=FakeApp(root), **kw)
            rig.up = up
            rig.start()
            try:
                if up:
                    await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2,
                                    "boot+status")
                return await body(rig)
            finally:
                await rig.stop()
        return asyncio.run(main())

    def _entry(tag, status="Accepted", **info):
        info["status"] = status
        return {"idTag": tag, "idTagInfo": info}

    async def _send(rig, version, entries, kind="Full"):
        r = await rig.call("SendLocalList", {"listVersion": version, "updateType": kind,
                                             "localAuthorizationList": entries})
        return r[2]["status"] if r[0] == 3 else r[2]

    async def _version(rig):
        return (await rig.call("GetLocalListVersion", {}))[2]["listVersion"]

    async def _offline(rig):
        rig.cut()
        await rig.until(lambda: not rig.cp.rpc.connected, "offline")

    def test_full_and_differential_lists_with_versions_survive_a_reboot():
        async def first(rig):
            v0 = await _version(rig)
            a = await _send(rig, 1, [_entry("CARD1"), _entry("CARD2", "Blocked"),
                                     _entry("Card3", parentIdTag="FLEET", expiryDate=FUTURE)])
            v1 = await _version(rig)
            b = await _send(rig, 2, [{"idTag": "CARD2"}, _entry("CARD4")], "Differential")
            c = await _send(rig, 2, [_entry("CARD5")], "Differential")  # not newer
            d = await _send(rig, 1, [_entry("CARD5")], "Differential")
            return v0, a, v1, b, c, d, await _version(rig)

        async def second(rig):
            await _offline(rig)
            got = []
            for t in ("CARD1", "card2", "CARD3", "CARD4", "CARD5"):
                got.append(await rig.cp.tx.authorize(t))
                rig.app.session.deauthorize()
            rig.up = True
            await rig.until(lambda: rig.cp.rpc.connected and rig.cp.registered.is_set(), "back")
            return got, await _version(rig), rig.cp.auth.local("CARD3")

        with Sandbox("ocpp") as sb:
            got = _run(first, sb.dir)
            assert got == (0, "Accepted", 1, "Accepted", "VersionMismatch", "VersionMismatch", 2)
            tags, v, card3 = _run(second, sb.dir)  # a reboot: a new ChargePoint on the same files
        # CARD2 was removed (a differential entry without idTagInfo): unknown offline
        assert tags == ["Accepted", "Invalid", "Accepted", "Accepted", "Invalid"]
        assert v == 2 and card3 == ("Accepted", "FLEET")

    def test_hostile_lists_are_answered_and_leave_the_installed_list_intact():
        cfg = {"SendLocalListMaxLength": 3, "LocalAuthListMaxLength": 4}

        async def body(rig):
            ok = await _send(rig, 5, [_entry("A"), _entry("B")])
            path = fs.join(rig.root, "ocpp_list.bin")
            before = fs.read_file(path)
            answers = [
                await _send(rig, 6, [_entry("C"), _entry("D"), _entry("E"), _entry("F")]),
                await _send(rig, 6, [_entry("C"), _entry("c", "Blocked")]),  # the same idTag
                await _send(rig, 6, [_entry("C"), _entry("D"), _entry("E")], "Differential"),
                await _send(rig, -1, [_entry("C")]),
                await _send(rig, 0, [_entry("C")]),
                await _send(rig, 0, [], "Differential"),
                await _send(rig, 4, [_entry("C")], "Differential"),
                await _send(rig, 5, [_entry("C")], "Differential"),
                await _send(rig, 6, [_entry("C", parentIdTag="\u00e9" * 20)]),  # 40 bytes
                await _send(rig, 6, [_entry("C\u0000")]),
            ]
            bad = []
            for p in ({"listVersion": 6, "updateType": "Sometimes"},
                      {"listVersion": 6},
                      {"listVersion": "6", "updateType": "Full"},
                      {"listVersion": 6, "updateType": "Full", "localAuthorizationList": [
                          {"idTag": "X" * 21, "idTagInfo": {"status": "Accepted"}}]},
                      {"listVersion": 6, "updateType": "Full", "localAuthorizationList": [
                          {"idTag": "X", "idTagInfo": {"status": "Maybe"}}]},
                      {"listVersion": 6, "updateType": "Full", "localAuthorizationList": [
                          {"idTag": "X", "idTagInfo": {"status": "Accepted",
                                                       "expiryDate": "tomorrow"}}]},
                      {"listVersion": 6, "updateType": "Full", "localAuthorizationList": [
                          {"idTag": "X", "evil": 1}]},
                      {"listVersion": 6, "updateType": "Full", "localAuthorizationList": "A,B"}):
                r = await rig.call("SendLocalList", p)
                bad.append(r[0] == 4 and r[2])
            return ok, answers, bad, before, fs.read_file(path), await _version(rig)

        with Sandbox("ocpp") as sb:
            ok, answers, bad, before, after, v = _run(body, sb.dir, cfg=cfg)
        assert ok == "Accepted"
        # over SendLocalListMaxLength, duplicate idTag, over LocalAuthListMaxLength after the
        # merge, negative version, version 0 with entries, differential not newer (x3), a
        # parentIdTag or idTag the list cannot store
        assert answers == ["Failed", "Failed", "Failed", "Failed", "Failed", "VersionMismatch",
                           "VersionMismatch", "VersionMismatch", "Failed", "Failed"]
        assert bad == ["PropertyConstraintViolation", "ProtocolError", "TypeConstraintViolation",
                       "TypeConstraintViolation", "PropertyConstraintViolation",
                       "TypeConstraintViolation", "FormationViolation", "TypeConstraintViolation"]
        assert after == before and v == 5

    def test_a_power_cut_during_send_local_list_keeps_the_old_list():
        async def make(rig):
            await _send(rig, 1, [_entry("OLD1"), _entry("OLD2")])
            old = fs.read_file(fs.join(rig.root, "ocpp_list.bin"))
            await _send(rig, 2, [_entry("NEW1"), {"idTag": "OLD1"}], "Differential")
            return old, fs.read_file(fs.join(rig.root, "ocpp_list.bin"))

        async def after(rig):
            await _offline(rig)
            a = await rig.cp.tx.authorize("OLD1")
            rig.app.session.deauthorize()
            b = await rig.cp.tx.authorize("NEW1")
            return a, b, rig.cp.auth.list.version()

        with Sandbox("ocpp") as sb:
            old, new = _run(make, sb.dir)
            path = fs.join(sb.dir, "ocpp_list.bin")
            for cut in (0, 1, 47, 48, len(new) - 17, len(new) - 1):
                with open(path, "wb") as f:  # the list as it was before the update
                    f.write(old)
                with open(path + ".tmp", "wb") as f:  # the update, cut by the power loss
                    f.write(new[:cut])
                assert _run(after, sb.dir) == ("Accepted", "Invalid", 1), cut
                assert not fs.exists(path + ".tmp")

    def test_local_list_disabled_reports_minus_one_and_is_not_used():
        async def body(rig):
            await _send(rig, 3, [_entry("LISTED")])
            r = await rig.call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
            v = await _version(rig)
            s = await _send(rig, 4, [_entry("OTHER")])
            await _offline(rig)
            st = await rig.cp.tx.authorize("LISTED")
            return r[2]["status"], v, s, st
        with Sandbox("ocpp") as sb:
            assert _run(body, sb.dir) == ("Accepted", -1, "NotSupported", "Invalid")

    def test_local_pre_authorize_starts_at_once_from_the_list_and_cache():
        async def body(rig):
            cs = rig.csms
            await _send(rig, 1, [_entry("LISTED"), _entry("OLD", expiryDate=PAST)])
            n0 = len(cs.actions("Authorize"))
            pre_off = await rig.cp.tx.authorize("LISTED")  # LocalPreAuthorize false: asked
            asked = len(cs.actions("Authorize")) - n0
            rig.app.session.deauthorize()
            await rig.call("ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"})
            n1 = len(cs.actions("Authorize"))
            listed = await rig.cp.tx.authorize("LISTED")
            rig.app.session.deauthorize()
            await rig.cp.tx.authorize("CACHED")  # online: now in the cache
            rig.app.session.deauthorize()
            n2 = len(cs.actions("Authorize"))
            cached = await rig.cp.tx.authorize("CACHED")
            rig.app.session.deauthorize()
            n3 = len(cs.actions("Authorize"))
            old = await rig.cp.tx.authorize("OLD")  # expired locally: the backend decides
            return (pre_off, asked, listed, n2 - n1 - 1, cached,
                    n3 - n2, old, cs.actions("Authorize")[-1])
        with Sandbox("ocpp") as sb:
            got = _run(body, sb.dir)
        assert got == ("Accepted", 1, "Accepted", 0, "Accepted", 0, "Accepted", {"idTag": "OLD"})

    def test_offline_rules_list_before_cache_expiry_and_unknown_ids():
        async def body(rig):
            cs = rig.csms
            cs.answers["Authorize"] = lambda p: {"idTagInfo": {"status": "Accepted"}}
            for t in ("BOTH", "GOOD", "STALE"):
                await rig.cp.tx.authorize(t)  # all cached as Accepted
                rig.app.session.deauthorize()
            await _send(rig, 1, [_entry("BOTH", "Blocked"), _entry("STALE", expiryDate=PAST),
                                 _entry("LISTED")])
            await _offline(rig)
            out = []
            for t in ("BOTH", "GOOD", "STALE", "LISTED", "STRANGER"):
                out.append(await rig.cp.tx.authorize(t))
                rig.app.session.deauthorize()
            rig.cp.cfg.change("AllowOfflineTxForUnknownId", "true")  # (no backend to ask)
            for t in ("STRANGER", "BOTH", "STALE"):
                out.append(await rig.cp.tx.authorize(t))
                rig.app.session.deauthorize()
            rig.cp.cfg.change("LocalAuthorizeOffline", "false")
            out.append(await rig.cp.tx.authorize("BOTH"))  # not looked up: unknown, allowed
            return out
        with Sandbox("ocpp") as sb:
            got = _run(body, sb.dir)
        assert got == ["Blocked", "Accepted", "Expired", "Accepted", "Invalid",
                       "Accepted", "Blocked", "Expired", "Accepted"]

    def test_cache_survives_a_reboot_and_clear_cache_empties_it_for_good():
        async def first(rig):
            rig.csms.answers["Authorize"] = lambda p: {"idTagInfo": {
                "status": "Accepted" if p["idTag"] == "GOOD" else "Blocked",
                "expiryDate": FUTURE}}
            await rig.cp.tx.authorize("GOOD")
            await rig.cp.tx.authorize("BAD")

        async def offline(rig):
            out = []
            for t in ("GOOD", "BAD"):
                out.append(await rig.cp.tx.authorize(t))
                rig.app.session.deauthorize()
            return out

        async def clear(rig):
            return (await rig.call("ClearCache", {}))[2]

        with Sandbox("ocpp") as sb:
            _run(first, sb.dir)
            assert _run(offline, sb.dir, up=False) == ["Accepted", "Blocked"]
            assert _run(clear, sb.dir) == {"status": "Accepted"}
            assert _run(offline, sb.dir, up=False) == ["Invalid", "Invalid"]

    def test_cache_disabled_remembers_nothing():
        async def body(rig):
            await rig.call("ChangeConfiguration", {"key": "AuthorizationCacheEnabled", "value": "false"})
            await rig.cp.tx.authorize("GOOD")
            rig.app.session.deauthorize()
            await _offline(rig)
            return await rig.cp.tx.authorize("GOOD")
        with Sandbox("ocpp") as sb:
            assert _run(body, sb.dir) == "Invalid"

    def test_start_and_stop_answers_update_the_cache():
        async def body(rig):
            cs = rig.csms
            cs.answers["StartTransaction"] = {"transactionId": 5, "idTagInfo": {"status": "Blocked"}}
            await rig.call("ChangeConfiguration", {"key": "StopTransactionOnInvalidId", "value": "false"})
            rig.app.plug()
            await rig.cp.tx.authorize("CARD")  # Accepted by Authorize, Blocked by the start
            await rig.until(lambda: not rig.app.session.authorized(), "energy stopped")
            blocked = rig.cp.auth.local("CARD")
            cs.answers["StopTransaction"] = {"idTagInfo": {"status": "Accepted", "parentIdTag": "P"}}
            stop_requested = rig.app.session.stop_requested()
            rig.app.unplug()
            await rig.until(lambda: cs.actions("StopTransaction") and len(rig.cp.txq) == 0, "stop")
            return blocked, stop_requested, rig.cp.auth.local("CARD")
        with Sandbox("ocpp") as sb:
            got = _run(body, sb.dir)
        assert got == (("Blocked", None), False, ("Accepted", "P"))

    def test_max_energy_on_invalid_id_then_deauthorized_stop():
        async def body(rig):
            cs = rig.csms
            app = rig.app
            await rig.call("ChangeConfiguration", {"key": "MaxEnergyOnInvalidId", "value": "100"})
            await rig.call("ChangeConfiguration", {"key": "AllowOfflineTxForUnknownId", "value": "true"})
            cs.answers["StartTransaction"] = {"transactionId": 9, "idTagInfo": {"status": "Invalid"}}
            await _offline(rig)
            app.plug()
            assert await rig.cp.tx.authorize("NOBODY") == "Accepted"  # offline, unknown
            app.charger.enter(chg.CHARGING)
            rig.up = True
            await rig.until(lambda: len(rig.cp.txq) == 0 and cs.actions("StartTransaction"), "sent")
            app.board.meter.energy_wh = 5060  # 60 Wh of the 100 allowed
            await asyncio.sleep(0.7)
            mid = (app.session.authorized(), app.session.stop_requested())
            app.board.meter.energy_wh = 5100
            await rig.until(lambda: app.session.stop_requested(), "stop at 100 Wh")
            return mid, app.session._stop_reason, app.session.authorized()
        with Sandbox("ocpp") as sb:
            assert _run(body, sb.dir) == ((True, False), "DeAuthorized", False)

    def test_invalid_without_stop_on_invalid_id_only_stops_the_energy():
        async def body(rig):
            cs = rig.csms
            await rig.call("ChangeConfiguration", {"key": "StopTransactionOnInvalidId", "value": "false"})
            cs.answers["StartTransaction"] = {"transactionId": 9, "idTagInfo": {"status": "Invalid"}}
            rig.app.plug()
            rig.app.session.authorize("LOCAL")  # e.g. a card the firmware trusted
            await rig.until(lambda: not rig.app.session.authorized(), "deauthorised")
            return rig.app.session.stop_requested(), rig.app.session.current is not None
        with Sandbox("ocpp") as sb:
            assert _run(body, sb.dir) == (False, True)
