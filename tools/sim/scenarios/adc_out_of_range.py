"""Scenario: adc_out_of_range."""
from firmware.iec61851 import faults
from tools.sim.scenarios import (
    charge_for, contactor_opens, expect_safe, plug_and_charge, unplug_and_idle, wait_fault,
)

DESCRIPTION = 'the CP front end saturates while charging: stop safely, recover'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 10)
    sim.board.cp.stuck_code = 4095
    await wait_fault(sim, faults.CP_ADC, 1)
    await contactor_opens(sim, 6, "contactor opens once the current is low")
    await sim.sleep(5)
    expect_safe(sim)
    sim.board.cp.stuck_code = None
    await sim.until(lambda: sim.charger.fault == faults.NONE, 10, "fault clears with valid readings")
    await sim.until(lambda: sim.board.contactor.actual, 10, "charging resumes")
    sim.allow_open_under_load = True
    await unplug_and_idle(sim)
