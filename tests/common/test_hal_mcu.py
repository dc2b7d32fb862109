"""firmware/hal/mcu_pilot.py: the CP samplers against the fake ``machine`` module.

The other parts of firmware/hal/mcu*.py are tested in test_hal_mcu_*.py (one module of
all of it is more than the capped unix-port heap compiles at once).
"""
from array import array

import micropython

from tests.common import fake_machine as fm

fm.install()  # before anything imports machine

from firmware.hal import mcu  # noqa: E402

mcu.set_us_clock(fm.clock.ticks_us, fm.clock.ticks_diff, fm.clock.ticks_add, fm.clock.sleep_us)

# CP codes (12-bit) of the ESP32 calibration: zero 1613, 8.8 mV per code
HI9 = 1613 + 9000000 // 8800  # state B plateau
LO = 1613 - 12000000 // 8800  # -12 V
MID = 1613  # 0 V: what a read during an edge sees


def _pilot(**kw):
    fm.clear()
    cp = mcu.PwmPilot(25, 36, 1613, 8800, **kw)
    return cp, fm.pwms[-1], fm.adcs[36]


def _line(pwm, hi, lo, rise_us=4, phase_us=137):
    """The CP voltage as codes: a 1 kHz square wave following the fake PWM's duty."""
    # one closed-over tuple: MicroPython allocates to call a closure with many cells
    cfg = (pwm, hi, lo, rise_us, phase_us)

    def src(t):
        pwm, hi, lo, rise_us, phase_us = cfg
        d = pwm.duty
        if d >= 65535:
            return hi << 4
        if d == 0:
            return lo << 4
        high_us = d * 1000 // 65535
        p = (t - phase_us) % 1000
        if p < rise_us or high_us <= p < high_us + rise_us:
            return MID << 4
        return (hi if p < high_us else lo) << 4

    return src


def _arrays(n):
    return array("H", [0] * n), array("H", [0] * n)


def test_duty_mapping():
    cp, pwm, _ = _pilot()
    assert pwm.duty == 65535 and pwm.freq() == 1000  # starts steady high
    for permille, expect in ((1000, 65535), (0, 0), (500, 32767), (53, 3473), (50, 3276), (1, 65)):
        cp.set_duty(permille)
        assert pwm.duty == expect, (permille, pwm.duty)
        assert cp.duty == permille
    cp.set_duty(1500)
    assert pwm.duty == 65535 and cp.duty == 1000
    cp.set_duty(-3)
    assert pwm.duty == 0 and cp.duty == 0


def test_duty_inverted_driver():
    cp, pwm, _ = _pilot(invert=True)
    assert pwm.duty == 0
    cp.set_duty(0)
    assert pwm.duty == 65535
    cp.set_duty(250)
    assert pwm.duty == 65535 - 16383


def test_sample_steady_reads_the_level():
    cp, pwm, adc = _pilot()
    adc.value16 = HI9 << 4
    adc.read_us = 15
    highs, lows = _arrays(4)
    assert cp.sample(highs, lows) == 4
    assert list(highs) == [HI9] * 4 and list(lows) == [HI9] * 4
    cp.set_duty(0)
    adc.value16 = LO << 4
    assert cp.sample(highs, lows) == 4
    assert list(lows) == [LO] * 4 and cp.steady


def test_sample_pwm_plateaus():
    for duty in (100, 500, 900, 250):
        cp, pwm, adc = _pilot()
        adc.read_us = 15
        adc.source = _line(pwm, HI9, LO)
        cp.set_duty(duty)
        highs, lows = _arrays(6)
        assert cp.sample(highs, lows) == 6, duty
        assert list(highs) == [HI9] * 6, (duty, list(highs))
        assert list(lows) == [LO] * 6, (duty, list(lows))
        assert not cp.steady


def test_sample_survives_preempted_reads():
    # every k-th read is delayed between its timestamp and the conversion, so its sample
    # lands anywhere: the window checks must throw such pairs away, and regular delays
    # that alias with the PWM must not pass for a steady line
    total = 0
    rejects = 0
    for stall_every in (11, 7, 5, 3):
        for stall_us in (100, 300, 700):
            cp, pwm, adc = _pilot()
            adc.read_us = 15
            adc.stall_every = stall_every
            adc.stall_us = stall_us
            adc.source = _line(pwm, HI9, LO)
            cp.set_duty(300)
            highs, lows = _arrays(8)
            got = cp.sample(highs, lows)
            key = (stall_every, stall_us)
            assert list(highs[:got]) == [HI9] * got, (key, list(highs[:got]))
            assert list(lows[:got]) == [LO] * got, (key, list(lows[:got]))
            assert not cp.steady, key
            total += got
            rejects += cp.rejects
    assert total >= 40 and rejects > 0


