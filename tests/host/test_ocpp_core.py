"""The firmware App on the simulated board (real time, real loopback WebSocket) against
the embedded central system (tools.csms: the `ocpp` library with schema validation and
date-time checks): boot, authorisation, a short charging session with StartTransaction,
MeterValues and StopTransaction; the backend down in the middle of a session; remote
start/stop; Reset; power loss.

CPython only: the central system is a CPython library (websockets server).
"""
import asyncio
import shutil

import pytest

pytest.importorskip("ocpp.routing")
pytest.importorskip("websockets")

import tools  # noqa: E402,F401
from boards.sim.board import World  # noqa: E402
from firmware import config  # noqa: E402
from firmware.iec61851 import charger as chg  # noqa: E402
from firmware.main import App  # noqa: E402
from lib import log  # noqa: E402
from tests.host.ocpp_rig import CFG  # noqa: E402
from tests.host.ocpp_rig import check_complete as _check_complete  # noqa: E402
from tests.host.ocpp_rig import run as _run  # noqa: E402
from tests.host.ocpp_rig import Csms, until  # noqa: E402,F401  (the other modules import them here too)


def test_boot_authorize_and_a_charging_session():
    async def body(cs, wb):
        assert await wb.cp.tx.authorize("BADTAG") == "Invalid"
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: len(cs.actions("MeterValues")) >= 2, "meter values")
        wb.app.session.request_stop("Local")
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        await wb.unplug()
        await until(lambda: cs.actions("StopTransaction"), "stop")
        return cs
    cs = _run(body)
    assert cs.boots == ["CP_1"]
    _check_complete(cs)
    t = cs.transactions[1]
    assert t["id_tag"] == "TAG1" and len(t["meter_values"]) >= 2
    assert t["stop"]["reason"] == "Local" and t["stop"]["meter_stop"] > t["meter_start"]
    sv = t["meter_values"][0][0]["sampled_value"]
    assert {v["measurand"] for v in sv} == {"Energy.Active.Import.Register", "Power.Active.Import",
                                            "Current.Import"}
    statuses = [s for _cp, c, s, _e in cs.status if c == 1]
    assert statuses[0] == "Available" and "Charging" in statuses and statuses[-1] == "Available"
    assert "Preparing" in statuses and "Finishing" in statuses
    assert cs.actions("Authorize") == ["Authorize", "Authorize"]


def test_backend_down_mid_session_nothing_lost_or_duplicated():
    async def body(cs, wb):
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"  # cached for offline use
        await wb.charging()
        await until(lambda: cs.transactions and cs.actions("MeterValues"), "started")
        await cs.stop_server()  # the backend goes away mid-session
        await until(lambda: not wb.cp.rpc.connected, "offline")
        await asyncio.sleep(2.5)  # MeterValues pile up in the journal
        queued = len(wb.cp.txq)
        wb.app.session.request_stop("Local")
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        await wb.unplug()
        # a second session entirely offline: its StartTransaction is answered after the
        # reconnect and its queued messages get the backend's transactionId
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"  # from the cache
        await wb.charging()
        await asyncio.sleep(1.5)
        wb.app.session.request_stop("Local")
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        await wb.unplug()
        pending = len(wb.cp.txq)
        await cs.start_server()  # same port: the backend returns
        await until(lambda: len(wb.cp.txq) == 0 and len(cs.actions("StopTransaction")) == 2,
                    "queue delivered", 30)
        return cs, queued, pending
    cs, queued, pending = _run(body)
    assert queued >= 2 and pending >= 6
    _check_complete(cs, 2)
    assert cs.boots == ["CP_1"]  # a reconnect is no reboot
    t1, t2 = cs.transactions[1], cs.transactions[2]
    assert len(t1["meter_values"]) >= 3 and len(t2["meter_values"]) >= 1
    assert t2["meter_start"] >= t1["stop"]["meter_stop"]
    # in order: every MeterValues of a transaction between its start and stop
    order = [a for a in cs.actions() if a in ("StartTransaction", "MeterValues", "StopTransaction")]
    assert order[0] == "StartTransaction" and order[-1] == "StopTransaction"
    assert order.count("StartTransaction") == 2 and order.count("StopTransaction") == 2


def test_remote_start_and_remote_stop():
    async def body(cs, wb):
        await wb.plug()
        assert await cs.remote_start("CP_1", "REMOTE1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions and wb.cp.txq.remote_id(wb.app.session.current.sid),
                    "transaction id")
        assert await cs.remote_stop("CP_1", 999) == "Rejected"
        assert await cs.remote_stop("CP_1", 1) == "Accepted"
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        await wb.unplug()
        await until(lambda: cs.actions("StopTransaction"), "stop")
        return cs
    cs = _run(body)
    _check_complete(cs)
    t = cs.transactions[1]
    assert t["id_tag"] == "REMOTE1" and t["stop"]["reason"] == "Remote"


