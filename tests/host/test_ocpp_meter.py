"""Meter values and the end of a transaction, with the firmware App on the simulated
board against the embedded central system (tools.csms: the `ocpp` library with schema
validation) over a real loopback WebSocket: sampled and clock-aligned MeterValues, the
StopTransaction's transactionData, a stopped transaction ending when charging stopped
(not at the unplug), the readings surviving a power loss.

CPython only: the central system is a CPython library (websockets server).
"""
import asyncio

import pytest

pytest.importorskip("ocpp.routing")
pytest.importorskip("websockets")

from ocpp.v16 import call  # noqa: E402

from firmware.iec61851 import charger as chg  # noqa: E402
from tests.host.test_ocpp_core import _check_complete, _run, until  # noqa: E402

ENERGY = "Energy.Active.Import.Register"
READINGS = {"ClockAlignedDataInterval": 1, "MeterValuesAlignedData": ENERGY,
            "StopTxnSampledData": ENERGY + ",Power.Active.Import", "StopTxnAlignedData": ENERGY}


def _context(sv):
    return sv.get("context", "Sample.Periodic")


def _configure(wb, keys):
    for k, v in keys.items():
        assert wb.cp.cfg.change(k, str(v)) == "Accepted", k


def test_remote_stop_ends_the_transaction_when_charging_stopped_with_its_readings():
    async def body(cs, wb):
        _configure(wb, READINGS)
        await wb.plug()
        assert await cs.remote_start("CP_1", "REMOTE1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions and wb.cp.txq.remote_id(wb.app.session.current.sid),
                    "transaction id")
        await asyncio.sleep(3.2)  # sampled and aligned readings, each second
        assert await cs.remote_stop("CP_1", 1) == "Accepted"
        await until(lambda: cs.transactions[1]["stop"] is not None, "StopTransaction")
        # sent while the car is still plugged in, once the contactor was open
        state, plugged, closed = wb.app.charger.state, wb.app.session.plugged, wb.app.charger.closed
        session_wh = wb.app.session.last.energy_wh
        n = len(cs.messages)
        await asyncio.sleep(2.2)  # aligned readings go on, outside the transaction
        free = [p for _c, a, p in cs.messages[n:] if a == "MeterValues"]
        await wb.unplug()
        await until(lambda: cs.status[-1][2] == "Available", "available")
        return cs, state, plugged, closed, session_wh, free
    cs, state, plugged, closed, session_wh, free = _run(body)
    _check_complete(cs)
    assert state == chg.FINISHED and plugged and not closed
    t = cs.transactions[1]
    stop = t["stop"]
    assert stop["reason"] == "Remote" and stop["meter_stop"] == session_wh
    statuses = [s for _cp, c, s, _e in cs.status if c == 1]
    assert statuses[-2:] == ["Finishing", "Available"]
    # MeterValues of the transaction: sampled and clock-aligned, with its id
    ctx = set()
    for mvs in t["meter_values"]:
        for mv in mvs:
            for sv in mv["sampled_value"]:
                ctx.add(_context(sv))
    assert ctx == {"Sample.Periodic", "Sample.Clock"}
    # transactionData: Begin, readings of both kinds, End
    td = stop["transaction_data"]
    kinds = [_context(v["sampled_value"][0]) for v in td]
    assert kinds[0] == "Transaction.Begin" and kinds[-1] == "Transaction.End"
    assert kinds.count("Sample.Periodic") >= 2 and kinds.count("Sample.Clock") >= 2
    end = {sv["measurand"]: sv["value"] for sv in td[-1]["sampled_value"]}
    assert end[ENERGY] == str(stop["meter_stop"]) and "Power.Active.Import" in end
    clock_ts = [v["timestamp"] for v in td if _context(v["sampled_value"][0]) == "Sample.Clock"]
    assert len(set(clock_ts)) == len(clock_ts)  # one per aligned second
    # after the stop: aligned values of connector 1 without a transaction
    assert free and all(p["connectorId"] == 1 and "transactionId" not in p for p in free)
    assert all(_context(sv) == "Sample.Clock" for p in free for mv in p["meterValue"]
               for sv in mv["sampled_value"])


def test_unlock_connector_stops_the_transaction_before_the_cable_is_taken():
    async def body(cs, wb):
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions, "started")
        r = await cs.call("CP_1", call.UnlockConnector(connector_id=1))
        await until(lambda: cs.transactions[1]["stop"] is not None, "StopTransaction")
        plugged = wb.app.session.plugged
        await until(lambda: not wb.board.lock.actual, "unlocked")
        await wb.unplug()
        await asyncio.sleep(0.5)
        return cs, r.status, plugged
    cs, status, plugged = _run(body)
    _check_complete(cs)
    assert status == "Unlocked" and plugged
    assert cs.transactions[1]["stop"]["reason"] == "UnlockCommand"


def test_power_loss_keeps_the_readings_for_the_stop_transaction():
    async def body(cs, wb):
        _configure(wb, {"StopTxnSampledData": ENERGY})
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions and len(cs.actions("MeterValues")) >= 3, "charging")
        await asyncio.sleep(1.2)  # a checkpoint of the session log
        await wb.power_cut()
        wb.world.ev.unplug()
        wb.boot()
        await until(lambda: cs.actions("StopTransaction"), "stop after boot")
        return cs, wb.app.recovered
    cs, rec = _run(body)
    _check_complete(cs)
    stop = cs.transactions[1]["stop"]
    assert stop["reason"] == "PowerLoss" and stop["meter_stop"] == rec["wh"]
    td = stop["transaction_data"]
    kinds = [_context(v["sampled_value"][0]) for v in td]
    assert kinds[0] == "Transaction.Begin" and kinds[-1] == "Transaction.End"
    assert kinds.count("Sample.Periodic") >= 3
    vals = [int(v["sampled_value"][0]["value"]) for v in td]
    # (End is the session log's last checkpoint: a sample may be a little newer)
    assert vals[:-1] == sorted(vals[:-1]) and vals[-1] == stop["meter_stop"]
    assert vals[0] == cs.transactions[1]["meter_start"]

