"""Scenario: state_d_no_ventilation."""
from firmware.iec61851 import faults
from tools.sim.scenarios import unplug_and_idle, wait_fault

DESCRIPTION = 'the car asks with D, the site cannot ventilate: no charging'
SETUP = dict(cfg={"ventilation": False}, ev={"ventilation": True})


async def run(sim):
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.VENTILATION, 5)
    await sim.sleep(20)
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    await unplug_and_idle(sim)
