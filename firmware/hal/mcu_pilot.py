"""Control pilot samplers on ``machine.PWM`` (see ``firmware.hal.mcu``)."""
import machine
from micropython import const

from firmware.hal import ControlPilot, mcu

_ADC_SHIFT = const(4)  # read_u16() is the 12-bit code scaled to 16 bits on both ports
_ADC_MAX = const(4095)
_SETTLE_US = const(12)  # CP edge: 1 kOhm into cable + EV capacitance settles in ~3 tau
_GUARD_US = const(5)  # keep reads this far from the next edge
_THRESHOLD_UV = const(1500000)  # +1.5 V: below every high plateau (D is +3 V), above -12 V and E
_SYNC_PERIODS = const(3)  # periods to look for a rising edge before calling the line steady


class _PwmOut(ControlPilot):
    """The CP output half: a 1 kHz PWM, shared by both samplers below."""

    def __init__(self, pwm_pin, zero_code, uv_per_code, adc_max, freq, invert, pwm):
        ControlPilot.__init__(self, zero_code, uv_per_code, adc_max)
        self.FREQ_HZ = freq
        self._period_us = 1000000 // freq
        self._invert = invert
        if pwm is None:
            # start steady high (state A "X1"): a blank line would look like state F to a car
            pwm = machine.PWM(machine.Pin(pwm_pin), freq=freq, duty_u16=0 if invert else 65535)
        self._pwm = pwm
        # lowest code counted as "high phase"; see _THRESHOLD_UV
        self._threshold = zero_code + _THRESHOLD_UV // uv_per_code
        self.rejects = 0  # pairs thrown away (read too close to an edge, too short a plateau)
        self.steady = True  # last sample() saw no edges
        self.set_duty(1000)

    def set_duty(self, permille):
        if permille >= 1000:
            permille = 1000
            d = 65535
        elif permille <= 0:
            permille = 0
            d = 0
        else:
            d = permille * 65535 // 1000
        if self._invert:
            d = 65535 - d
        self._pwm.duty_u16(d)
        self.duty = permille


