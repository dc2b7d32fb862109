"""Control pilot monitor: raw plateau samples -> debounced CP state, diode check.

One ``measure()`` takes a burst of synchronised high/low samples from the HAL, rejects
spikes (trimmed mean), classifies the high plateau with hysteresis and debounces the
result over consecutive measurements. Nothing is allocated per measurement.
"""
from array import array

from micropython import const

from firmware.iec61851 import states

# High-plateau band edges in mV: a state is entered within +-_ENTER of its nominal
# level and kept within +-_KEEP, so a level on a band edge does not flap.
_NOMINAL = (12000, 9000, 6000, 3000, 0)  # A, B, C, D, E
_ENTER = const(1000)
_KEEP = const(1400)
_DIODE_MAX_MV = const(-10500)  # low plateau must be near -12 V when the car's diode is there
_F_MAX_MV = const(-10500)

OK = const(0)
ERR_ADC = const(1)  # samples saturated at a rail (front end broken) or none taken
ERR_DIODE = const(2)  # low plateau not at -12 V under PWM: the car's diode is missing
ERR_LEVEL = const(3)  # high plateau outside every band for too long


class PilotMonitor:
    """Debounced CP state from a :class:`firmware.hal.ControlPilot`."""

    def __init__(self, cp, samples=5, debounce=3):
        self.cp = cp
        self._hi = array("H", bytes(2 * samples))
        self._lo = array("H", bytes(2 * samples))
        self.debounce = debounce
        self.state = states.UNKNOWN  # debounced
        self.error = OK  # debounced measurement error
        self.high_mv = 0
        self.low_mv = 0
        self._cand = states.UNKNOWN
        self._cand_n = 0
        self._err_cand = OK
        self._err_n = 0
        self.spikes = 0  # samples rejected as outliers, for diagnostics

    def _mean(self, buf, n):
        """Trimmed mean in mV, dropping the extreme samples; None if saturated or empty."""
        if n <= 0:
            return None  # the board could not catch a plateau this time
        top = self.cp.adc_max
        lo = 0xFFFF
        hi = 0
        total = 0
        rails = 0
        for i in range(n):
            v = buf[i]
            if v == 0 or v >= top:
                rails += 1
            if v < lo:
                lo = v
            if v > hi:
                hi = v
            total += v
        if rails * 2 > n:
            return None
        if n > 2:
            total -= lo + hi
            n -= 2
            # a rejected extreme far from the rest counts as a spike
            avg = total // n
            if hi - avg > 200 or avg - lo > 200:
                self.spikes += 1
        return self.cp.to_mv(total // n)

    def _classify(self, mv):
        cur = self.state
        if cur < states.F:
            nom = _NOMINAL[cur]
            if nom - _KEEP <= mv <= nom + _KEEP:
                return cur
        for s in range(5):
            nom = _NOMINAL[s]
            if nom - _ENTER <= mv <= nom + _ENTER:
                return s
        return states.UNKNOWN

    def measure(self):
        """Take one burst of samples; returns the debounced state."""
        n = self.cp.sample(self._hi, self._lo)
        high = self._mean(self._hi, n)
        low = self._mean(self._lo, n)
        duty = self.cp.duty
        err = OK
        if high is None or low is None:
            err = ERR_ADC
            cand = states.UNKNOWN
        else:
            self.high_mv = high
            self.low_mv = low
            if duty == 0:
                # the EVSE drives -12 V itself: the line says nothing about the car
                cand = states.F if high <= _F_MAX_MV else states.UNKNOWN
            else:
                cand = self._classify(high)
                if cand == states.UNKNOWN:
                    err = ERR_LEVEL
                elif 0 < duty < 1000 and states.B <= cand <= states.D and low > _DIODE_MAX_MV:
                    err = ERR_DIODE
        self._debounce_state(cand)
        self._debounce_error(err)
        return self.state

    def _debounce_state(self, cand):
        if cand == states.UNKNOWN:
            # between bands: keep the last stable state (hysteresis), restart the count
            self._cand_n = 0
            return
        if cand == self._cand:
            if self._cand_n < self.debounce:
                self._cand_n += 1
        else:
            self._cand = cand
            self._cand_n = 1
        if self._cand_n >= self.debounce:
            self.state = cand

    def _debounce_error(self, err):
        if err == self._err_cand:
            if self._err_n < self.debounce:
                self._err_n += 1
        else:
            self._err_cand = err
            self._err_n = 1
        if self._err_n >= self.debounce:
            self.error = err

    def reset(self):
        """Forget the debounced state (after the EVSE changed its own output level)."""
        self.state = states.UNKNOWN
        self._cand = states.UNKNOWN
        self._cand_n = 0
