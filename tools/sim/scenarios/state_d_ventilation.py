"""Scenario: state_d_ventilation."""
from firmware.iec61851 import states
from tools.sim.scenarios import contactor_opens, plug_and_charge, unplug_and_idle

DESCRIPTION = 'the car asks with D and the site ventilates: charging'
SETUP = dict(cfg={"ventilation": True}, ev={"ventilation": True, "target_wh": 300})


async def run(sim):
    await plug_and_charge(sim)
    sim.expect(sim.charger.cp_state == states.D, "charging in D")
    await sim.until(sim.ev.full, 600, "car full")
    await contactor_opens(sim, 3, "contactor opens")
    await unplug_and_idle(sim)
