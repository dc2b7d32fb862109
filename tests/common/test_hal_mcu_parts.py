"""firmware/hal/mcu.py: PP, contactor, RCD, lock and LEDs against the fake ``machine``."""
import micropython

from tests.common import fake_machine as fm

fm.install()  # before anything imports machine

from lib import clock  # noqa: E402
from firmware.hal import mcu  # noqa: E402
from firmware import hal  # noqa: E402
from firmware.hal import OPEN  # noqa: E402

def test_proximity_ohms():
    fm.clear()
    pp = mcu.AdcProximity(39, 1000, adc_atten=fm.ADC.ATTN_11DB)
    adc = fm.adcs[39]
    assert adc.att == fm.ADC.ATTN_11DB
    for ohms in (100, 220, 680, 1500):
        adc.value16 = (4095 * ohms // (1000 + ohms)) << 4
        got = pp.ohms()
        assert abs(got - ohms) <= ohms // 50 + 2, (ohms, got)
    adc.value16 = 0xFFF0
    assert pp.ohms() == OPEN


def test_contactor_and_mirror():
    fm.clear()
    c = mcu.GpioContactor(26, 35, mirror_closed_level=1)
    coil = fm.pins[26]
    mirror = fm.pins[35]
    assert coil.mode == fm.Pin.OUT and coil.level == 0 and mirror.mode == fm.Pin.IN
    assert c.has_feedback
    c.set(True)
    assert coil.level == 1 and c.commanded
    mirror.level = 0
    assert not c.feedback()  # welded open / coil broken: the mirror disagrees
    mirror.level = 1
    assert c.feedback()
    c.set(False)
    assert coil.level == 0 and not c.commanded and c.feedback()  # welded contacts show up
    c2 = mcu.GpioContactor(27)
    assert not c2.has_feedback
    c2.set(True)
    assert c2.feedback() and fm.pins[27].level == 1


def test_rcd():
    fm.clear()
    r = mcu.GpioRcd(32, 33, fault_level=0, fault_pull=fm.Pin.PULL_UP)
    fault = fm.pins[32]
    test = fm.pins[33]
    assert fault.pull == fm.Pin.PULL_UP and test.level == 0
    fault.level = 1
    assert not r.tripped()
    r.set_test(True)
    assert test.level == 1
    fault.level = 0
    assert r.tripped()
    r.set_test(False)
    assert test.level == 0


# --------------------------------------------------------------------------- lock


def _never_both_high(a, b):
    la = lb = 0
    for pin, level in fm.events:
        if pin == a:
            la = level
        elif pin == b:
            lb = level
        assert not (la and lb), "H-bridge shoot-through"


def test_lock_pulse_ended_by_timer():
    fm.clear()
    lk = mcu.MotorLock(27, 4, 34, pulse_ms=300, locked_level=0, timer_id=0)
    a, b, fb = fm.pins[27], fm.pins[4], fm.pins[34]
    tim = fm.timers[-1]
    lk.drive(True)
    assert a.level == 1 and b.level == 0 and lk.running
    assert tim.active and tim.mode == fm.Timer.ONE_SHOT and tim.period == 300
    tim.fire()
    assert a.level == 0 and b.level == 0 and not lk.running
    fb.level = 0
    assert lk.locked()
    lk.drive(False)
    assert a.level == 0 and b.level == 1
    lk.drive(True)  # reversing mid-pulse
    assert a.level == 1 and b.level == 0
    tim.fire()
    fb.level = 1
    assert not lk.locked()
    _never_both_high(27, 4)


def test_lock_pulse_ended_by_deadline():
    fm.clear()
    lk = mcu.MotorLock(27, 4, 34, pulse_ms=200)
    a = fm.pins[27]
    lk.drive(True)
    lk.locked()
    assert a.level == 1  # still inside the pulse
    clock.advance(250)
    try:
        lk.locked()
        assert a.level == 0 and not lk.running
    finally:
        clock.advance(-250)


# --------------------------------------------------------------------------- LEDs


def test_gpio_led_patterns():
    fm.clear()
    led = mcu.GpioLed(2, timer_id=1)
    pin = fm.pins[2]
    tim = fm.timers[-1]
    assert tim.mode == fm.Timer.PERIODIC and tim.period == 125
    led.show(hal.LED_IDLE)
    seen = []
    for _ in range(8):
        tim.fire()
        seen.append(pin.level)
    assert seen == [1] * 8
    led.show(hal.LED_CHARGING)
    seen = []
    for _ in range(8):
        tim.fire()
        seen.append(pin.level)
    assert sum(seen) == 4 and seen != [1, 1, 1, 1, 0, 0, 0, 0]  # fast blink
    led.show(hal.LED_OFF)
    tim.fire()
    assert pin.level == 0 and led.mode == hal.LED_OFF


def test_gpio_led_without_timer_active_low():
    fm.clear()
    led = mcu.GpioLed(2, active_level=0)
    pin = fm.pins[2]
    assert pin.level == 1  # off
    led.show(hal.LED_PLUGGED)
    assert pin.level == 0
    led.show(hal.LED_OFF)
    assert pin.level == 1


class _FakeNeoPixel:
    def __init__(self, pin, n):
        self.pin = pin
        self.buf = bytearray(3 * n)
        self.writes = 0

    def write(self):
        self.writes += 1


class _neopixel:
    NeoPixel = _FakeNeoPixel


def test_neopixel_led_colours():
    import sys

    fm.clear()
    sys.modules["neopixel"] = _neopixel
    try:
        led = mcu.NeoPixelLed(48, timer_id=1)
    finally:
        del sys.modules["neopixel"]
    np = led._np
    tim = fm.timers[-1]
    led.show(hal.LED_FAULT)
    on = bytes(np.buf)
    assert on[1] > 0 and on[0] == 0 and on[2] == 0  # GRB order: red only
    led.show(hal.LED_IDLE)
    assert bytes(np.buf) == bytes((0x30, 0, 0))  # green
    led.show(hal.LED_PLUGGED)
    states = set()
    for _ in range(8):
        tim.fire()
        states.add(bytes(np.buf))
    assert states == {bytes(3), bytes((0x10, 0, 0x30))}  # blinking cyan-blue
    micropython.heap_lock()
    try:
        tim.fire()
    finally:
        micropython.heap_unlock()


def test_lazy_names():
    assert mcu.PwmPilot is __import__("firmware.hal.mcu_pilot", None, None, ("x",)).PwmPilot
    assert mcu.Sdm630Meter.__name__ == "Sdm630Meter"
    try:
        mcu.NoSuchPart
    except AttributeError:
        pass
    else:
        raise AssertionError("no AttributeError")
