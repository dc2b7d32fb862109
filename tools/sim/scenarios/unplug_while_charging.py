"""Scenario: unplug_while_charging."""
from firmware.iec61851 import charger as chg
from tools.sim.scenarios import charge_for, expect_record, plug_and_charge

DESCRIPTION = 'the plug is pulled under load: open at once, session closed'
SETUP = dict(ev={"target_wh": 100000}, allow_open_under_load=True)


async def run(sim):
    await plug_and_charge(sim)
    await charge_for(sim, 120)
    sim.ev.unplug()
    took = await sim.until(lambda: not sim.board.contactor.commanded, 1, "contactor commanded open")
    sim.expect(took is not None and took <= 0.1, "open within 100 ms")
    await sim.until(lambda: sim.charger.state == chg.IDLE, 1, "idle")
    last = expect_record(sim, "EVDisconnected")
    sim.expect(last is not None and last.delivered_wh() > 300, "energy recorded")
