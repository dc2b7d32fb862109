"""Core profile through the ChargePoint on a fake App, with a scripted central system."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    import asyncio

    from firmware.ocpp import status as chg  # the charger's state numbers
    from firmware.iec61851 import faults
    from tests.common.test_ocpp_fake import NOW, run_rig
    from tests.common.test_storage_support import Sandbox


    def test_boot_then_status_of_both_connectors():
        async def body(rig):
            await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2, "status")
            return rig.csms.calls
        with Sandbox("ocpp") as sb:
            calls = run_rig(body, sb.dir)
        assert calls[0][0] == "BootNotification"
        assert calls[0][1] == {"chargePointVendor": "OpenWallbox", "chargePointModel": "MP-1"}
        st = [(p["connectorId"], p["status"], p["errorCode"]) for a, p in calls if a == "StatusNotification"]
        assert st == [(0, "Available", "NoError"), (1, "Available", "NoError")]


    def test_pending_boot_gates_everything_until_accepted():
        async def body(rig):
            cs = rig.csms
            cs.answers["BootNotification"] = {"status": "Pending", "currentTime": NOW, "interval": 0}
            # Pending: the backend may ask things, the charge point sends nothing but boots
            await rig.until(lambda: len(cs.actions("BootNotification")) >= 1, "boot")
            r = await rig.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
            assert r[0] == 3
            rig.app.plug()
            rig.app.session.authorize("TAG1")  # a session starts: its messages must wait
            for _ in range(50):
                await asyncio.sleep(0)
            assert cs.actions() == ["BootNotification"], cs.actions()
            cs.answers["BootNotification"] = {"status": "Accepted", "currentTime": NOW, "interval": 77}
            r = await rig.call("TriggerMessage", {"requestedMessage": "BootNotification"})
            assert r[2] == {"status": "Accepted"}
            await rig.until(lambda: cs.actions("StartTransaction"), "start")
            return cs.actions()
        with Sandbox("ocpp") as sb:
            acts = run_rig(body, sb.dir)
        assert acts[:2] == ["BootNotification", "BootNotification"]
        assert set(acts[2:]) <= {"StatusNotification", "StartTransaction"}


    def test_rejected_boot_retried_after_the_interval():
        async def body(rig):
            cs = rig.csms
            cs.answers["BootNotification"] = lambda p: (
                {"status": "Rejected", "currentTime": NOW, "interval": 1}
                if len(cs.calls) < 2 else {"status": "Accepted", "currentTime": NOW, "interval": 5})
            await rig.until(lambda: rig.cp.boot.status == "Rejected", "rejected")
            assert not rig.cp.registered.is_set()
            await rig.until(lambda: rig.cp.registered.is_set(), "accepted after 1 s")
            return cs.actions()[:2], rig.cp.cfg.get("HeartbeatInterval")
        with Sandbox("ocpp") as sb:
            assert run_rig(body, sb.dir) == (["BootNotification"] * 2, 5)


    def test_heartbeat_sets_the_clock():
        async def body(rig):
            cs = rig.csms
            cs.answers["Heartbeat"] = {"currentTime": "2030-01-01T00:00:00Z"}
            await rig.until(lambda: rig.cp.registered.is_set(), "registered")
            await rig.cp.boot.beat()
            return rig.cp.now()
        with Sandbox("ocpp") as sb:
            now = run_rig(body, sb.dir)
        assert now.startswith("2030-01-01T00:00:0"), now


    def test_status_follows_the_charger_with_fault_codes():
        async def body(rig):
            cs = rig.csms
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 2, "status")
            app = rig.app
            app.plug()
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 3, "preparing")
            app.charger.enter(chg.FAULT, faults.RCD)
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 4, "faulted")
            app.unplug()
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 5, "available")
            return cs.actions("StatusNotification")[2:]
        with Sandbox("ocpp") as sb:
            st = run_rig(body, sb.dir)
        assert [(p["status"], p["errorCode"]) for p in st] == [
            ("Preparing", "NoError"), ("Faulted", "GroundFailure"), ("Available", "NoError")]
        assert st[1]["vendorErrorCode"] == "rcd" and st[0]["connectorId"] == 1


    def test_minimum_status_duration_hides_short_states():
        async def body(rig):
            cs = rig.csms
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 2, "status")
            r = await rig.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "1"})
            assert r[2] == {"status": "Accepted"}
            rig.app.plug()
            await asyncio.sleep(0.05)
            rig.app.unplug()  # Preparing for 50 ms: never reported
            rig.app.plug()
            await rig.until(lambda: len(cs.actions("StatusNotification")) >= 3, "preparing")
            await asyncio.sleep(0.05)
            return [p["status"] for p in cs.actions("StatusNotification")]
        with Sandbox("ocpp") as sb:
            assert run_rig(body, sb.dir) == ["Available", "Available", "Preparing"]




    # The backend-initiated messages of each OCPP 1.6 feature profile.
    _PROFILE_ACTIONS = {
        "Core": ("ChangeAvailability ChangeConfiguration ClearCache DataTransfer GetConfiguration"
                 " RemoteStartTransaction RemoteStopTransaction Reset UnlockConnector"),
        "FirmwareManagement": "GetDiagnostics UpdateFirmware",
        "LocalAuthListManagement": "GetLocalListVersion SendLocalList",
        "Reservation": "CancelReservation ReserveNow",
        "SmartCharging": "ClearChargingProfile GetCompositeSchedule SetChargingProfile",
        "RemoteTrigger": "TriggerMessage",
    }


    def test_every_advertised_profile_has_all_its_handlers():
        async def body(rig):
            await rig.until(lambda: rig.cp.registered.is_set(), "registered")
            r = await rig.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
            return r[2]["configurationKey"][0]["value"].split(","), set(rig.cp.rpc.handlers)
        with Sandbox("ocpp") as sb:
            profiles, handled = run_rig(body, sb.dir)
        assert sorted(profiles) == sorted(_PROFILE_ACTIONS)
        for p in profiles:
            for action in _PROFILE_ACTIONS[p].split():
                assert action in handled, (p, action)
