"""Scenario: cable_13a."""
from firmware.iec61851 import pwm
from tools.sim.scenarios import CABLE_13A, contactor_opens, plug_and_charge, unplug_and_idle

DESCRIPTION = 'a 13 A cable caps the offer below the configuration'
SETUP = dict(cfg={"max_current_a": 32}, ev={"max_current_a": 32, "target_wh": 500}, cable_ohms=CABLE_13A)


async def run(sim):
    await plug_and_charge(sim)
    sim.expect(sim.charger.cable_a == 13, "13 A cable recognised")
    sim.expect(sim.board.cp.duty == pwm.duty_for(130), "13 A offered (duty %d)" % sim.board.cp.duty)
    await sim.until(lambda: 12900 <= sim.ev.current_ma <= 13000, 5, "car draws 13 A")
    await sim.until(sim.ev.full, 600, "car full")
    await contactor_opens(sim, 3, "contactor opens when the car stops")
    await unplug_and_idle(sim)
