"""CP monitor: classification, hysteresis, debouncing, diode and ADC checks, through the
simulated board's electrical model."""
from boards.sim import electrical as el
from boards.sim.board import World
from firmware.iec61851 import pilot as pm
from firmware.iec61851 import states


def _world():
    w = World("build/test-pilot")
    w.board.cp.noise_codes = 2
    return w


def _settle(mon, n=5):
    for _ in range(n):
        mon.measure()
    return mon.state


def test_line_voltages_of_the_standard():
    # the model must put the vehicle's states at the standard's nominal levels
    assert abs(el.line_mv(12000, el.R_B, True) - 9000) < 150
    assert abs(el.line_mv(12000, el.R_C, True) - 6000) < 150
    assert abs(el.line_mv(12000, el.R_D, True) - 3000) < 150
    assert el.line_mv(-12000, el.R_B, True) == -12000  # diode blocks
    assert el.line_mv(-12000, el.R_B, False) > -9500  # no diode: the resistor loads it


def test_states_a_to_d():
    w = _world()
    mon = pm.PilotMonitor(w.board.cp)
    assert _settle(mon) == states.A
    w.ev.plug()
    assert _settle(mon) == states.B
    w.ev.s2 = True
    assert _settle(mon) == states.C
    w.ev.ventilation = True
    assert _settle(mon) == states.D
    w.ev.cp_short = True
    assert _settle(mon) == states.E
    assert mon.error == pm.OK


def test_debounce_needs_consecutive_measurements():
    w = _world()
    mon = pm.PilotMonitor(w.board.cp, debounce=3)
    _settle(mon)
    w.ev.plug()
    mon.measure()
    mon.measure()
    assert mon.state == states.A  # two readings are not enough
    mon.measure()
    assert mon.state == states.B


def test_hysteresis_keeps_state_on_a_band_edge():
    w = _world()
    cp = w.board.cp
    mon = pm.PilotMonitor(cp)
    w.ev.plug()
    _settle(mon)
    assert mon.state == states.B
    # 10.2 V: outside B's entry band (8..10 V) but inside its keep band
    cp.stuck_code = el.to_code(10200)
    assert _settle(mon) == states.B
    # 10.6 V would not enter B from A either: between bands, the last state holds
    cp.stuck_code = el.to_code(10600)
    assert _settle(mon) == states.B
    assert mon.error == pm.ERR_LEVEL  # but persisting between bands is reported


def test_spikes_are_rejected():
    w = _world()
    cp = w.board.cp
    cp.spike_per_mille = 150
    mon = pm.PilotMonitor(cp)
    w.ev.plug()
    seen = set()
    for _ in range(300):
        seen.add(mon.measure())
    assert seen <= {states.UNKNOWN, states.A, states.B}, seen
    assert mon.state == states.B
    assert mon.spikes > 0


def test_missing_diode_detected_under_pwm_only():
    w = _world()
    cp = w.board.cp
    w.ev.diode = False
    w.ev.plug()
    mon = pm.PilotMonitor(cp)
    cp.set_duty(1000)  # steady +12 V: no negative plateau to check
    _settle(mon)
    assert mon.error == pm.OK
    cp.set_duty(266)
    _settle(mon)
    assert mon.error == pm.ERR_DIODE


def test_saturated_adc_is_an_error_not_a_state():
    w = _world()
    cp = w.board.cp
    mon = pm.PilotMonitor(cp)
    w.ev.plug()
    _settle(mon)
    cp.stuck_code = 4095
    _settle(mon)
    assert mon.error == pm.ERR_ADC
    assert mon.state == states.B  # nothing invented from a broken reading
    cp.stuck_code = 0
    _settle(mon)
    assert mon.error == pm.ERR_ADC


def test_state_f_when_the_evse_drives_minus_12():
    w = _world()
    cp = w.board.cp
    mon = pm.PilotMonitor(cp)
    w.ev.plug()
    cp.set_duty(0)
    assert _settle(mon) == states.F
