"""Scenario: rcd_selftest_fails."""
from firmware.iec61851 import faults
from tools.sim.scenarios import wait_fault

DESCRIPTION = 'the RCD module fails its self-test at plug-in: no charging'
SETUP = {}


async def run(sim):
    sim.board.rcd.broken = True
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.RCD_SELFTEST, 2)
    await sim.sleep(5)
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    sim.expect(sim.board.rcd.tests == 1, "one self-test ran")
