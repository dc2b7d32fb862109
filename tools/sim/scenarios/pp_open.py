"""Scenario: pp_open."""
from firmware.iec61851 import faults
from tools.sim.scenarios import unplug_and_idle, wait_fault

DESCRIPTION = 'a cable without PP resistor (or a broken PP wire): no charging'
SETUP = dict(cable_ohms=None)


async def run(sim):
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.PP_OPEN, 2)
    await sim.sleep(20)
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    await unplug_and_idle(sim)
