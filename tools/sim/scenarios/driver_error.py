"""Scenario: driver_error."""
from firmware.iec61851 import faults
from tools.sim.scenarios import expect_fault, plug_and_charge, unplug_and_idle

DESCRIPTION = 'the meter driver raises while charging: contactor open at once, F, recovers after unplug'
SETUP = dict(ev={"target_wh": 100000}, allow_open_under_load=True)


async def run(sim):
    await plug_and_charge(sim)
    await sim.sleep(10)
    meter = sim.board.meter
    update = meter.update

    def broken():
        raise OSError(5)  # EIO from the UART, say

    meter.update = broken
    took = await sim.until(lambda: not sim.board.contactor.actual, 1, "contactor open")
    sim.expect(took is not None and took <= 0.5, "open within 500 ms")
    expect_fault(sim, faults.INTERNAL)
    await sim.sleep(5)
    sim.expect(sim.board.cp.duty == 0 and not sim.board.contactor.commanded, "state F, contactor released")
    # the meter is read every 250 ms: every read fails and is caught
    sim.expect(sim.app.errors >= 18, "the failing step kept being retried (%d)" % sim.app.errors)
    meter.update = update
    await sim.sleep(5)  # F stays for its hold time after the last failure
    sim.expect(sim.charger.fault == faults.INTERNAL, "latched while plugged")
    await unplug_and_idle(sim)
    sim.expect(sim.charger.fault == faults.NONE, "cleared by the unplug once the driver works")
