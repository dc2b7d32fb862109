"""HAL parts on top of MicroPython's ``machine`` module, shared by the ESP32 and STM32 boards.

Boards build these from their pin maps (``boards/<name>/pins.py``). Nothing here knows a
chip; what differs between ports (ADC attenuation, UART pins, a timer-triggered ADC) comes
in as constructor arguments.

This module holds the GPIO parts (PP, contactor, RCD, lock, LEDs) and the helpers; the
control pilot samplers (``mcu_pilot``) and the meter driver (``mcu_meter``) are separate
modules, loaded on first use of their names here (``mcu.PwmPilot``), because one module of
all of it needs more heap to compile than the test runner's capped unix port has.

Timing: the CP sampler and the RS-485 turnaround need microseconds, which ``lib.clock``
(milliseconds, skewable by the simulator) does not offer, so this module takes
``ticks_us``/``sleep_us`` straight from ``time`` and the parts call them through here.
Host tests swap in a virtual clock with :func:`set_us_clock`.
"""
import machine
from micropython import const

from lib import clock
from firmware.hal import Board, Contactor, Lock, ProximityPilot, Rcd, StatusLed

_ADC_SHIFT = const(4)  # read_u16() is the 12-bit code scaled to 16 bits on both ports
_ADC_MAX = const(4095)

try:
    from time import ticks_us, ticks_diff, ticks_add, sleep_us
