"""Transactions through the ChargePoint: Start/MeterValues/Stop from the session,
Authorize, RemoteStart/RemoteStop, the backend's transactionId."""
# the App, the simulated board and the whole OCPP client in one MicroPython heap
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:

    from firmware.ocpp import status as chg  # the charger's state numbers
    from tests.common.test_ocpp_fake import run_rig
    from tests.common.test_storage_support import Sandbox


    async def _registered(rig):
        await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2, "boot+status")


    def test_session_gives_start_meter_values_stop_in_order():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            r = await rig.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
            assert r[2] == {"status": "Accepted"}
            await rig.call("ChangeConfiguration", {"key": "StopTxnSampledData",
                                                   "value": "Energy.Active.Import.Register"})
            app = rig.app
            app.plug()
            assert await rig.cp.tx.authorize("TAG1") == "Accepted"
            app.charger.enter(chg.CHARGING)
            app.board.meter.energy_wh = 5100
            app.board.meter.current_ma[0] = 16000
            await rig.until(lambda: cs.actions("MeterValues"), "meter values")
            app.board.meter.energy_wh = 5250
            app.unplug()
            await rig.until(lambda: cs.actions("StopTransaction"), "stop")
            return cs
        with Sandbox("ocpp") as sb:
            cs = run_rig(body, sb.dir)
        acts = [a for a in cs.actions() if a in ("Authorize", "StartTransaction", "MeterValues",
                                                 "StopTransaction")]
        assert acts[:2] == ["Authorize", "StartTransaction"] and acts[-1] == "StopTransaction"
        start = cs.actions("StartTransaction")[0]
        assert start["idTag"] == "TAG1" and start["meterStart"] == 5000 and start["connectorId"] == 1
        mv = cs.actions("MeterValues")[0]
        assert mv["transactionId"] == 101
        sv = mv["meterValue"][0]["sampledValue"]
        assert {"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": "5100"} in sv
        assert {"measurand": "Current.Import", "unit": "A", "value": "16.000", "phase": "L1"} in sv
        stop = cs.actions("StopTransaction")[0]
        assert stop["transactionId"] == 101 and stop["meterStop"] == 5250
        assert stop["reason"] == "EVDisconnected" and stop["idTag"] == "TAG1"
        td = stop["transactionData"]
        assert td[0]["sampledValue"][0]["context"] == "Transaction.Begin"
        assert td[-1]["sampledValue"][0]["context"] == "Transaction.End"
        assert len(cs.actions("StartTransaction")) == 1 and len(cs.actions("StopTransaction")) == 1


    def test_remote_start_authorizes_and_remote_stop_stops():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            rig.app.plug()
            r = await rig.call("RemoteStartTransaction", {"idTag": "REMOTE1", "connectorId": 1})
            assert r[2] == {"status": "Accepted"}
            await rig.until(lambda: cs.actions("StartTransaction"), "start")
            await rig.until(lambda: rig.cp.txq.remote_id(rig.app.session.current.sid), "mapped")
            again = await rig.call("RemoteStartTransaction", {"idTag": "REMOTE2"})
            wrong = await rig.call("RemoteStopTransaction", {"transactionId": 999})
            r = await rig.call("RemoteStopTransaction", {"transactionId": 101})
            stopped = rig.app.session.stop_requested()
            rig.app.unplug()
            await rig.until(lambda: cs.actions("StopTransaction"), "stop")
            return cs, again[2], wrong[2], r[2], stopped
        with Sandbox("ocpp") as sb:
            cs, again, wrong, ok, stopped = run_rig(body, sb.dir)
        assert cs.actions("Authorize") == [{"idTag": "REMOTE1"}]  # AuthorizeRemoteTxRequests
        assert cs.actions("StartTransaction")[0]["idTag"] == "REMOTE1"
        assert again == {"status": "Rejected"} and wrong == {"status": "Rejected"}
        assert ok == {"status": "Accepted"} and stopped
        assert cs.actions("StopTransaction")[0]["reason"] == "Remote"


    def test_invalid_tag_in_start_answer_stops_the_session():
        async def body(rig):
            cs = rig.csms
            cs.answers["StartTransaction"] = {"transactionId": 7, "idTagInfo": {"status": "Blocked"}}
            await _registered(rig)
            rig.app.plug()
            rig.app.session.authorize("LOCALCARD")
            await rig.until(lambda: rig.app.session.stop_requested(), "stop requested")
            return rig.app.session.authorized()
        with Sandbox("ocpp") as sb:
            assert run_rig(body, sb.dir) is False


    def test_authorize_rejected_and_offline_from_the_cache():
        async def body(rig):
            cs = rig.csms
            cs.answers["Authorize"] = lambda p: {"idTagInfo": {
                "status": "Accepted" if p["idTag"] == "GOOD" else "Invalid"}}
            await _registered(rig)
            bad = await rig.cp.tx.authorize("BAD")
            auth_after_bad = rig.app.session.authorized()
            good = await rig.cp.tx.authorize("GOOD")
            rig.cut()
            await rig.until(lambda: not rig.cp.rpc.connected, "offline")
            rig.app.session.deauthorize()
            offline_good = await rig.cp.tx.authorize("GOOD")
            offline_unknown = await rig.cp.tx.authorize("OTHER")
            r = rig.cp.admin.clear_cache({})
            cleared = await rig.cp.tx.authorize("GOOD")
            return bad, auth_after_bad, good, offline_good, offline_unknown, r, cleared
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ("Invalid", False, "Accepted", "Accepted", "Invalid", {"status": "Accepted"},
                       "Invalid")


    def test_remote_start_rejected_while_unavailable_or_other_connector():
        async def body(rig):
            await _registered(rig)
            other = await rig.call("RemoteStartTransaction", {"idTag": "X", "connectorId": 2})
            r = await rig.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
            unavailable = await rig.call("RemoteStartTransaction", {"idTag": "X"})
            return other[2], r[2], unavailable[2]
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ({"status": "Rejected"}, {"status": "Accepted"}, {"status": "Rejected"})


    def test_callerror_retried_per_attempts_then_dropped_in_order():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            await rig.call("ChangeConfiguration", {"key": "TransactionMessageRetryInterval",
                                                   "value": "0"})
            await rig.call("ChangeConfiguration", {"key": "TransactionMessageAttempts",
                                                   "value": "2"})
            cs.answers["StartTransaction"] = [4, "InternalError"]
            rig.app.plug()
            rig.app.session.authorize("TAG1")
            await rig.until(lambda: len(cs.actions("StartTransaction")) == 2, "two attempts")
            cs.answers["StartTransaction"] = cs._start
            rig.app.unplug()  # its Stop has no backend transaction: dropped, not sent
            await rig.until(lambda: len(rig.cp.txq) == 0, "queue empty")
            rig.app.plug()
            rig.app.session.authorize("TAG2")  # the next transaction goes through
            await rig.until(lambda: rig.cp.txq.remote_id(rig.app.session.current.sid), "mapped")
            return cs.actions(), rig.cp.txq.given_up
        with Sandbox("ocpp") as sb:
            acts, given_up = run_rig(body, sb.dir)
        tx = [a for a in acts if a in ("StartTransaction", "StopTransaction")]
        assert tx == ["StartTransaction"] * 3 and given_up == 1

    def test_power_loss_stops_the_transaction_at_boot_with_the_last_reading():
        from tests.common.test_ocpp_fake import FakeApp

        async def first(rig):
            await _registered(rig)
            rig.app.plug()
            rig.app.session.authorize("TAG1")
            await rig.until(lambda: rig.cp.txq.remote_id(rig.app.session.current.sid), "mapped")
            s = rig.app.session.current
            s.energy_wh = 5400
            rig.app.record.checkpoint(s, 1795000000)  # the last persisted reading
            rig.app.board.meter.energy_wh = 5500  # never persisted: lost with the power
            return rig.cp.clock_offset_s

        async def second(rig):
            await rig.until(lambda: rig.csms.actions("StopTransaction"), "stop after boot")
            await rig.until(lambda: len(rig.cp.txq) == 0, "delivered")
            return rig.csms.actions("StopTransaction"), rig.csms.actions("StartTransaction")

        with Sandbox("ocpp") as sb:
            off = run_rig(first, sb.dir)
            stops, starts = run_rig(second, sb.dir, app=FakeApp(sb.dir))  # the reboot
        assert starts == []  # the first boot's StartTransaction is not sent again
        assert len(stops) == 1
        assert stops[0]["reason"] == "PowerLoss" and stops[0]["meterStop"] == 5400
        # the local clock of the checkpoint, on the backend's clock as the first boot knew it
        # (the rig's backend answers a fixed time hours away from the host's clock)
        from firmware.ocpp import timefmt

        assert abs(off) > 60
        assert stops[0]["timestamp"] == timefmt.iso(1795000000 + off)
        assert stops[0]["transactionId"] == 101

    def test_remote_start_before_the_plug_becomes_a_transaction_at_the_plug():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            r = await rig.call("RemoteStartTransaction", {"idTag": "EARLY"})
            await rig.until(lambda: rig.app.session.authorized(), "authorised")
            started_before = rig.app.session.current
            rig.app.plug()
            await rig.until(lambda: cs.actions("StartTransaction"), "start after the plug")
            return r[2], started_before, cs.actions("StartTransaction")[0]["idTag"]
        with Sandbox("ocpp") as sb:
            assert run_rig(body, sb.dir) == ({"status": "Accepted"}, None, "EARLY")