def test_sample_short_plateau_needs_a_fast_adc():
    cp, pwm, adc = _pilot()
    adc.source = _line(pwm, HI9, LO)
    cp.set_duty(50)  # 5 %: a 50 us plateau
    highs, lows = _arrays(4)
    adc.read_us = 5
    assert cp.sample(highs, lows) == 4
    assert list(highs) == [HI9] * 4 and list(lows) == [LO] * 4
    adc.read_us = 30  # two reads and the settle time do not fit: no pair, never a wrong one
    before = cp.rejects
    assert cp.sample(highs, lows) == 0
    assert cp.rejects > before


def test_sample_line_not_switching():
    cp, pwm, adc = _pilot()
    adc.read_us = 15
    adc.value16 = 1613 << 4  # state E: CP shorted to PE, 0 V whatever the PWM does
    cp.set_duty(500)
    highs, lows = _arrays(3)
    assert cp.sample(highs, lows) == 3
    assert cp.steady and list(highs) == [1613] * 3 and list(lows) == [1613] * 3


def test_sample_allocates_nothing():
    cp, pwm, adc = _pilot()
    adc.read_us = 15
    adc.source = _line(pwm, HI9, LO)
    cp.set_duty(500)
    highs, lows = _arrays(4)
    cp.sample(highs, lows)  # warm up
    micropython.heap_lock()
    try:
        got = cp.sample(highs, lows)
    finally:
        micropython.heap_unlock()
    assert got == 4 and list(highs) == [HI9] * 4


def _burst_wave(duty, hi, lo, rate_hz=50000, phase_us=333):
    cfg = (1000000 // rate_hz, duty, hi, lo, phase_us)

    def fill(buf):
        step, duty, hi, lo, phase_us = cfg
        high_us = duty * 1000 // 1000
        for i in range(len(buf)):
            p = (i * step + phase_us) % 1000
            if p < 4 or high_us <= p < high_us + 4:
                buf[i] = MID
            else:
                buf[i] = hi if p < high_us else lo

    return fill


def test_pairs_from_burst():
    thr = 1613 + 1500000 // 8800
    burst = array("H", [LO, LO, HI9, HI9, HI9, LO, LO, LO, LO, MID, HI9, LO, LO, MID, HI9, HI9, LO, LO, LO, HI9])
    highs, lows = _arrays(4)
    stats = [0, 0]
    got = mcu.pairs_from_burst(burst, len(burst), thr, highs, lows, 4, stats)
    # periods: plateau 2..4 (ok), 10 (one sample, too short), 14..15 (ok, low run closed at 19)
    assert got == 2 and stats == [4, 1]  # the edge at 19 opens an unfinished period
    assert list(highs[:2]) == [HI9, HI9] and list(lows[:2]) == [LO, LO]
    # an unterminated low run at the end is not a pair
    assert mcu.pairs_from_burst(burst, 18, thr, highs, lows, 4, stats) == 1


def test_burst_pilot():
    fm.clear()
    duty = [50]
    holder = {}
    waves = {}
    for d in (50, 500, 960, 1000):
        waves[d] = _burst_wave(d, HI9, LO)

    def read_burst(buf):
        waves[duty[0]](buf)
        holder["n"] = len(buf)

    cp = mcu.BurstPilot(25, read_burst, 1613, 8800, max_pairs=6)
    pwm = fm.pwms[-1]
    highs, lows = _arrays(6)
    for d in (50, 500, 960):
        duty[0] = d
        cp.set_duty(d)
        assert pwm.duty == d * 65535 // 1000
        assert cp.sample(highs, lows) == 6, d
        assert list(highs) == [HI9] * 6 and list(lows) == [LO] * 6, d
    assert holder["n"] == 8 * 50  # (max_pairs + 2) periods at 50 samples per period
    duty[0] = 1000
    cp.set_duty(1000)
    assert cp.sample(highs, lows) == 6 and cp.steady
    assert list(highs) == [HI9] * 6
    duty[0] = 500
    cp.set_duty(500)
    micropython.heap_lock()
    try:
        got = cp.sample(highs, lows)
    finally:
        micropython.heap_unlock()
    assert got == 6
