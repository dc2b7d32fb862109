"""Scenario: lock_jammed."""
from firmware.iec61851 import faults
from tools.sim.scenarios import unplug_and_idle, wait_fault

DESCRIPTION = 'the connector lock jams: no charging, fault'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    sim.board.lock.jammed = True
    await sim.sleep(2)
    sim.ev.plug()
    await wait_fault(sim, faults.LOCK, 5)
    await sim.sleep(5)
    sim.expect(sim.board.contactor.operations == 0, "contactor never closed")
    await unplug_and_idle(sim)