def test_change_availability_scheduled_during_a_transaction():
    from ocpp.v16 import call

    async def body(cs, wb):
        await wb.plug()
        assert await cs.remote_start("CP_1", "TAG1") == "Accepted"
        await wb.charging()
        r = await cs.call("CP_1", call.ChangeAvailability(connector_id=1, type="Inoperative"))
        busy = r.status
        assert await cs.remote_start("CP_1", "TAG2") == "Rejected"  # still charging
        await until(lambda: cs.transactions and wb.cp.txq.remote_id(wb.app.session.current.sid),
                    "transaction id")
        assert await cs.remote_stop("CP_1", 1) == "Accepted"
        await until(lambda: cs.actions("StopTransaction"), "stop")
        await wb.unplug()
        await until(lambda: ("CP_1", 1, "Unavailable", "NoError") in cs.status, "unavailable")
        idle = await cs.remote_start("CP_1", "TAG3")
        r = await cs.call("CP_1", call.ChangeAvailability(connector_id=1, type="Operative"))
        await until(lambda: cs.status[-1][2] == "Available", "available again")
        return busy, idle, r.status
    assert _run(body) == ("Scheduled", "Rejected", "Accepted")


def test_data_transfer_both_ways_through_the_library():
    from ocpp.v16 import call

    async def body(cs, wb):
        wb.cp.vendor_hook = lambda vendor, msg, data: (
            ("Accepted", (data or "") + "-ok") if vendor == "org.example" else ("UnknownVendorId", None))
        r = await cs.call("CP_1", call.DataTransfer(vendor_id="org.example", message_id="m", data="x"))
        r2 = await cs.call("CP_1", call.DataTransfer(vendor_id="other"))
        out = await wb.cp.data_transfer("org.example", "hello", "payload")
        return r, r2, out, [p for _c, a, p in cs.messages if a == "DataTransfer"]
    r, r2, out, seen = _run(body)
    assert (r.status, r.data) == ("Accepted", "x-ok") and r2.status == "UnknownVendorId"
    assert out == ("UnknownVendorId", None)  # what tools.csms answers every vendor
    assert seen == [{"vendorId": "org.example", "message_id": "hello", "data": "payload"}]


def test_soft_reset_ends_the_transaction_and_reboots_without_a_second_stop():
    async def body(cs, wb):
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions, "started")
        assert await cs.reset("CP_1", "Soft") == "Accepted"
        await until(lambda: wb.board.reboot_requested, "reboot", 20)
        await wb.power_cut()
        wb.boot()  # the firmware restarts from its persisted state
        await until(lambda: len(cs.boots) == 2, "second boot")
        await asyncio.sleep(1)
        return cs, wb.app.recovered, [r["reason"] for r in wb.app.record.done]
    cs, recovered, reasons = _run(body)
    _check_complete(cs)
    assert cs.transactions[1]["stop"]["reason"] == "SoftReset"
    # the session ended when the reset's stop had opened the contactor, before the reboot
    assert recovered is None and reasons == ["SoftReset"]


def test_power_loss_during_a_transaction_stopped_at_the_next_boot():
    async def body(cs, wb):
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions and len(cs.actions("MeterValues")) >= 2, "charging")
        await asyncio.sleep(1.2)  # a checkpoint of the session log
        await wb.power_cut()
        wb.world.ev.unplug()
        wb.boot()
        await until(lambda: cs.actions("StopTransaction"), "stop after boot")
        return cs, wb.app.recovered
    cs, rec = _run(body)
    _check_complete(cs)
    t = cs.transactions[1]
    assert t["stop"]["reason"] == "PowerLoss" and t["stop"]["meter_stop"] == rec["wh"]
    assert t["stop"]["meter_stop"] > t["meter_start"]


