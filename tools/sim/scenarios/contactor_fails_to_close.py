"""Scenario: contactor_fails_to_close."""
from firmware.iec61851 import faults
from tools.sim.scenarios import expect_safe, wait_fault

DESCRIPTION = 'the coil is broken: the mirror never follows, fault'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    sim.board.contactor.coil_broken = True
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.CONTACTOR, 5)
    await sim.sleep(1)
    expect_safe(sim)
    sim.expect(not sim.board.contactor.commanded, "coil released")
