from firmware import config, events
from tests.common.support import raises


def test_defaults_and_overrides():
    cfg = config.make({"max_current_a": 32, "auth": "external"})
    assert cfg["max_current_a"] == 32 and cfg["auth"] == "external" and cfg["phases"] == 3


def test_bad_config_is_refused_clearly():
    e = raises(config.ConfigError, config.make, {"max_current_a": 5})
    assert "max_current_a" in str(e)
    raises(config.ConfigError, config.make, {"max_curent_a": 16})
    raises(config.ConfigError, config.make, {"max_current_a": "16"})
    raises(config.ConfigError, config.make, {"tethered": 1})
    raises(config.ConfigError, config.make, {"auth": "maybe"})


def test_bus_fans_out_in_order():
    bus = events.Bus()
    got = []
    bus.subscribe(lambda k, a: got.append(("1", k, a)))
    bus.subscribe(lambda k, a: got.append(("2", k, a)))
    bus.emit(events.PLUGGED, 32)
    assert got == [("1", events.PLUGGED, 32), ("2", events.PLUGGED, 32)]
    assert events.NAMES[events.SESSION_ENDED] == "session_ended"
