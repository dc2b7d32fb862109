"""Meter values: clock-aligned readings (in and outside a transaction), the
StopTransaction's transactionData (sampled, aligned, Begin/End; persisted across a power
loss; capped), the measurands of the meter interface, and when a stopped transaction's
StopTransaction goes out (when charging has stopped, not at the unplug)."""
# The whole OCPP client in one MicroPython heap. 320, not 256: with every profile loaded
# the 256 KB heap of the fake rig has no free block above ~1.2 KB left, and a
# StopTransaction carrying transactionData is a ~1.5 KB message.
MPTEST_HEAP_KB = 320
from lib import clock
from firmware.ocpp.sampling import next_boundary
from tests.common.test_ocpp_fake import FITS

DAY = 86400


def test_aligned_boundaries_are_multiples_of_the_interval_from_midnight():
    mid = 1795046400  # 2026-11-18T00:00:00Z
    assert mid % DAY == 0
    assert next_boundary(mid, 900) == mid + 900
    assert next_boundary(mid + 1, 900) == mid + 900
    assert next_boundary(mid + 899, 900) == mid + 900
    assert next_boundary(mid + 900, 900) == mid + 1800
    # 7 h does not divide the day: the last interval is short, midnight starts again
    assert next_boundary(mid + 3 * 25200 + 5, 25200) == mid + DAY
    assert next_boundary(mid + DAY - 1, 25200) == mid + DAY
    assert next_boundary(mid + DAY, 25200) == mid + DAY + 25200


