"""Scenario: cp_short."""
from firmware.iec61851 import faults
from tools.sim.scenarios import (
    charge_for, contactor_opens, expect_fault, expect_safe, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'CP shorted to PE while charging (state E): contactor opens at once'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 10)
    sim.ev.cp_short = True
    took = await contactor_opens(sim, 1, "contactor open")
    sim.expect(took is not None and took <= 0.1, "open within 100 ms (%s s)" % took)
    expect_fault(sim, faults.CP_SHORT)
    expect_safe(sim)
    sim.ev.cp_short = False
    await sim.until(lambda: sim.charger.fault == faults.NONE, 10, "fault clears when the short is gone")
    await sim.until(lambda: sim.board.contactor.actual, 10, "charging resumes")
    sim.allow_open_under_load = True  # state E is an emergency: opening now beats waiting
    await unplug_and_idle(sim)
