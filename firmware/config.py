"""Charger configuration: the embedded defaults and validated overrides.

A board's ``config.json`` (in its persistent ``fs_root``) or the caller may override any
key; unknown keys and values of the wrong type or range are rejected with a clear error
rather than silently used.
"""

DEFAULTS = {
    "max_current_a": 16,  # what the installation's supply and breaker allow
    "phases": 3,
    "nominal_voltage_v": 230,
    "tethered": False,  # True: fixed cable, no PP resistor, no lock
    "tethered_cable_a": 32,
    "ventilation": False,  # the site can ventilate: state D may charge
    "auth": "autostart",  # "autostart" or "external" (RFID, app, OCPP)
    "rcd_self_test": True,  # test the RCD module before each session
    "cp_period_ms": 10,
    "meter_period_ms": 250,
    "checkpoint_s": 60,  # how often a running session's energy is persisted
    "ocpp_url": "",  # ws(s)://host:port/path/<chargePointId>; "" = no OCPP client
}

_RANGES = {
    "max_current_a": (6, 80),
    "phases": (1, 3),
    "nominal_voltage_v": (100, 480),
    "tethered_cable_a": (6, 80),
    "cp_period_ms": (5, 50),
    "meter_period_ms": (50, 5000),
    "checkpoint_s": (1, 3600),
}
_CHOICES = {"auth": ("autostart", "external")}


class ConfigError(ValueError):
    pass


def make(overrides=None):
    """Defaults with ``overrides`` applied; raises ConfigError on a bad key or value."""
    cfg = dict(DEFAULTS)
    if not overrides:
        return cfg
    for key, value in overrides.items():
        if key not in DEFAULTS:
            raise ConfigError("unknown config key %r" % key)
        want = type(DEFAULTS[key])
        if want is int and type(value) is bool or type(value) is not want:
            raise ConfigError("%s must be %s" % (key, want.__name__))
        if key in _RANGES:
            lo, hi = _RANGES[key]
            if not lo <= value <= hi:
                raise ConfigError("%s=%r outside %d..%d" % (key, value, lo, hi))
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError("%s must be one of %s" % (key, ", ".join(_CHOICES[key])))
        cfg[key] = value
    return cfg
