"""Scenario: power_loss."""
from tools.sim.scenarios import charge_for, plug_and_charge, unplug_and_idle

DESCRIPTION = 'power cut while charging: the session is closed as PowerLoss on reboot'
# heap_kb: two Apps booted in one process (the first one's RAM is freed, but the heap
# stays cut up as a device's would not be after a real power cut)
SETUP = dict(ev={"target_wh": 100000}, cfg={"checkpoint_s": 60}, allow_open_under_load=True,
             heap_kb=144)


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 330)
    before = sim.session.current.energy_wh - sim.session.current.start_wh
    await sim.power_cut(20)
    rec = sim.app.recovered
    sim.expect(rec is not None and rec["reason"] == "PowerLoss", "open session closed as PowerLoss")
    if rec:
        kept = rec["wh"] - rec["wh0"]
        sim.note("persisted %d of %d Wh before the cut" % (kept, before))
        sim.expect(before - 1200 <= kept <= before, "last checkpoint kept (%d of %d Wh)" % (kept, before))
    await sim.until(lambda: sim.board.contactor.actual, 10, "charging again after reboot")
    sim.expect(sim.session.current is not None and sim.session.current.sid == 2, "new session 2")
    await charge_for(sim, 30)
    await unplug_and_idle(sim)
    sim.expect(sim.app.record.open is None, "nothing left open")
    ids = [r["id"] for r in sim.app.record.done]
    sim.expect(ids == [1, 2], "sessions 1 and 2 recorded once each (%s)" % ids)
