"""Steps and checks the scenarios share."""
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults

CABLE_13A = 1500
CABLE_20A = 680
CABLE_32A = 220
CABLE_63A = 100


async def plug_and_charge(sim, within_s=5):
    await sim.sleep(2)
    sim.ev.plug()
    return await sim.until(lambda: sim.charger.state == chg.CHARGING and sim.board.contactor.actual,
                           within_s, "charging with the contactor closed")


async def charge_for(sim, seconds):
    await sim.sleep(seconds)
    sim.expect(sim.charger.state == chg.CHARGING, "still charging after %ss" % seconds)


async def unplug_and_idle(sim):
    sim.ev.unplug()
    await sim.until(lambda: sim.charger.state == chg.IDLE, 1, "idle after unplug")


def expect_fault(sim, code):
    sim.expect(sim.charger.fault == code, "fault %s (have %s)" % (faults.name(code), faults.name(sim.charger.fault)))


def expect_safe(sim):
    """The safe state: contactor open (really), nothing offered."""
    sim.expect(not sim.board.contactor.actual, "contactor open")
    sim.expect(sim.board.cp.duty in (0, 1000), "no PWM offered (duty %d)" % sim.board.cp.duty)


def expect_record(sim, reason):
    last = sim.session.last
    sim.expect(last is not None and last.stop_reason == reason,
               "session ended with %s (have %s)" % (reason, last.stop_reason if last else None))
    return last


async def wait_fault(sim, code, within_s):
    return await sim.until(lambda: sim.charger.fault == code, within_s, "fault " + faults.name(code))


async def contactor_opens(sim, within_s, what):
    return await sim.until(lambda: not sim.board.contactor.actual, within_s, what)


