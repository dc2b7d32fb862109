"""Scenario: auth_external."""
from firmware.iec61851 import charger as chg
from tools.sim.scenarios import charge_for, contactor_opens, expect_record, unplug_and_idle

DESCRIPTION = 'external authorisation: nothing offered until authorised; remote stop'
SETUP = dict(cfg={"auth": "external"}, ev={"target_wh": 100000})


async def run(sim):
    await sim.sleep(2)
    sim.ev.plug()
    await sim.sleep(30)
    sim.expect(sim.charger.state == chg.CONNECTED, "waiting for authorisation")
    sim.expect(sim.board.cp.duty == 1000 and not sim.board.contactor.actual, "nothing offered")
    sim.session.authorize("04A2B3C4")
    await sim.until(lambda: sim.board.contactor.actual, 5, "charging after authorisation")
    await charge_for(sim, 60)
    sim.session.request_stop("Remote")
    await contactor_opens(sim, 6, "contactor opens after the stop request")
    sim.expect(sim.charger.state == chg.FINISHED, "finished")
    await sim.until(lambda: not sim.board.lock.actual, 1, "unlocked for the user")
    await sim.sleep(10)
    await unplug_and_idle(sim)
    last = expect_record(sim, "Remote")
    sim.expect(last is not None and last.id_tag == "04A2B3C4", "id tag recorded")