# The wallbox (App on the simulated board + OCPP over a real WebSocket) as a MicroPython
# process from the compiled tree: a session against the central system, and the heap.
MP_SCRIPT = r'''
import gc, sys, json
import asyncio
from lib import log
log.level = 40
gc.collect()
h0 = gc.mem_alloc()
from boards.sim.board import World
from firmware import config
from firmware.main import App
from firmware.iec61851 import charger as chg
from firmware.ocpp import chargepoint
from firmware.ocpp.backoff import Backoff
gc.collect()
out = {"heap_code": gc.mem_alloc() - h0}

async def until(pred, n=1500):
    for _ in range(n):
        if pred():
            return True
        await asyncio.sleep_ms(20)
    return False

async def main(url, root):
    w = World(root, ev={"target_wh": 100000, "react_ms": 200})
    w.board.pp.cable_ohms = 220
    w.board.power_on()
    app = App(w.board, config.make({"auth": "external", "rcd_self_test": False, "checkpoint_s": 1}))
    gc.collect()
    h1 = gc.mem_alloc()
    cp = chargepoint.attach(app, url, cfg_overrides={"MeterValueSampleInterval": 1})
    tasks = [asyncio.create_task(w.run()), asyncio.create_task(app.run()),
             asyncio.create_task(cp.run(Backoff(first_ms=100, max_ms=400)))]
    ok = await until(lambda: cp.status.sent >= 2)
    await asyncio.sleep_ms(300)
    gc.collect()
    out["heap_idle_connected"] = gc.mem_alloc() - h0
    out["heap_ocpp_idle"] = gc.mem_alloc() - h1
    w.ev.plug()
    ok = ok and await until(lambda: app.session.plugged)
    st = await cp.tx.authorize("TAG1")
    ok = ok and await until(lambda: app.charger.state == chg.CHARGING)
    await asyncio.sleep_ms(2500)
    gc.collect()
    out["heap_transaction"] = gc.mem_alloc() - h0
    out["heap_ocpp_transaction"] = gc.mem_alloc() - h1
    app.session.request_stop("Local")
    ok = ok and await until(lambda: app.charger.state == chg.FINISHED)
    w.ev.unplug()
    ok = ok and await until(lambda: len(cp.txq) == 0 and app.session.current is None)
    await asyncio.sleep_ms(300)
    ok = ok and len(cp.txq) == 0
    out["ok"] = ok
    out["auth"] = st
    gc.collect()
    out["heap_free_min"] = gc.mem_free()
    for t in tasks:
        t.cancel()

try:
    asyncio.run(main(sys.argv[1], sys.argv[2]))
except Exception as e:
    sys.print_exception(e)
    out["exception"] = repr(e)
print("RESULT " + json.dumps(out))
'''


def test_micropython_wallbox_session_and_heap(tmp_path):
    """The same wallbox under the MicroPython unix port (compiled .mpy tree, as deployed):
    a charging session recorded by the central system; prints the heap figures."""
    import json
    import os

    from tools.sim import mpbuild

    exe = mpbuild.micropython()
    if not os.path.exists(exe) and shutil.which(exe) is None:
        pytest.skip("no micropython")
    out_dir = str(tmp_path / "mpy")
    _o, errors = mpbuild.build(out=out_dir)
    assert not errors, errors
    script = tmp_path / "wallbox.py"
    script.write_text(MP_SCRIPT)
    # The unix port keeps the loaded bytecode in the heap (firmware ~60 KB, OCPP client
    # ~111 KB, where a device runs it frozen from flash): 384 KB leaves the data its margin.
    heap = os.environ.get("OCPP_MP_HEAP", "384K")

    async def main():
        async with Csms(port=0) as cs:
            p = await asyncio.create_subprocess_exec(
                exe, "-X", "heapsize=" + heap, str(script), cs.url("CP_MP"), str(tmp_path / "fs"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env=mpbuild.env(out_dir), cwd=str(tmp_path))
            text = (await asyncio.wait_for(p.communicate(), 120))[0].decode()
            await asyncio.sleep(0.1)
            return text, cs
    text, cs = asyncio.run(main())
    res = [json.loads(ln[7:]) for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert res, text
    out = res[0]
    assert "exception" not in out and out["ok"] and out["auth"] == "Accepted", text
    _check_complete(cs)
    assert len(cs.transactions[1]["meter_values"]) >= 2
    print("MicroPython heap (%s): firmware+ocpp code %d B, idle connected %d B (ocpp part %d B), "
          "in a transaction %d B (ocpp part %d B), free at the end %d B" % (
              heap, out["heap_code"], out["heap_idle_connected"], out["heap_ocpp_idle"],
              out["heap_transaction"], out["heap_ocpp_transaction"], out["heap_free_min"]))


def test_app_runs_ocpp_when_configured(tmp_path):
    """`ocpp_url` in the firmware's configuration is all it takes: App boots the client."""

    async def main():
        async with Csms(port=0) as cs:
            world = World(str(tmp_path), ev={"target_wh": 100000})
            world.board.pp.cable_ohms = 220
            app = App(world.board, config.make(dict(CFG, ocpp_url=cs.url("CP_CFG"))))
            assert app.ocpp is not None
            run = asyncio.create_task(app.run())
            try:
                await until(lambda: "CP_CFG" in cs.boots, "BootNotification from the App's own client")
            finally:
                app.stop()
                await run

    log.level = log.WARN
    asyncio.run(main())


def test_no_ocpp_without_a_url(tmp_path):
    app = App(World(str(tmp_path)).board, config.make(CFG))
    assert app.ocpp is None
