"""The simulator's scenarios: a whole basic AC session and every fault the firmware must
survive, each with the outcome it asserts. Common subset (runs under both runtimes).

One module per scenario, imported only when it runs, so a MicroPython run holds the
firmware and one scenario, not all of them. ``DESCRIPTION`` says what it shows;
``SETUP`` holds the firmware config overrides (``cfg``), the vehicle's parameters
(``ev``), the cable (``cable_ohms``; None for a cable without coding resistor),
``tethered`` and ``allow_open_under_load``; ``run(sim)`` is the script.
"""

NAMES = (
    "basic_ac",
    "limit_change",
    "cable_13a",
    "tethered",
    "pause_below_6a",
    "ev_pause_resume",
    "auth_external",
    "no_diode",
    "cp_short",
    "state_d_no_ventilation",
    "state_d_ventilation",
    "cp_noise",
    "adc_out_of_range",
    "rcd_trip",
    "welded",
    "contactor_fails_to_close",
    "overcurrent",
    "unplug_while_charging",
    "power_loss",
    "pp_open",
    "pp_invalid",
    "pp_changed",
    "lock_jammed",
    "rcd_selftest_fails",
)


def find(name):
    """(description, setup, script) of scenario ``name``, or None."""
    if name not in NAMES:
        return None
    m = __import__("tools.sim.scenarios." + name, None, None, ("x",))
    return m.DESCRIPTION, m.SETUP, m.run
