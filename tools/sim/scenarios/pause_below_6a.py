"""Scenario: pause_below_6a."""
from firmware.iec61851 import charger as chg
from firmware.iec61851 import pwm, states
from tools.sim.scenarios import (
    charge_for, contactor_opens, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'the limit drops below 6 A: PWM off, the car pauses, then resumes'
SETUP = dict(ev={"target_wh": 100000})


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 20)
    sim.session.set_limit_a(4)
    await sim.sleep(0.05)
    sim.expect(sim.board.cp.duty == 1000, "offer withdrawn (X1)")
    await contactor_opens(sim, 6, "contactor opens within 6 s")
    await sim.until(lambda: sim.charger.state == chg.PAUSED, 1, "paused")
    await sim.until(lambda: sim.charger.cp_state == states.B, 3, "car back in B")
    await sim.sleep(60)
    sim.expect(not sim.board.contactor.actual, "stays open while paused")
    sim.session.set_limit_a(10)
    await sim.until(lambda: sim.board.contactor.actual, 5, "charging resumes at 10 A")
    sim.expect(sim.board.cp.duty == pwm.duty_for(100), "10 A offered")
    sim.expect(sim.session.current is not None and sim.session.current.sid == 1, "same session throughout")
    await charge_for(sim, 10)
    sim.allow_open_under_load = True
    await unplug_and_idle(sim)
