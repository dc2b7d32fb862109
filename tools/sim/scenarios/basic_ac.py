"""Scenario: basic_ac."""
from firmware.iec61851 import charger as chg
from firmware.iec61851 import pwm
from tools.sim.scenarios import (
    CABLE_32A, contactor_opens, expect_record, plug_and_charge, unplug_and_idle,
)

DESCRIPTION = "plug in, charge 16 A three-phase to the car's target, stop, unplug"
SETUP = dict(cfg={"max_current_a": 16}, ev={"max_current_a": 32, "target_wh": 2500}, cable_ohms=CABLE_32A)


async def run(sim):
    took = await plug_and_charge(sim)
    sim.expect(sim.board.cp.duty == pwm.duty_for(160), "16 A offered (duty %d)" % sim.board.cp.duty)
    sim.expect(took is not None and took < 3.5, "contactor closed within 3 s of plug-in + car delay")
    sim.expect(sim.board.lock.actual, "connector locked while charging")
    await sim.until(sim.ev.full, 3600, "the car reaches its target")
    await contactor_opens(sim, 3, "contactor opens when the car stops")
    sim.expect(sim.charger.state == chg.READY, "still offering after the car stopped")
    await sim.sleep(20)
    await unplug_and_idle(sim)
    last = expect_record(sim, "EVDisconnected")
    if last:
        got = last.delivered_wh()
        want = sim.ev.received_wh()
        sim.note("delivered %d Wh, car received %d Wh" % (got, want))
        sim.expect(abs(got - want) <= want // 100 + 2, "metered energy matches the car's (%d/%d)" % (got, want))
        sim.expect(15900 <= sim.ev.max_seen_ma <= 16000, "car saw 16 A (%d mA)" % sim.ev.max_seen_ma)
    await sim.until(lambda: not sim.board.lock.actual, 1, "connector unlocked after the session")
    sim.expect(sim.app.record.open is None, "no session left open in the log")
