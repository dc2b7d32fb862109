"""python -m tools.bench_ocpp [--outages 1,5,20] [--runtimes cpython,micropython] [--no-heap]

Figures of the OCPP client; prints them, asserts nothing (machines are noisy).

Reconnect: the simulated wallbox (``python -m tools.sim --scenario idle``: the firmware
App with its OCPP client on the simulated board, real time, the product's back-off of
1 s doubling up to 60 s with 50 % jitter) against the embedded central system
(tools.csms). The backend stops for S seconds, then listens again on the same port: the
time from listening to the charge point's WebSocket handshake and to its first OCPP
frame, idle and during a transaction (MeterValues queued while offline). Then a Reset:
from the Reset's answer to the BootNotification of the rebooted firmware.

Heap (MicroPython unix port, the compiled .mpy tree, code in RAM as on the port):
``gc.mem_alloc()`` deltas after ``gc.collect()`` — the code of the firmware and of the
OCPP client, the client idle and connected, and during a transaction — and the
smallest ``-X heapsize`` of those tried at which a whole session passes. Also the
``.mpy`` size of firmware/ocpp. Host only (CPython).
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import tools
from tools.sim import mpbuild

_CP = "CP_BENCH"


def _wallbox(url, runtime):
    return subprocess.Popen(
        [sys.executable, "-m", "tools.sim", "--scenario", "idle", "--csms", url, "--duration", "900",
         "--plug-at", "0.5", "--runtime", runtime, "--quiet"],
        cwd=tools.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _poll(pred, limit_s=120):
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > limit_s:
            return None
        await asyncio.sleep(0.002)
    return time.monotonic()


async def _outage(cs, seconds):
    """Stop the backend for ``seconds``; (handshake, first frame) seconds after it listens."""
    await cs.stop_server()
    await _poll(lambda: _CP not in cs.connected, 10)
    await asyncio.sleep(seconds)
    n = len(cs.messages)
    t0 = time.monotonic()
    await cs.start_server()  # the same port: Csms keeps the one it got
    t_conn = await _poll(lambda: _CP in cs.connected, 90)  # the back-off grows to 60 s
    t_frame = await _poll(lambda: len(cs.messages) > n, 10)
    return (t_conn - t0 if t_conn else None), (t_frame - t0 if t_frame else None)


def _fmt(x):
    return "  -   " if x is None else "%6.3f" % x


async def _reconnect(runtime, outages):
    from ocpp.v16 import call

    from tools.csms import Csms

    cs = await Csms(port=0).start_server()
    p = _wallbox(cs.url(_CP), runtime)
    try:
        if await _poll(lambda: _CP in cs.connected and len(cs.status) >= 3, 30) is None:
            print("%-11s the wallbox did not connect" % runtime)
            return
        await cs.call(_CP, call.ChangeConfiguration(key="MeterValueSampleInterval", value="1"))
        rows = []
        for s in outages:
            rows.append(("idle", s) + await _outage(cs, s))
        if _CP not in cs.connected or await cs.remote_start(_CP, "BENCH") != "Accepted":
            print("%-11s the wallbox did not come back / start a transaction" % runtime)
            return
        await _poll(lambda: cs.transactions and len(cs.transactions[1]["meter_values"]) >= 1, 20)
        for s in outages:
            rows.append(("transaction", s) + await _outage(cs, s))
        for what, s, conn, first in rows:
            print("%-11s %-12s backend down %5.1f s: handshake after %s s, first frame after %s s%s" % (
                runtime, what, s, _fmt(conn), _fmt(first), " (nothing to send)" if first is None and conn else ""))
        if _CP not in cs.connected:
            print("%-11s the wallbox did not come back: no Reset figure" % runtime)
            return
        boots = len(cs.boots)
        await cs.reset(_CP, "Soft")
        t0 = time.monotonic()
        t_boot = await _poll(lambda: len(cs.boots) > boots, 60)
        print("%-11s Reset (Soft, in a transaction): BootNotification of the rebooted firmware after %s s "
              "(the simulator's reboot takes 1 s)" % (runtime, _fmt(t_boot - t0 if t_boot else None)))
        tx = cs.transactions.get(1) or {}
        print("%-11s   backend: %d transaction(s), first stopped with %s, %d MeterValues, duplicates %d" % (
            runtime, len(cs.transactions), (tx.get("stop") or {}).get("reason"), len(tx.get("meter_values", ())),
            len(cs.duplicates)))
    finally:
        p.terminate()
        p.wait(10)
        await cs.stop_server()


# The wallbox as a MicroPython process, measuring its own heap (printed as one RESULT line).
_HEAP_SCRIPT = r'''
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
gc.collect()
out = {"code_firmware": gc.mem_alloc() - h0}
h1 = gc.mem_alloc()
from firmware.ocpp import chargepoint, ws
from firmware.ocpp.backoff import Backoff
gc.collect()
out["code_ocpp"] = gc.mem_alloc() - h1

async def until(pred, n=1500):
    for _ in range(n):
        if pred():
            return True
        await asyncio.sleep_ms(20)
    return False

def used():
    gc.collect()
    return gc.mem_alloc()

async def main(url, root):
    w = World(root, ev={"target_wh": 100000, "react_ms": 200})
    w.board.pp.cable_ohms = 220
    w.board.power_on()
    app = App(w.board, config.make({"auth": "external", "rcd_self_test": False, "checkpoint_s": 1}))
    h2 = used()
    cp = chargepoint.attach(app, url, cfg_overrides={"MeterValueSampleInterval": 1})
    tasks = [asyncio.create_task(w.run()), asyncio.create_task(app.run()),
             asyncio.create_task(cp.run(Backoff(first_ms=100, max_ms=400)))]
    ok = await until(lambda: cp.registered.is_set() and cp.status.sent >= 2)
    await asyncio.sleep_ms(300)
    out["ocpp_idle_connected"] = used() - h2
    w.ev.plug()
    ok = ok and await until(lambda: app.session.plugged)
    ok = ok and (await cp.tx.authorize("TAG1")) == "Accepted"
    ok = ok and await until(lambda: app.charger.state == chg.CHARGING)
    low = gc.mem_free()
    for _ in range(15):
        await asyncio.sleep_ms(200)
        low = min(low, gc.mem_free())
    out["ocpp_transaction"] = used() - h2
    out["free_low_in_transaction"] = low
    app.session.request_stop("Local")
    ok = ok and await until(lambda: app.charger.state == chg.FINISHED)
    w.ev.unplug()
    ok = ok and await until(lambda: len(cp.txq) == 0 and app.session.current is None)
    out["ok"] = ok
    out["heap_total"] = gc.mem_alloc() + gc.mem_free()
    for t in tasks:
        t.cancel()

try:
    asyncio.run(main(sys.argv[1], sys.argv[2]))
except Exception as e:
    out["exception"] = repr(e)
print("RESULT " + json.dumps(out))
'''


async def _heap_run(kb, out_dir, script, tmp):
    from tools.csms import Csms

    async with Csms(port=0) as cs:
        p = await asyncio.create_subprocess_exec(
            mpbuild.micropython(), "-X", "heapsize=%dK" % kb, script, cs.url("CP_HEAP"),
            os.path.join(tmp, "fs%d" % kb), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=mpbuild.env(out_dir), cwd=tmp)
        text = (await asyncio.wait_for(p.communicate(), 120))[0].decode()
        res = [json.loads(ln[7:]) for ln in text.splitlines() if ln.startswith("RESULT ")]
        r = res[0] if res else {"exception": text.strip().splitlines()[-1:] or "no output"}
        r["backend_complete"] = (len(cs.transactions) == 1 and cs.transactions[1]["stop"] is not None
                                 and not cs.duplicates)
        return r


async def _heap(heaps):
    out_dir, errors = mpbuild.build()
    if errors:
        print("\n".join(errors))
        return
    with tempfile.TemporaryDirectory(prefix="bench-ocpp-") as tmp:
        script = os.path.join(tmp, "wallbox.py")
        with open(script, "w") as f:
            f.write(_HEAP_SCRIPT)
        r = await _heap_run(1024, out_dir, script, tmp)
        if "exception" in r or not r.get("ok"):
            print("heap run failed:", r)
            return
        k = 1024.0
        print("MicroPython heap (1024 KB run, gc.mem_alloc after gc.collect):")
        print("  code of the firmware (App, charger, session, storage, sim board)  %6.1f KB" % (r["code_firmware"] / k))
        print("  code of the OCPP client (firmware/ocpp as imported by chargepoint + ws) %6.1f KB" % (r["code_ocpp"] / k))
        print("  OCPP client idle, connected (objects, buffers, tasks)          %6.1f KB" % (r["ocpp_idle_connected"] / k))
        print("  OCPP client during a transaction                                %6.1f KB" % (r["ocpp_transaction"] / k))
        print("  whole process during a transaction, garbage included (the GC runs when the heap is full): "
              "%.1f KB at most" % ((r["heap_total"] - r["free_low_in_transaction"]) / k))
        line = []
        for kb in heaps:
            rr = await _heap_run(kb, out_dir, script, tmp)
            good = rr.get("ok") and "exception" not in rr and rr["backend_complete"]
            line.append("%d KB %s" % (kb, "ok" if good else "FAILS"))
        print("  a whole session (boot, Authorize, transaction, stop) with -X heapsize=: " + ", ".join(line))


def _mpy_size():
    out_dir, errors = mpbuild.build()
    if errors:
        return
    d = os.path.join(out_dir, "firmware", "ocpp")
    sizes = sorted(((os.path.getsize(os.path.join(d, f)), f) for f in os.listdir(d) if f.endswith(".mpy")),
                   reverse=True)
    print(".mpy size of firmware/ocpp: %d bytes in %d modules (largest: %s)" % (
        sum(s for s, _f in sizes), len(sizes), ", ".join("%s %d" % (f[:-4], s) for s, f in sizes[:5])))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench_ocpp", description=__doc__.split("\n")[0])
    ap.add_argument("--outages", default="1,5,20", help="seconds the backend is down, comma-separated")
    ap.add_argument("--runtimes", default="cpython,micropython")
    ap.add_argument("--heaps", default="256,320,384,512", help="-X heapsize values tried for a whole session (KB)")
    ap.add_argument("--no-heap", action="store_true")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.ERROR)
    outages = [float(x) for x in args.outages.split(",") if x]
    have_mp = os.path.exists(mpbuild.micropython())
    print("== reconnect after the backend returns (real time, default back-off)")
    for rt in args.runtimes.split(","):
        if rt == "micropython" and not have_mp:
            print("micropython: not installed (make setup)")
            continue
        asyncio.run(_reconnect(rt, outages))
    if have_mp and not args.no_heap:
        print("== heap")
        asyncio.run(_heap([int(x) for x in args.heaps.split(",") if x]))
    _mpy_size()
    return 0


if __name__ == "__main__":
    sys.exit(main())
