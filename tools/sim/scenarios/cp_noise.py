"""Scenario: cp_noise."""
from tools.sim.scenarios import contactor_opens, plug_and_charge, unplug_and_idle

DESCRIPTION = '5 % of CP samples are spikes: no false transitions, the session completes'
SETUP = dict(ev={"target_wh": 1000}, cfg={"max_current_a": 32})


async def run(sim):
    sim.board.cp.spike_per_mille = 50
    await plug_and_charge(sim)
    await sim.until(sim.ev.full, 600, "car full")
    await contactor_opens(sim, 3, "contactor opens")
    await unplug_and_idle(sim)
    sim.expect(sim.rec.counts.get("fault", 0) == 0, "no fault")
    sim.expect(sim.rec.counts.get("cp", 0) == 5, "exactly A B C B A (%d changes)" % sim.rec.counts.get("cp", 0))
    sim.expect(sim.charger.pilot.spikes > 100, "spikes were there to reject (%d)" % sim.charger.pilot.spikes)
