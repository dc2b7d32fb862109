"""Scenario: ev_pause_resume."""
from firmware.iec61851 import charger as chg
from tools.sim.scenarios import (
    charge_for, contactor_opens, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'the car stops asking (C->B) mid-charge and later asks again'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 20)
    sim.ev.wants = False
    await contactor_opens(sim, 1, "contactor opens on C->B")
    sim.expect(sim.charger.state == chg.READY, "still offering")
    await sim.sleep(30)
    sim.ev.wants = True
    await sim.until(lambda: sim.board.contactor.actual, 5, "contactor closes again on C")
    await charge_for(sim, 10)
    sim.allow_open_under_load = True
    await unplug_and_idle(sim)
