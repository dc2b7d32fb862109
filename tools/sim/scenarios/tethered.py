"""Scenario: tethered."""
from firmware.iec61851 import pwm
from tools.sim.scenarios import (
    contactor_opens, expect_record, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'a tethered cable (no PP, no lock): the configured cable rating applies'
SETUP = dict(cfg={"max_current_a": 32, "tethered": True, "tethered_cable_a": 20},
          ev={"max_current_a": 32, "target_wh": 500}, tethered=True)


async def run(sim):
    await plug_and_charge(sim)
    sim.expect(sim.board.cp.duty == pwm.duty_for(200), "20 A offered")
    await sim.until(sim.ev.full, 600, "car full")
    await contactor_opens(sim, 3, "contactor opens")
    await unplug_and_idle(sim)
    expect_record(sim, "EVDisconnected")
