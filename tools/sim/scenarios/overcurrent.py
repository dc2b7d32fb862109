"""Scenario: overcurrent."""
from firmware.iec61851 import faults
from tools.sim.scenarios import (
    contactor_opens, expect_safe, plug_and_charge, unplug_and_idle, wait_fault,
)

DESCRIPTION = 'the car draws 4 A more than offered: fault after its grace time'
SETUP = dict(ev={"target_wh": 100000, "overdraw_a": 4})


async def run(sim):
    await plug_and_charge(sim)
    took = await wait_fault(sim, faults.OVERCURRENT, 15)
    sim.expect(took is not None and took >= 5, "the car gets its reaction time first")
    await contactor_opens(sim, 6, "contactor opens")
    await sim.sleep(5)
    expect_safe(sim)
    await unplug_and_idle(sim)
