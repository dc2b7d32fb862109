"""Scenario: welded."""
from firmware.iec61851 import faults
from tools.sim.scenarios import plug_and_charge, wait_fault

DESCRIPTION = 'the contactor welds: detected on opening, F, connector stays locked'
SETUP = dict(ev={"target_wh": 300})


async def run(sim):
    await plug_and_charge(sim)
    sim.board.contactor.welded = True
    await sim.until(sim.ev.full, 600, "car full")
    await wait_fault(sim, faults.WELDED, 3)
    await sim.sleep(5)
    sim.expect(sim.board.cp.duty == 0, "state F")
    sim.expect(sim.board.lock.actual, "connector stays locked while the contacts are live")
    sim.ev.wants = True
    sim.ev.target_wh = 10 ** 9
    await sim.sleep(20)
    sim.expect(sim.ev.current_ma == 0, "the car does not draw in F")
