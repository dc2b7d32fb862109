"""The simulator's scenarios: a whole basic AC session and every fault the firmware must
survive, each with the outcome it asserts. Common subset (runs under both runtimes).

One module per scenario, imported only when it runs, so a MicroPython run holds the
firmware and one scenario, not all of them. ``DESCRIPTION`` says what it shows;
``SETUP`` holds the firmware config overrides (``cfg``), the vehicle's parameters
(``ev``), the cable (``cable_ohms``; None for a cable without coding resistor),
``tethered``, ``allow_open_under_load`` and ``heap_kb`` (the MicroPython heap it needs
at least, when more than the run's ``--heap``); ``run(sim)`` is the script.

The OCPP scenarios (``OCPP_NAMES``) run in real time against a central system (see
tools/sim/ocpplink.py): SETUP has ``realtime``, ``ocpp`` (the client's configuration
overrides), ``check_backend(records, result)`` (the failures found in what the backend
recorded, ``Csms.records()``, given the ``sim.result`` the script left) and ``in_all``
(part of ``--all``: on CPython always, on MicroPython with ``--ocpp``).
"""
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults


# one string, not a tuple: every name in a tuple would be interned on the device
_NAMES = (
    "basic_ac limit_change cable_13a tethered pause_below_6a ev_pause_resume "
    "auth_external no_diode cp_short state_d_no_ventilation state_d_ventilation "
    "cp_noise adc_out_of_range rcd_trip welded contactor_fails_to_close overcurrent "
    "unplug_while_charging power_loss pp_open pp_invalid pp_changed lock_jammed "
    "rcd_selftest_fails driver_error slac slac_lost_frames slac_two_cars "
)
NAMES = _NAMES.split()
OCPP_NAMES = "ocpp_session idle".split()  # real time, a central system as peer


def find(name):
    """(description, setup, script) of scenario ``name``, or None."""
    if name not in NAMES and name not in OCPP_NAMES:
        return None
    m = __import__("tools.sim.scenarios." + name, None, None, ("x",))
    return m.DESCRIPTION, m.SETUP, m.run


# ---- steps and checks the scenarios share ----------------------------------------------

CABLE_13A = 1500
CABLE_20A = 680
CABLE_32A = 220


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


