"""Scenario: pp_changed."""
from firmware.iec61851 import faults
from tools.sim.scenarios import (
    CABLE_13A, charge_for, contactor_opens, expect_fault, expect_safe, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'the cable coding changes while charging: open at once, latched'
SETUP = dict(ev={"target_wh": 100000}, allow_open_under_load=True)


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 10)
    sim.board.pp.cable_ohms = CABLE_13A
    took = await contactor_opens(sim, 1, "contactor open")
    sim.expect(took is not None and took <= 0.1, "open within 100 ms")
    expect_fault(sim, faults.PP_CHANGED)
    await sim.sleep(10)
    expect_safe(sim)
    await unplug_and_idle(sim)
