"""Scenario: limit_change."""
from firmware.iec61851 import faults, pwm
from tools.sim.scenarios import CABLE_32A, charge_for, plug_and_charge, unplug_and_idle

DESCRIPTION = 'an external limit changes while charging; the PWM follows, the car too'
SETUP = dict(cfg={"max_current_a": 32}, ev={"max_current_a": 32, "target_wh": 100000}, cable_ohms=CABLE_32A)


async def run(sim):
    await plug_and_charge(sim)
    sim.expect(sim.board.cp.duty == pwm.duty_for(320), "32 A offered")
    await charge_for(sim, 30)
    sim.session.set_limit_a(10)
    await sim.sleep(0.05)
    sim.expect(sim.board.cp.duty == pwm.duty_for(100), "10 A on the PWM at once (%d)" % sim.board.cp.duty)
    await sim.until(lambda: sim.ev.current_ma <= 10000, 5, "car at 10 A within the standard's 5 s")
    await charge_for(sim, 30)
    sim.session.set_limit_a(50)  # above the configuration: the configuration wins
    await sim.sleep(0.05)
    sim.expect(sim.board.cp.duty == pwm.duty_for(320), "back to 32 A (config)")
    sim.session.set_limit_a(None)
    await charge_for(sim, 20)
    sim.expect(sim.charger.fault == faults.NONE, "no fault")
    await unplug_and_idle(sim)
    sim.allow_open_under_load = True  # unplugged under load on purpose
