"""SmartCharging end to end: the firmware App on the simulated board (real time, real
loopback WebSocket) against the embedded central system (tools.csms: the `ocpp` library,
which validates every SetChargingProfile, ClearChargingProfile, GetCompositeSchedule and
RemoteStartTransaction in both directions against the OCPP 1.6 JSON schemas). The PWM
duty on the simulated pilot line and the Current.Offered the backend receives follow the
composite schedule from one period to the next.

CPython only: the central system is a CPython library (websockets server).
"""
import asyncio

import pytest

pytest.importorskip("ocpp.routing")

from ocpp.v16 import call  # noqa: E402

from firmware.iec61851 import charger as chg  # noqa: E402
from firmware.iec61851 import pwm  # noqa: E402
from firmware.ocpp import timefmt  # noqa: E402
from tests.host.test_ocpp_core import _run, until  # noqa: E402


def profile(pid, purpose, periods, kind="Absolute", start=None, duration=None, unit="A",
            level=0, **kw):
    sc = {"chargingRateUnit": unit,
          "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods]}
    if start is not None:
        sc["startSchedule"] = timefmt.iso(start)
    if duration is not None:
        sc["duration"] = duration
    return dict({"chargingProfileId": pid, "stackLevel": level,
                 "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
                 "chargingSchedule": sc}, **kw)


async def watch(wb, out):
    """Record (backend time, duty on the pilot line, offer) whenever the duty changes."""
    last = None
    while True:
        d = wb.board.cp.duty
        if d != last:
            last = d
            out.append((wb.cp.smart.now(), d, wb.app.charger.offer_da))
        await asyncio.sleep(0.02)


def test_pwm_follows_the_tx_profile_period_by_period():
    async def body(cs, wb):
        r = await cs.call("CP_1", call.ChangeConfiguration(
            key="MeterValuesSampledData", value="Energy.Active.Import.Register,Current.Offered"))
        assert r.status == "Accepted"
        await wb.plug()
        assert await wb.cp.tx.authorize("TAG1") == "Accepted"
        await wb.charging()
        await until(lambda: cs.transactions, "StartTransaction")
        seen = []
        w = asyncio.create_task(watch(wb, seen))
        # backend time is whole seconds: start on the next second but one
        t = wb.cp.smart.now() + 2
        p = profile(5, "TxProfile", [(0, 10), (3, 4), (6, 13)], start=t, duration=9,
                    transactionId=1)
        r = await cs.call("CP_1", call.SetChargingProfile(connector_id=1, cs_charging_profiles=p))
        assert r.status == "Accepted"
        r = await cs.call("CP_1", call.GetCompositeSchedule(connector_id=1, duration=20))
        assert r.status == "Accepted"
        await until(lambda: wb.cp.smart.now() >= t + 10 and wb.app.charger.state == chg.CHARGING,
                    "the schedule's end", 30)
        await until(lambda: len(cs.actions("MeterValues")) >= 13, "meter values", 10)
        w.cancel()
        wb.app.session.request_stop("Local")
        await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
        await wb.unplug()
        return t, seen, r, cs
    t, seen, comp, cs = _run(body)
    sched = comp.charging_schedule
    rel = [(q["start_period"], q["limit"]) for q in sched["charging_schedule_period"]]
    d = timefmt.parse(comp.schedule_start)
    # the composite: 16 A (the charger's maximum) until the profile starts, its periods,
    # then 16 A again
    want = [(t, 10), (t + 3, 4), (t + 6, 13), (t + 9, 16)]
    if d < t:
        want.insert(0, (d, 16))
    assert [(s + d, lim) for s, lim in rel] == want
    duties = [x[1] for x in seen]
    want = [pwm.duty_for(160), pwm.duty_for(100), pwm.DUTY_X1, pwm.duty_for(130),
            pwm.duty_for(160)]
    assert [x for i, x in enumerate(duties) if i == 0 or x != duties[i - 1]] == want, seen
    # each step on the line happened at (never before) its period's boundary
    for (when, duty, _), start in zip(seen[1:], (0, 3, 6, 9)):
        assert when >= t + start, (seen, t)
    print("duty changes, seconds after the boundary:",
          [when - t - s for (when, _, _), s in zip(seen[1:], (0, 3, 6, 9))])
    # the backend saw the offer change in Current.Offered, and the pause as SuspendedEVSE
    offered = set()
    for mv in cs.transactions[1]["meter_values"]:
        for sv in mv[0]["sampled_value"]:
            if sv.get("measurand") == "Current.Offered":
                offered.add(float(sv["value"]))
    assert {10.0, 13.0, 16.0} <= offered and 0.0 in offered, offered
    assert "SuspendedEVSE" in [s for _cp, c, s, _e in cs.status if c == 1]


def test_remote_start_profile_clear_and_reboot_persistence():
    async def body(cs, wb):
        t = wb.cp.smart.now()
        cap = profile(1, "ChargePointMaxProfile", [(0, 11)], kind="Recurring",
                      recurrencyKind="Daily", start=t - 60)
        r = await cs.call("CP_1", call.SetChargingProfile(connector_id=0, cs_charging_profiles=cap))
        assert r.status == "Accepted"
        bad = await cs.call("CP_1", call.RemoteStartTransaction(
            id_tag="RS1", connector_id=1,
            charging_profile=profile(2, "TxDefaultProfile", [(0, 8)])))
        assert bad.status == "Rejected"
        r = await cs.call("CP_1", call.RemoteStartTransaction(
            id_tag="RS1", connector_id=1, charging_profile=profile(
                2, "TxProfile", [(0, 8), (3600, 20)], kind="Relative")))
        assert r.status == "Accepted"
        await wb.plug()
        await wb.charging()
        await until(lambda: wb.app.charger.offer_da == 80, "8 A from the remote start's profile")
        w = await cs.call("CP_1", call.GetCompositeSchedule(connector_id=1, duration=7200,
                                                            charging_rate_unit="W"))
        unknown = await cs.call("CP_1", call.ClearChargingProfile(id=99))
        cleared = await cs.call("CP_1", call.ClearChargingProfile(
            connector_id=1, charging_profile_purpose="TxProfile"))
        await until(lambda: wb.app.charger.offer_da == 110, "back to the 11 A cap")
        await wb.power_cut()
        wb.boot()  # the cap is persisted; the firmware applies it without the backend
        await until(lambda: wb.app.session.limit_da() == 110, "cap after reboot")
        await until(lambda: "CP_1" in cs.connected, "reconnected")
        z = await cs.call("CP_1", call.GetCompositeSchedule(connector_id=0, duration=60))
        return w, unknown.status, cleared.status, z
    w, unknown, cleared, z = _run(body)
    assert w.status == "Accepted" and w.charging_schedule["charging_rate_unit"] == "W"
    periods = w.charging_schedule["charging_schedule_period"]
    # 8 A x 230 V x 3 phases, then min(20 A, the 11 A cap) from the transaction's hour on
    assert [q["limit"] for q in periods] == [5520, 7590]
    assert unknown == "Unknown" and cleared == "Accepted"
    assert z.status == "Accepted"
    assert [q["limit"] for q in z.charging_schedule["charging_schedule_period"]] == [11]


# The wallbox as a MicroPython process (compiled .mpy tree, as deployed): the backend
# sends a TxProfile; the script records the duty on the simulated pilot line and the heap.
MP_SCRIPT = r'''
import gc, sys, json
import asyncio
from lib import log
log.level = 40
from boards.sim.board import World
from firmware import config
from firmware.main import App
from firmware.iec61851 import charger as chg
from firmware.ocpp import chargepoint
from firmware.ocpp.backoff import Backoff
# loaded at boot, as a deployment whose backend uses smart charging should: loaded later,
# the growth of the interned-name pool they cause needs one large free block
from firmware.ocpp import schedule, smartreq  # noqa

out = {"duties": []}

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
    app = App(w.board, config.make({"auth": "external", "rcd_self_test": False}))
    cp = chargepoint.attach(app, url, cfg_overrides={"MeterValueSampleInterval": 0})
    tasks = [asyncio.create_task(w.run()), asyncio.create_task(app.run()),
             asyncio.create_task(cp.run(Backoff(first_ms=100, max_ms=400)))]
    ok = await until(lambda: cp.status.sent >= 2)
    w.ev.plug()
    ok = ok and await until(lambda: app.session.plugged)
    out["auth"] = await cp.tx.authorize("TAG1")
    ok = ok and await until(lambda: app.charger.state == chg.CHARGING)
    last = None
    for _ in range(2000):  # until the profile has run out (or 40 s)
        d = w.board.cp.duty
        if d != last:
            last = d
            out["duties"].append([cp.smart.now(), d])
        if len(out["duties"]) >= 4:
            break
        await asyncio.sleep_ms(20)
    gc.collect()
    out["heap_used"] = gc.mem_alloc()
    out["heap_free"] = gc.mem_free()
    app.session.request_stop("Local")
    ok = ok and await until(lambda: app.charger.state == chg.FINISHED)
    w.ev.unplug()
    ok = ok and await until(lambda: len(cp.txq) == 0 and app.session.current is None)
    out["ok"] = ok
    for t in tasks:
        t.cancel()

try:
    asyncio.run(main(sys.argv[1], sys.argv[2]))
except Exception as e:
    sys.print_exception(e)
    out["exception"] = repr(e)
print("RESULT " + json.dumps(out))
'''


def test_micropython_wallbox_follows_a_profile(tmp_path):
    """The same under the MicroPython unix port: the duty steps at the boundaries of a
    TxProfile set by the backend; prints the heap (OCPP_MP_HEAP overrides 384 KB: the
    whole client with every profile's modules loaded; at 320 KB its 8 KB WebSocket
    buffer no longer fits).

    The script imports the SmartCharging modules at boot. Imported on the first profile
    instead (the default, which saves their RAM where no backend uses them), they fail
    here even at 384 KB with "MemoryError: allocating 1280 bytes": their names make the
    interned-name pool grow to 1280 entries (the number the error names), one block of
    13-15 KB, and a few seconds into a session the simulated wallbox's heap has 145 KB
    free but no free block above 6.4 KB."""
    import json
    import os
    import shutil
    import time

    from tools.csms import Csms
    from tools.sim import mpbuild

    exe = mpbuild.micropython()
    if not os.path.exists(exe) and shutil.which(exe) is None:
        pytest.skip("no micropython")
    out_dir = str(tmp_path / "mpy")
    _o, errors = mpbuild.build(out=out_dir)
    assert not errors, errors
    script = tmp_path / "wallbox.py"
    script.write_text(MP_SCRIPT)
    heap = os.environ.get("OCPP_MP_HEAP", "384K")

    async def main():
        async with Csms(port=0) as cs:
            p = await asyncio.create_subprocess_exec(
                exe, "-X", "heapsize=" + heap, str(script), cs.url("CP_MP"), str(tmp_path / "fs"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env=mpbuild.env(out_dir), cwd=str(tmp_path))
            try:
                await until(lambda: cs.transactions, "StartTransaction", 60)
            except AssertionError:
                p.kill()
                raise AssertionError((await p.communicate())[0].decode()[-3000:])
            t = int(time.time()) + 3
            # no transactionId: the charge point may not have its StartTransaction's
            # answer yet (the profile is for the transaction running)
            prof = profile(1, "TxProfile", [(0, 10), (3, 13)], start=t, duration=6)
            r = await cs.call("CP_MP", call.SetChargingProfile(connector_id=1,
                                                               cs_charging_profiles=prof))
            comp = await cs.call("CP_MP", call.GetCompositeSchedule(connector_id=1, duration=30,
                                                                    charging_rate_unit="W"))
            text = (await asyncio.wait_for(p.communicate(), 120))[0].decode()
            return t, r, comp, text
    t, r, comp, text = asyncio.run(main())
    status = r.status if r is not None else text
    res = [json.loads(ln[7:]) for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert res, text
    out = res[0]
    assert "exception" not in out and out["ok"] and status == "Accepted", text
    assert [q["limit"] for q in comp.charging_schedule["charging_schedule_period"]][-3:] == \
        [6900, 8970, 11040]  # 10 A, 13 A, 16 A on 3 x 230 V
    steps = out["duties"]
    assert [d for _, d in steps] == [pwm.duty_for(160), pwm.duty_for(100), pwm.duty_for(130),
                                     pwm.duty_for(160)], steps
    # clock offsets: the client's clock is synchronised to the backend's whole seconds
    for (when, _), start in zip(steps[1:], (0, 3, 6)):
        assert when >= t + start - 1, (steps, t)
    print("MicroPython heap (%s) with SmartCharging in use: %d B used, %d B free; steps %s s "
          "after the boundaries" % (heap, out["heap_used"], out["heap_free"],
                                    [w - t - s for (w, _), s in zip(steps[1:], (0, 3, 6))]))
