"""Sampled values for MeterValues from the board's meter interface.

What a ``firmware.hal.Meter`` reports (the import register, total active power, current
and voltage per phase) plus the offer on the pilot (``Current.Offered``); these are
``config.MEASURANDS``, the only names ChangeConfiguration accepts for the measurand
lists (a test checks both agree). Nothing else is measured here: no temperature, no
state of charge, no export or reactive registers, no frequency.
"""

ENERGY = "Energy.Active.Import.Register"
_UNITS = {ENERGY: "Wh", "Power.Active.Import": "W", "Current.Import": "A", "Voltage": "V",
          "Current.Offered": "A"}
_PHASES = ("L1", "L2", "L3")
_PHASES_N = ("L1-N", "L2-N", "L3-N")


def _milli(v):
    return "%d.%03d" % (v // 1000, v % 1000) if v >= 0 else "-" + _milli(-v)


def sampled(app, measurands, context):
    """The ``sampledValue`` list for ``measurands`` (names from the configuration;
    names this meter does not have are left out)."""
    m = app.board.meter
    phases = app.cfg["phases"]
    out = []
    for name in measurands:
        unit = _UNITS.get(name)
        if unit is None:
            continue
        base = {"measurand": name, "unit": unit}
        if context != "Sample.Periodic":
            base["context"] = context
        if name == ENERGY:
            out.append(_sv(base, str(m.energy_wh)))
        elif name == "Power.Active.Import":
            out.append(_sv(base, str(m.power_w)))
        elif name == "Current.Offered":
            da = app.charger.offer_da
            out.append(_sv(base, "%d.%d" % (da // 10, da % 10)))
        else:  # Current.Import, Voltage: one value per phase
            src = m.current_ma if name == "Current.Import" else m.voltage_mv
            names = _PHASES if name == "Current.Import" else _PHASES_N
            for k in range(phases):
                v = _sv(base, _milli(src[k]))
                v["phase"] = names[k]
                out.append(v)
    return out


def energy(wh, context):
    """The import register alone (a reading persisted earlier, not the meter now)."""
    return [{"measurand": ENERGY, "unit": "Wh", "context": context, "value": str(wh)}]


def _sv(base, value):
    v = dict(base)
    v["value"] = value
    return v