class PwmPilot(_PwmOut):
    """CP on ``machine.PWM`` + ``machine.ADC``, the ADC reads timed in software.

    Plain MicroPython cannot trigger the ADC from the PWM timer, so ``sample()`` finds each
    period's rising edge by polling the ADC (a read below the +1.5 V threshold followed by
    one above it), then reads once early in the high plateau and once in the middle of the
    low phase. The edge is only known to lie between the start of the last low read and the
    end of the first high read; a sample counts only if its read starts at least
    ``settle_us`` after the latest possible edge and ends before the earliest possible next
    edge, so an interrupt that delays a read (Wi-Fi on an ESP32) costs a retry, never a
    sample straddling an edge. Every period is re-synchronised, so the PWM clock and
    ``ticks_us`` may drift apart freely. A line that shows one level for three periods of
    reads spaced closer than the shorter phase is steady (E, F, a short) and both arrays
    get that level; sparser reads prove nothing and count as a reject. ``sample()``
    blocks for about one PWM period per pair.

    Limits, measured by ``rejects``: the high plateau must hold two ADC reads plus the
    settle time, i.e. at 5 % duty (50 us) the ADC read must take under ~12 us. Slower ADCs
    (the ESP32's one-shot driver) return fewer or no pairs at 5 % (callers must accept
    0); a board that must do high-level communication on them needs a timer-triggered
    ADC (:class:`BurstPilot`).
    """

    def __init__(self, pwm_pin, adc_pin, zero_code, uv_per_code, adc_max=_ADC_MAX, freq=1000,
                 adc_atten=None, settle_us=_SETTLE_US, invert=False, pwm=None, adc=None):
        _PwmOut.__init__(self, pwm_pin, zero_code, uv_per_code, adc_max, freq, invert, pwm)
        self._adc = adc if adc is not None else mcu.make_adc(adc_pin, adc_atten)
        self._read = self._adc.read_u16  # bound once: taking a bound method allocates
        self._settle_us = settle_us

    def read_code(self):
        """One raw 12-bit code, unsynchronised."""
        return self._adc.read_u16() >> _ADC_SHIFT

    def _steady(self, highs, lows, start, n):
        read = self._read
        for i in range(start, n):
            highs[i] = read() >> _ADC_SHIFT
            lows[i] = read() >> _ADC_SHIFT
        return n

    def sample(self, highs, lows):
        n = len(highs)
        if len(lows) < n:
            n = len(lows)
        duty = self.duty
        if duty >= 1000 or duty <= 0:
            self.steady = True
            return self._steady(highs, lows, 0, n)
        read = self._read
        # the microsecond clock, bound once (set_us_clock may have replaced it)
        _ticks_us = mcu.ticks_us
        _ticks_diff = mcu.ticks_diff
        _ticks_add = mcu.ticks_add
        _sleep_us = mcu.sleep_us
        period = self._period_us
        high_us = duty * period // 1000
        thr = self._threshold
        settle = self._settle_us
        shortest = high_us if high_us < period - high_us else period - high_us
        got = 0
        tries = 2 * n + 2
        self.steady = False
        while got < n and tries > 0:
            tries -= 1
            # 1. rising edge: a low read, then a high read
            deadline = _ticks_add(_ticks_us(), _SYNC_PERIODS * period)
            t_lo = -1
            seen_hi = False
            dense = True
            t_prev = -1
            while True:
                t0 = _ticks_us()
                c = read() >> _ADC_SHIFT
                t1 = _ticks_us()
                if t_prev >= 0 and _ticks_diff(t1, t_prev) >= shortest:
                    dense = False  # a phase could have slipped between two reads
                t_prev = t0
                if c < thr:
                    t_lo = t0
                elif t_lo >= 0:
                    break
                else:
                    seen_hi = True
                if _ticks_diff(t1, deadline) > 0:
                    break
            if t_lo < 0 or c < thr:
                if (t_lo >= 0 and seen_hi) or not dense:
                    # both levels seen but never a clean low-high pair, or reads too
                    # sparse to have caught both phases (preempted): try again, do not
                    # mistake it for a steady line
                    self.rejects += 1
                    continue
                # one level only for several periods, read densely enough to have seen
                # both phases: the line is not switching (E, F, a short); both arrays
                # get what is there
                self.steady = True
                return self._steady(highs, lows, got, n)
            t_hi = t1  # the edge lies in [t_lo, t_hi]
            # 2. high plateau: as early as the settle time allows
            start = _ticks_add(t_hi, settle)
            wait = _ticks_diff(start, _ticks_us())
            if wait > 0:
                _sleep_us(wait)
            c_hi = read() >> _ADC_SHIFT
            t1 = _ticks_us()
            if _ticks_diff(t1, _ticks_add(t_lo, high_us - _GUARD_US)) > 0:
                self.rejects += 1
                continue
            # 3. low phase: its middle, but never before the latest falling edge has settled
            start = _ticks_add(t_lo, high_us + (period - high_us) // 2)
            earliest = _ticks_add(t_hi, high_us + settle)
            if _ticks_diff(earliest, start) > 0:
                start = earliest
            wait = _ticks_diff(start, _ticks_us())
            if wait > 0:
                _sleep_us(wait)
            t0 = _ticks_us()
            c_lo = read() >> _ADC_SHIFT
            t1 = _ticks_us()
            if _ticks_diff(t0, earliest) < 0 or _ticks_diff(t1, _ticks_add(t_lo, period - _GUARD_US)) > 0:
                self.rejects += 1
                continue
            highs[got] = c_hi
            lows[got] = c_lo
            got += 1
        return got


def pairs_from_burst(burst, count, thr, highs, lows, n, stats):
    """Pick one settled high and one mid-low code per PWM period out of a burst of
    equally spaced ADC samples. Returns the pairs taken; ``stats[0]`` gets the rising
    edges seen, ``stats[1]`` the plateaus too short to hold a settled sample.

    The high sample is the second one of its plateau (at least one sample interval after
    the edge, so settled); plateaus of a single sample are rejected. The low sample is the
    middle of the low run, which must be closed by the next rising edge.
    """
    got = 0
    edges = 0
    short = 0
    i = 1
    while got < n:
        while i < count and not (burst[i - 1] < thr <= burst[i]):
            i += 1
        if i >= count:
            break
        edges += 1
        j = i
        while j < count and burst[j] >= thr:
            j += 1
        k = j
        while k < count and burst[k] < thr:
            k += 1
        if k >= count:
            break
        if j - i < 2:
            short += 1
        else:
            highs[got] = burst[i + 1]
            lows[got] = burst[(j + k) // 2]
            got += 1
        i = k
    stats[0] = edges
    stats[1] = short
    return got


class BurstPilot(_PwmOut):
    """CP with a timer-paced ADC burst (STM32: ``pyb.ADC.read_timed``).

    ``read_burst(buf)`` fills an ``array('H')`` with 12-bit codes at ``rate_hz``; the burst
    spans ``max_pairs + 2`` PWM periods and :func:`pairs_from_burst` picks the samples. At
    50 kHz a sample lands every 20 us, so even the 50 us plateau of 5 % duty has a settled
    sample. The burst buffer is allocated once here.
    """

    def __init__(self, pwm_pin, read_burst, zero_code, uv_per_code, adc_max=_ADC_MAX,
                 freq=1000, rate_hz=50000, max_pairs=8, invert=False, pwm=None):
        _PwmOut.__init__(self, pwm_pin, zero_code, uv_per_code, adc_max, freq, invert, pwm)
        from array import array

        self._read_burst = read_burst
        self._per_period = rate_hz // freq
        self._max_pairs = max_pairs
        self._burst = array("H", [0] * ((max_pairs + 2) * self._per_period))
        self._stats = [0, 0]

    def sample(self, highs, lows):
        n = len(highs)
        if len(lows) < n:
            n = len(lows)
        if n > self._max_pairs:
            n = self._max_pairs
        burst = self._burst
        self._read_burst(burst)
        count = len(burst)
        got = 0
        edges = 0
        if 0 < self.duty < 1000:
            stats = self._stats
            got = pairs_from_burst(burst, count, self._threshold, highs, lows, n, stats)
            edges = stats[0]
            self.rejects += stats[1]
        self.steady = edges == 0
        if edges == 0:
            # steady output or a line that does not switch: spread the pairs over the burst
            step = self._per_period
            for i in range(n):
                highs[i] = burst[i * step]
                lows[i] = burst[i * step + step // 2]
            return n
        return got
