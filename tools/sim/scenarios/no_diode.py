"""Scenario: no_diode."""
from firmware.iec61851 import faults
from tools.sim.scenarios import unplug_and_idle, wait_fault

DESCRIPTION = "the car's diode is missing: state F, the contactor never closes"
SETUP = dict(ev={"diode": False})


async def run(sim):
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.DIODE, 5)
    await sim.sleep(2)
    sim.expect(sim.board.cp.duty == 0, "state F shown")
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    await sim.sleep(10)
    sim.expect(sim.charger.fault == faults.DIODE, "latched while plugged")
    await unplug_and_idle(sim)
    sim.expect(sim.charger.fault == faults.NONE, "cleared by unplugging")
