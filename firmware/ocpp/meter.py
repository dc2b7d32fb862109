"""Sampled values for MeterValues from the board's meter interface."""

_UNITS = {"Energy.Active.Import.Register": "Wh", "Power.Active.Import": "W",
          "Current.Import": "A", "Voltage": "V", "Current.Offered": "A"}
_PHASES = ("L1", "L2", "L3")
_PHASES_N = ("L1-N", "L2-N", "L3-N")


def _milli(v):
    return "%d.%03d" % (v // 1000, v % 1000) if v >= 0 else "-" + _milli(-v)


def sampled(app, measurands, context):
    """The ``sampledValue`` list for ``measurands`` (names from the configuration)."""
    m = app.board.meter
    phases = app.cfg["phases"]
    out = []
    for name in measurands:
        base = {"measurand": name, "unit": _UNITS.get(name, "")}
        if context != "Sample.Periodic":
            base["context"] = context
        if name == "Energy.Active.Import.Register":
            out.append(_sv(base, str(m.energy_wh)))
        elif name == "Power.Active.Import":
            out.append(_sv(base, str(m.power_w)))
        elif name == "Current.Offered":
            da = app.charger.offer_da
            out.append(_sv(base, "%d.%d" % (da // 10, da % 10)))
        elif name in ("Current.Import", "Voltage"):
            src = m.current_ma if name == "Current.Import" else m.voltage_mv
            names = _PHASES if name == "Current.Import" else _PHASES_N
            for k in range(phases):
                v = _sv(base, _milli(src[k]))
                v["phase"] = names[k]
                out.append(v)
    return out


def _sv(base, value):
    v = dict(base)
    v["value"] = value
    return v
