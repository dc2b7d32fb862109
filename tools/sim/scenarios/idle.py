"""Scenario: idle (real time, against any central system)."""
DESCRIPTION = ("a wallbox with OCPP, no car (or one plugged at --plug-at S), against --csms URL "
               "(default: the embedded central system) for --duration S seconds, answering it")
SETUP = dict(realtime=True, heap_kb=512, cfg={"auth": "external", "checkpoint_s": 5}, ocpp={},
             ev={"max_current_a": 32, "target_wh": 100000, "react_ms": 300}, cable_ohms=220)


async def run(sim):
    p = sim.params
    end = float(p.get("duration") or 30)
    plug_at = p.get("plug_at")
    if plug_at is not None and float(plug_at) < end:
        await sim.sleep(max(0, float(plug_at) - sim.t()))
        sim.ev.plug()
        sim.note("car plugged")
    await sim.sleep(max(0, end - sim.t()))
    sim.expect(sim.link.frames[1] > 0, "a frame from the central system at %s" % sim.link.url)