if FITS:
    import json

    from firmware.ocpp import config, meter, timefmt
    from firmware.ocpp import status as chg
    from tests.common.test_ocpp_fake import FakeApp, run_rig
    from tests.common.test_storage_support import Sandbox

    ENERGY = "Energy.Active.Import.Register"

    async def _registered(rig):
        await rig.until(lambda: len(rig.csms.actions("StatusNotification")) >= 2, "boot+status")

    async def _configure(rig, **kv):
        for k, v in kv.items():
            r = await rig.call("ChangeConfiguration", {"key": k, "value": v})
            assert r[2] == {"status": "Accepted"}, (k, r)

    def _to_boundary(cp, interval):
        """Move the backend's clock onto the next aligned instant; returns it."""
        sm = cp.sampling
        sm.tick()  # the next boundary from now
        t = clock.time_s() + cp.clock_offset_s
        b = next_boundary(t, interval)
        cp.clock_offset_s += b - t
        return b

    def _contexts(mv):
        return [sv.get("context", "Sample.Periodic") for sv in mv["sampledValue"]]

    def test_aligned_values_outside_a_transaction_are_sent_not_journaled():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            await _configure(rig, ClockAlignedDataInterval="900",
                             MeterValuesAlignedData=ENERGY + ",Voltage")
            cp = rig.cp
            n = len(cs.actions("MeterValues"))
            b = _to_boundary(cp, 900)
            cp.sampling.tick()
            await rig.until(lambda: cp.sampling.free_sent == 1, "aligned MeterValues answered")
            queued = len(cp.txq)
            rig.cut()  # offline: nothing is queued for later
            await rig.until(lambda: not cp.rpc.connected, "offline")
            b2 = _to_boundary(cp, 900)
            cp.sampling.tick()
            return cs.actions("MeterValues")[n:], b, b2, queued, len(cp.txq), cp.sampling.free_sent
        with Sandbox("ocpp") as sb:
            mvs, b, b2, queued, queued_offline, sent = run_rig(body, sb.dir)
        assert len(mvs) == 1 and sent == 1 and queued == 0 and queued_offline == 0
        p = mvs[0]
        assert p["connectorId"] == 1 and "transactionId" not in p
        v = p["meterValue"][0]
        assert v["timestamp"] == timefmt.iso(b) and b % 900 == 0 and b2 == b + 900
        assert set(_contexts(v)) == {"Sample.Clock"}
        assert [x["measurand"] for x in v["sampledValue"]] == [ENERGY, "Voltage", "Voltage", "Voltage"]
        assert v["sampledValue"][1]["phase"] == "L1-N" and v["sampledValue"][1]["value"] == "230.000"

    def test_aligned_values_of_a_transaction_are_journaled_with_its_id():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            await _configure(rig, ClockAlignedDataInterval="60", MeterValueSampleInterval="0",
                             MeterValuesAlignedData=ENERGY)
            cp = rig.cp
            rig.app.plug()
            rig.app.session.authorize("TAG1")
            await rig.until(lambda: cp.txq.remote_id(rig.app.session.current.sid), "mapped")
            rig.app.board.meter.energy_wh = 5077
            rig.cut()
            await rig.until(lambda: not cp.rpc.connected, "offline")
            b = _to_boundary(cp, 60)
            cp.sampling.tick()
            queued = len(cp.txq)  # kept while the backend is away
            rig.up = True
            await rig.until(lambda: cs.actions("MeterValues"), "delivered after the reconnect")
            return cs.actions("MeterValues"), b, queued
        with Sandbox("ocpp") as sb:
            mvs, b, queued = run_rig(body, sb.dir)
        assert queued == 1 and len(mvs) == 1
        p = mvs[0]
        assert p["transactionId"] == 101 and p["connectorId"] == 1
        assert p["meterValue"][0] == {"timestamp": timefmt.iso(b), "sampledValue": [
            {"measurand": ENERGY, "unit": "Wh", "context": "Sample.Clock", "value": "5077"}]}

    def _force_sample(cp):
        cp.sampling._t_sample = clock.ticks_add(clock.ticks_ms(), -3600 * 1000)
        cp.sampling.tick()

    def test_stop_transaction_carries_the_transactions_readings_across_a_power_loss():
        async def first(rig):
            await _registered(rig)
            await _configure(rig, MeterValueSampleInterval="30", ClockAlignedDataInterval="900",
                             MeterValuesSampledData=ENERGY, MeterValuesAlignedData="",
                             StopTxnSampledData=ENERGY, StopTxnAlignedData=ENERGY)
            cp = rig.cp
            app = rig.app
            app.plug()
            app.session.authorize("TAG1")
            await rig.until(lambda: cp.txq.remote_id(app.session.current.sid), "mapped")
            m = app.board.meter
            m.energy_wh = 5100
            _force_sample(cp)
            m.energy_wh = 5200
            _to_boundary(cp, 900)
            cp.sampling.tick()
            m.energy_wh = 5300
            _force_sample(cp)
            s = app.session.current
            s.energy_wh = 5300
            app.record.checkpoint(s, 1795000000)  # the last persisted reading
            # the power goes: nothing of this is kept but what is on the filesystem

        async def second(rig):
            await rig.until(lambda: rig.csms.actions("StopTransaction"), "stop after boot")
            return rig.csms.actions("StopTransaction")

        with Sandbox("ocpp") as sb:
            run_rig(first, sb.dir)
            stops = run_rig(second, sb.dir, app=FakeApp(sb.dir))
        assert len(stops) == 1
        st = stops[0]
        assert st["reason"] == "PowerLoss" and st["meterStop"] == 5300
        td = st["transactionData"]
        got = [(_contexts(v)[0], v["sampledValue"][0]["value"]) for v in td]
        assert got == [("Transaction.Begin", "5000"), ("Sample.Periodic", "5100"),
                       ("Sample.Clock", "5200"), ("Sample.Periodic", "5300"),
                       ("Transaction.End", "5300")]
        assert td[-1]["timestamp"] == st["timestamp"]
        assert td[2]["timestamp"].endswith(":00Z") and int(td[2]["timestamp"][14:16]) % 15 == 0

    def test_stop_data_keeps_the_first_readings_and_the_last_and_stays_small():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            await _configure(rig, MeterValueSampleInterval="10", MeterValuesSampledData="",
                             StopTxnSampledData=ENERGY)
            cp = rig.cp
            app = rig.app
            app.plug()
            app.session.authorize("TAG1")
            await rig.until(lambda: cp.txq.remote_id(app.session.current.sid), "mapped")
            biggest = 0
            for k in range(1, 61):
                app.board.meter.energy_wh = 5000 + k
                _force_sample(cp)
                biggest = max(biggest, cp.sampling.j.size)
            app.board.meter.energy_wh = 5099
            app.unplug()
            await rig.until(lambda: cs.actions("StopTransaction"), "stop")
            return cs.actions("StopTransaction")[0], biggest, cs.actions("MeterValues")
        with Sandbox("ocpp") as sb:
            st, biggest, mvs = run_rig(body, sb.dir)
        assert mvs == []  # MeterValuesSampledData empty: readings for the stop only
        vals = [v["sampledValue"][0]["value"] for v in st["transactionData"]]
        first = [str(5000 + k) for k in range(1, 9)]
        assert vals == ["5000"] + first + ["5060", "5099"]
        assert biggest < 6144 + 2048  # the readings' journal was compacted

    def test_stop_data_too_big_for_one_record_loses_middle_readings_not_the_stop():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            every = ",".join(config.MEASURANDS)
            await _configure(rig, MeterValueSampleInterval="10", MeterValuesSampledData="",
                             StopTxnSampledData=every)
            cp = rig.cp
            app = rig.app
            app.plug()
            app.session.authorize("TAG1")
            await rig.until(lambda: cp.txq.remote_id(app.session.current.sid), "mapped")
            for k in range(1, 6):
                app.board.meter.energy_wh = 5000 + k
                _force_sample(cp)
            app.unplug()
            await rig.until(lambda: cs.actions("StopTransaction"), "stop")
            return cs.actions("StopTransaction")[0], cp.txq.j.max_record
        with Sandbox("ocpp") as sb:
            st, limit = run_rig(body, sb.dir)
        td = st["transactionData"]
        assert 1 <= len(td) < 7 and len(json.dumps(st)) < limit
        assert _contexts(td[-1])[0] == "Transaction.End"
        assert len(td[-1]["sampledValue"]) == 9  # 3 single values + 3 currents + 3 voltages

    class _MeterApp:
        """What meter.sampled reads of an App: the board's meter, phases, the offer."""

        def __init__(self):
            from tests.common.test_ocpp_fake import FakeBoard

            self.board = FakeBoard("/tmp")
            self.cfg = {"phases": 1}
            self.charger = self
            self.offer_da = 163

    def test_measurands_the_configuration_accepts_are_what_the_meter_reports():
        async def body(rig):
            await _registered(rig)
            out = []
            for v in ("Temperature", "SoC", ENERGY + ",Frequency", "Energy.Active.Export.Register",
                      ",".join(config.MEASURANDS)):
                for key in ("MeterValuesSampledData", "MeterValuesAlignedData",
                            "StopTxnSampledData", "StopTxnAlignedData"):
                    out.append((await rig.call("ChangeConfiguration",
                                               {"key": key, "value": v}))[2]["status"])
            return out
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == ["Rejected"] * 16 + ["Accepted"] * 4
        app = _MeterApp()
        for name in config.MEASURANDS:
            sv = meter.sampled(app, [name], "Sample.Clock")
            assert len(sv) == 1 and sv[0]["measurand"] == name and sv[0]["unit"] in ("Wh", "W", "A", "V")
            assert sv[0]["context"] == "Sample.Clock" and sv[0]["value"]
        assert meter.sampled(app, ["Current.Offered"], "Sample.Periodic") == [
            {"measurand": "Current.Offered", "unit": "A", "value": "16.3"}]
        assert meter.sampled(app, ["Temperature"], "Sample.Periodic") == []

    def test_transactions_always_end_at_the_unplug():
        async def body(rig):
            await _registered(rig)
            out = []
            for k in ("StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect"):
                out.append((await rig.call("ChangeConfiguration", {"key": k, "value": "false"}))[2])
                out.append((await rig.call("GetConfiguration", {"key": [k]}))[2]["configurationKey"])
            return out
        with Sandbox("ocpp") as sb:
            got = run_rig(body, sb.dir)
        assert got == [{"status": "Rejected"},
                       [{"key": "StopTransactionOnEVSideDisconnect", "readonly": True, "value": "true"}],
                       {"status": "Rejected"},
                       [{"key": "UnlockConnectorOnEVSideDisconnect", "readonly": True, "value": "true"}]]

    def test_remote_stop_sends_stop_transaction_when_charging_stopped_not_at_unplug():
        async def body(rig):
            cs = rig.csms
            await _registered(rig)
            app = rig.app
            app.plug()
            app.session.authorize("TAG1")
            await rig.until(lambda: rig.cp.txq.remote_id(app.session.current.sid), "mapped")
            app.charger.enter(chg.CHARGING)
            app.board.meter.energy_wh = 5400
            r = await rig.call("RemoteStopTransaction", {"transactionId": 101})
            app.charger.enter(chg.STOPPING)  # offer withdrawn, contactor still closed
            await rig.until(lambda: cs.actions("StatusNotification")[-1]["status"] == "Finishing",
                            "finishing")
            early = list(cs.actions("StopTransaction"))
            app.board.meter.energy_wh = 5420
            app.charger.enter(chg.FINISHED)  # contactor open
            await rig.until(lambda: cs.actions("StopTransaction"), "stop before the unplug")
            plugged = app.session.plugged
            app.board.meter.energy_wh = 5500  # whatever happens now is no part of it
            again = await rig.call("RemoteStartTransaction", {"idTag": "TAG2"})
            await rig.until(lambda: True)
            started = app.session.current
            app.unplug()
            await rig.until(lambda: cs.actions("StatusNotification")[-1]["status"] == "Available",
                            "available")
            return r[2], early, plugged, cs.actions("StopTransaction"), again[2], started
        with Sandbox("ocpp") as sb:
            r, early, plugged, stops, again, started = run_rig(body, sb.dir)
        assert r == {"status": "Accepted"} and early == [] and plugged
        assert len(stops) == 1
        assert stops[0]["reason"] == "Remote" and stops[0]["meterStop"] == 5420
        assert again == {"status": "Rejected"} and started is None  # not before the unplug
