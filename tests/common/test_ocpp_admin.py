"""Operations the backend starts: Get/ChangeConfiguration, Reset, ChangeAvailability
(scheduled during a transaction), UnlockConnector, ClearCache, DataTransfer,
TriggerMessage, and the CALLERRORs for bad payloads."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    from firmware.ocpp import status as chg  # the charger's state numbers
    from tests.common.test_ocpp_fake import run_rig, until
    from tests.common.test_storage_support import Sandbox

    async def _registered(rig):
        await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2, "boot+status")

    def test_get_and_change_configuration():
        async def body(rig):
            await _registered(rig)
            a = await rig.call("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
            b = await rig.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "x"})
            c = await rig.call("ChangeConfiguration", {"key": "Nope", "value": "1"})
            d = await rig.call("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "2"})
            e = await rig.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": "k" * 16})
            f = await rig.call("GetConfiguration", {})
            g = await rig.call("GetConfiguration", {"key": ["K"] * 65})
            h = await rig.call("ChangeConfiguration", {"key": "HeartbeatInterval"})
            return a, b, c, d, e, f, g, h
        with Sandbox("ocpp") as sb:
            a, b, c, d, e, f, g, h = run_rig(body, sb.dir)
        assert a[2] == {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False,
                                              "value": "300"}], "unknownKey": ["Nope"]}
        assert [x[2]["status"] for x in (b, c, d, e)] == ["Rejected", "NotSupported", "Rejected",
                                                          "RebootRequired"]
        keys = f[2]["configurationKey"]
        assert len(keys) == 45 and "unknownKey" not in f[2]
        assert {"key": "AuthorizationKey", "readonly": False} in keys  # no value: a secret
        assert g[0] == 4 and g[2] == "OccurenceConstraintViolation"
        assert h[0] == 4 and h[2] == "ProtocolError"

    def test_reset_ends_the_transaction_then_calls_the_hook():
        async def body(rig):
            await _registered(rig)
            rig.app.plug()
            await rig.cp.tx.authorize("TAG1")
            await rig.until(lambda: rig.csms.actions("StartTransaction"), "start")
            r = await rig.call("Reset", {"type": "Hard"})
            await rig.until(lambda: rig.app.session.stop_requested(), "stop requested")
            rig.app.charger.enter(chg.FINISHED)  # (the fake charger) stopped: the session ends
            await rig.until(lambda: rig.resets, "reset hook")
            bad = await rig.call("Reset", {"type": "Warm"})
            return r[2], bad, rig.resets, rig.csms.actions("StopTransaction")
        with Sandbox("ocpp") as sb:
            r, bad, resets, stops = run_rig(body, sb.dir)
        assert r == {"status": "Accepted"} and resets == ["Hard"]
        assert [s["reason"] for s in stops] == ["HardReset"] and stops[0]["transactionId"] == 101
        assert bad[0] == 4 and bad[2] == "PropertyConstraintViolation"

    def test_change_availability_scheduled_during_a_transaction():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            rig.app.plug()
            rig.app.session.authorize("TAG1")
            r1 = await rig.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
            avail_during = rig.cp.status.available
            rig.app.unplug()
            await rig.until(lambda: not rig.cp.status.available, "applied at the end")
            await rig.until(lambda: cs.actions("StatusNotification")[-1]["status"] == "Unavailable",
                            "unavailable reported")
            r2 = await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
            r3 = await rig.call("ChangeAvailability", {"connectorId": 3, "type": "Operative"})
            return r1[2], avail_during, r2[2], r3[2], rig.cp.cfg.state("available")
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ({"status": "Scheduled"}, True, {"status": "Accepted"},
                       {"status": "Rejected"}, True)

    def test_unlock_clear_cache_data_transfer_and_unsupported():
        async def body(rig):
            await _registered(rig)
            idle = await rig.call("UnlockConnector", {"connectorId": 1})
            rig.app.plug()
            rig.app.session.authorize("TAG1")
            busy = await rig.call("UnlockConnector", {"connectorId": 1})
            stop = rig.app.session._stop_reason
            other = await rig.call("UnlockConnector", {"connectorId": 2})
            cc = await rig.call("ClearCache", {})
            dt = await rig.call("DataTransfer", {"vendorId": "acme", "data": "x"})
            ns = await rig.call("CertificateSigned", {"certificateChain": "x"})  # known, no handler
            ni = await rig.call("FooBar", {})
            return idle[2], busy[2], stop, other[2], cc[2], dt[2], ns[2], ni[2]
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ({"status": "Unlocked"}, {"status": "Unlocked"}, "UnlockCommand",
                       {"status": "NotSupported"}, {"status": "Accepted"},
                       {"status": "UnknownVendorId"}, "NotSupported", "NotImplemented")

    def test_data_transfer_both_ways():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            seen = []

            def hook(vendor, msg, data):
                seen.append((vendor, msg, data))
                if vendor == "boom":
                    raise ValueError("vendor bug")
                return ("Accepted", "pong") if msg == "ping" else ("UnknownMessageId", None)
            rig.cp.vendor_hook = hook
            a = await rig.call("DataTransfer", {"vendorId": "acme", "messageId": "ping", "data": "x"})
            b = await rig.call("DataTransfer", {"vendorId": "acme", "messageId": "other"})
            c = await rig.call("DataTransfer", {"vendorId": "boom"})
            cs.answers["DataTransfer"] = lambda p: {"status": "Accepted", "data": p["data"] + "!"}
            out = await rig.cp.data_transfer("acme", "hello", "hi")
            cs.answers["DataTransfer"] = {"status": "Maybe"}  # not an enumeration value
            try:
                await rig.cp.data_transfer("acme")
                bad = None
            except Exception as e:
                bad = type(e).__name__
            return a[2], b[2], c[2], seen, out, cs.actions("DataTransfer"), bad
        with Sandbox("ocpp") as sb:
            a, b, c, seen, out, sent, bad = run_rig(body, sb.dir)
        assert a == {"status": "Accepted", "data": "pong"}
        assert b == {"status": "UnknownMessageId"} and c == {"status": "Rejected"}
        assert seen[0] == ("acme", "ping", "x") and seen[1] == ("acme", "other", None)
        assert out == ("Accepted", "hi!")
        assert sent[0] == {"vendorId": "acme", "messageId": "hello", "data": "hi"}
        assert sent[1] == {"vendorId": "acme"} and bad == "BadResponse"

    def test_trigger_message_for_each_core_message():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            n0 = len(cs.calls)
            out = []
            for what in ("Heartbeat", "StatusNotification", "MeterValues",
                         "DiagnosticsStatusNotification", "FirmwareStatusNotification",
                         "BootNotification"):
                out.append((await rig.call("TriggerMessage", {"requestedMessage": what,
                                                               "connectorId": 1}))[2]["status"])
                await rig.until(lambda: len(cs.calls) > n0, what)
                n0 = len(cs.calls)
            bad = await rig.call("TriggerMessage", {"requestedMessage": "Heartbeat",
                                                    "connectorId": 5})
            return out, cs.calls[-6:], bad[2]
        with Sandbox("ocpp") as sb:
            out, calls, bad = run_rig(body, sb.dir)
        assert out == ["Accepted"] * 6 and bad == {"status": "Rejected"}
        assert [a for a, _ in calls] == ["Heartbeat", "StatusNotification", "MeterValues",
                                         "DiagnosticsStatusNotification",
                                         "FirmwareStatusNotification", "BootNotification"]
        assert calls[1][1]["connectorId"] == 1 and calls[3][1] == {"status": "Idle"}
        assert calls[2][1]["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"

    def test_charger_states_map_to_ocpp_status():
        async def body(rig):
            await _registered(rig)
            st = rig.cp.status
            out = []
            rig.app.plug()
            for s in (chg.CONNECTED, chg.READY, chg.CHARGING, chg.PAUSED, chg.FINISHED):
                rig.app.charger.state = s
                out.append(st.connector(1)[0])
            await until(lambda: True)
            return out
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ["Preparing", "SuspendedEV", "Charging", "SuspendedEVSE", "Finishing"]
