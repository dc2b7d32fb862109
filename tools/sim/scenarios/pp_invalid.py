"""Scenario: pp_invalid."""
from firmware.iec61851 import faults, pwm
from tools.sim.scenarios import CABLE_20A, unplug_and_idle, wait_fault

DESCRIPTION = 'a PP resistance no cable uses (3 kOhm): no charging'
SETUP = dict(cable_ohms=3000)


async def run(sim):
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.PP_INVALID, 2)
    await sim.sleep(20)
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    sim.board.pp.cable_ohms = CABLE_20A  # the user swaps in a good cable
    await sim.until(lambda: sim.board.contactor.actual, 10, "charging with the good cable")
    sim.expect(sim.board.cp.duty == pwm.duty_for(160), "16 A (config) offered")
    sim.allow_open_under_load = True
    await unplug_and_idle(sim)
