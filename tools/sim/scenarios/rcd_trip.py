"""Scenario: rcd_trip."""
from firmware.iec61851 import faults
from tools.sim.scenarios import (
    charge_for, contactor_opens, expect_fault, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = 'residual DC current while charging: open at once, F, locked out until unplug'
SETUP = dict(ev={"target_wh": 100000}, allow_open_under_load=True)


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 30)
    sim.board.rcd.inject_residual(True)
    took = await contactor_opens(sim, 1, "contactor open")
    sim.expect(took is not None and took <= 0.1, "open within 100 ms (%s s)" % took)
    expect_fault(sim, faults.RCD)
    await sim.sleep(1)
    sim.expect(sim.board.cp.duty == 0, "state F")
    sim.board.rcd.inject_residual(False)
    await sim.sleep(30)
    sim.expect(sim.charger.fault == faults.RCD and not sim.board.contactor.actual, "locked out while plugged")
    await unplug_and_idle(sim)
    sim.expect(sim.charger.fault == faults.NONE, "cleared by unplugging")
    sim.ev.plug()
    await sim.until(lambda: sim.board.contactor.actual, 5, "next session charges")
    sim.expect(sim.session.current is not None and sim.session.current.sid == 2, "a new session")