except ImportError:  # CPython: only host tests import this file there
    import time as _time

    _US_MASK = (1 << 30) - 1

    def ticks_us():
        return (_time.perf_counter_ns() // 1000) & _US_MASK

    def ticks_diff(a, b):
        return ((a - b + (1 << 29)) & _US_MASK) - (1 << 29)

    def ticks_add(t, d):
        return (t + d) & _US_MASK

    def sleep_us(us):
        _time.sleep(us / 1000000)


def set_us_clock(now, diff, add, sleep):
    """Replace the microsecond clock (host tests: a virtual clock that ADC reads advance)."""
    global ticks_us, ticks_diff, ticks_add, sleep_us
    ticks_us = now
    ticks_diff = diff
    ticks_add = add
    sleep_us = sleep


def make_out(pin, value=0):
    return machine.Pin(pin, machine.Pin.OUT, value=value)


def make_in(pin, pull=None):
    # ESP32 GPIO 34..39 have no internal pulls: boards pass pull=None for them
    return machine.Pin(pin, machine.Pin.IN, pull)


def make_adc(pin, atten=None):
    adc = machine.ADC(machine.Pin(pin))
    if atten is not None:
        adc.atten(atten)
    return adc


_LAZY = {
    "PwmPilot": "firmware.hal.mcu_pilot",
    "BurstPilot": "firmware.hal.mcu_pilot",
    "pairs_from_burst": "firmware.hal.mcu_pilot",
    "Sdm630Meter": "firmware.hal.mcu_meter",
    "crc16": "firmware.hal.mcu_meter",
    "f32_scaled": "firmware.hal.mcu_meter",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(name)
    return getattr(__import__(mod, None, None, (name,)), name)


# --------------------------------------------------------------------------- proximity pilot


class AdcProximity(ProximityPilot):
    """PP read through ``pullup_ohms`` to the ADC reference on one ADC pin."""

    def __init__(self, adc_pin, pullup_ohms, adc_max=_ADC_MAX, adc_atten=None, adc=None):
        ProximityPilot.__init__(self, pullup_ohms, adc_max)
        self._adc = adc if adc is not None else make_adc(adc_pin, adc_atten)

    def read_code(self):
        return self._adc.read_u16() >> _ADC_SHIFT


# --------------------------------------------------------------------------- contactor, RCD


class GpioContactor(Contactor):
    """Contactor coil on a GPIO (through a driver) and the mirror contact on an input.

    ``mirror_closed_level`` is the input level while the main contacts are closed (a
    normally-closed mirror contact to ground with a pull-up reads 1 then). Without a mirror
    pin ``feedback()`` echoes the command and ``has_feedback`` is False.
    """

    def __init__(self, coil_pin, mirror_pin=None, mirror_closed_level=1, mirror_pull=None):
        Contactor.__init__(self)
        self._coil = make_out(coil_pin, 0)
        self._closed_level = mirror_closed_level
        if mirror_pin is None:
            self._mirror = None
            self.has_feedback = False
        else:
            self._mirror = make_in(mirror_pin, mirror_pull)

    def set(self, closed):
        self._coil.value(1 if closed else 0)
        self.commanded = bool(closed)

    def feedback(self):
        if self._mirror is None:
            return self.commanded
        return self._mirror.value() == self._closed_level


class GpioRcd(Rcd):
    """RDC-DD module: a fault output read on ``fault_pin``, its test input on ``test_pin``."""

    def __init__(self, fault_pin, test_pin=None, fault_level=1, fault_pull=None, test_active=1):
        self._fault = make_in(fault_pin, fault_pull)
        self._fault_level = fault_level
        self._test_active = test_active
        self._test = None if test_pin is None else make_out(test_pin, 1 - test_active)

    def tripped(self):
        return self._fault.value() == self._fault_level

    def set_test(self, on):
        if self._test is not None:
            self._test.value(self._test_active if on else 1 - self._test_active)


# --------------------------------------------------------------------------- lock


class MotorLock(Lock):
    """Lock motor on an H-bridge (``pin_a`` high: lock, ``pin_b`` high: unlock).

    ``drive()`` starts a ``pulse_ms`` pulse and returns at once. The pulse ends from a
    one-shot ``machine.Timer`` when the board gives ``timer_id``, and in any case at the
    first ``locked()``/``drive()``/``poll()`` after its deadline, so a lost timer callback
    cannot leave the motor stalled against its end stop.
    """

    def __init__(self, pin_a, pin_b, feedback_pin, pulse_ms=300, locked_level=1,
                 feedback_pull=None, timer_id=None):
        self._a = make_out(pin_a, 0)
        self._b = make_out(pin_b, 0)
        self._fb = make_in(feedback_pin, feedback_pull)
        self._locked_level = locked_level
        self.pulse_ms = pulse_ms
        self._deadline = 0
        self.running = False
        self.target = None
        self._timer = None if timer_id is None else machine.Timer(timer_id)
        self._stop_cb = self._on_timer  # bound once: the IRQ path allocates nothing

    def _on_timer(self, _t):
        self.stop()

    def stop(self):
        """Both bridge inputs low: the motor coasts (ISR-safe)."""
        self._a.value(0)
        self._b.value(0)
        self.running = False

    def poll(self):
        if self.running and clock.ticks_diff(clock.ticks_ms(), self._deadline) >= 0:
            self.stop()

    def drive(self, locked):
        self.poll()
        # never both high: the bridge would short; switch off first
        self.stop()
        if self._timer is not None:
            self._timer.deinit()
        self.target = bool(locked)
        self._deadline = clock.ticks_add(clock.ticks_ms(), self.pulse_ms)
        self.running = True
        if locked:
            self._a.value(1)
        else:
            self._b.value(1)
        if self._timer is not None:
            self._timer.init(mode=machine.Timer.ONE_SHOT, period=self.pulse_ms, callback=self._stop_cb)

    def locked(self):
        self.poll()
        return self._fb.value() == self._locked_level


# --------------------------------------------------------------------------- LEDs

# blink patterns: 8 slots of 125 ms per second, bit i = slot i on
_PATTERNS = b"\x00\xff\x0f\x55\x03\x33"  # off idle plugged charging paused fault
_SLOT_MS = const(125)


class GpioLed(StatusLed):
    """One LED on a GPIO. Blinking modes need ``timer_id`` (a periodic ``machine.Timer``);
    without one every mode but OFF is steady on."""

    def __init__(self, pin, active_level=1, timer_id=None):
        StatusLed.__init__(self)
        self._on = active_level
        self._pin = make_out(pin, 1 - active_level)
        self._start(timer_id)

    def _start(self, timer_id):
        self._slot = 0
        self._pattern = 0
        self._timer = None
        if timer_id is not None:
            self._timer = machine.Timer(timer_id)
            self._timer.init(mode=machine.Timer.PERIODIC, period=_SLOT_MS, callback=self._tick)

    def _light(self, on):
        self._pin.value(self._on if on else 1 - self._on)

    def _tick(self, _t=None):
        self._slot = (self._slot + 1) & 7
        self._light((self._pattern >> self._slot) & 1)

    def show(self, mode):
        self.mode = mode
        pattern = _PATTERNS[mode] if 0 <= mode < len(_PATTERNS) else 0xFF
        if self._timer is None and pattern:
            pattern = 0xFF
        self._pattern = pattern
        self._light((pattern >> self._slot) & 1)


# RGB per mode, dimmed: a WS2812 at full power is blinding behind a diffuser
_COLOURS = b"\x00\x00\x00" b"\x00\x30\x00" b"\x00\x10\x30" b"\x00\x00\x40" b"\x20\x20\x00" b"\x40\x00\x00"


class NeoPixelLed(GpioLed):
    """A WS2812 status LED: colour per mode, the same blink patterns as :class:`GpioLed`."""

    def __init__(self, pin, timer_id=None):
        import neopixel

        self._np = neopixel.NeoPixel(machine.Pin(pin), 1)
        StatusLed.__init__(self)
        self._start(timer_id)

    def _light(self, on):
        m = self.mode * 3 if on and 0 <= self.mode < len(_PATTERNS) else 0
        # straight into the GRB byte buffer: a (r, g, b) tuple would allocate in the IRQ
        buf = self._np.buf
        buf[0] = _COLOURS[m + 1]
        buf[1] = _COLOURS[m]
        buf[2] = _COLOURS[m + 2]
        self._np.write()


class McuBoard(Board):
    """A board built from ``machine`` parts. ``qca_bus`` is the board's function that
    makes the QCA7000's (SPI, CS, INT, RESET); ``qca_spi()`` calls it once."""

    def __init__(self, name, qca_bus, *parts):
        Board.__init__(self, *parts)
        self.name = name
        self._qca_bus = qca_bus
        self._qca = None

    def reboot(self):
        machine.reset()

    def qca_spi(self):
        """(SPI, CS pin, INT pin, RESET pin) of the QCA7000, made once."""
        if self._qca is None:
            self._qca = self._qca_bus()
        return self._qca
