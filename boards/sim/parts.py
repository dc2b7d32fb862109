"""Simulated wallbox parts implementing the HAL (firmware/hal), with fault injection.

Each part keeps the physical truth (``actual`` states, integrated energy) apart from
what the firmware can see through the HAL, so tests can check one against the other.
"""
from lib import clock
from firmware.hal import Contactor, ControlPilot, Lock, Meter, ProximityPilot, Rcd, StatusLed
from boards.sim import electrical as el


class SimPilot(ControlPilot):
    """CP output and synchronised sampling through the electrical model."""

    def __init__(self, world):
        super().__init__(el.ADC_ZERO, el.UV_PER_CODE, el.ADC_MAX)
        self.world = world
        self.noise_codes = 3  # front-end noise, 1 sigma (~22 mV)
        self.spike_per_mille = 0  # chance of a spike on each sample
        self.stuck_code = None  # front end broken: every sample reads this
        self.powered = True

    def set_duty(self, permille):
        self.duty = permille

    def _code(self, mv):
        w = self.world
        rng = w.rng
        if self.stuck_code is not None:
            return self.stuck_code
        code = el.to_code(mv) + rng.noise(self.noise_codes)
        if self.spike_per_mille and rng.below(1000) < self.spike_per_mille:
            code += 900 if rng.below(2) else -900
        if code < 0:
            return 0
        return el.ADC_MAX if code > el.ADC_MAX else code

    def sample(self, highs, lows):
        # no tuples here: the firmware's CP path is checked under heap_lock with this board
        n = len(highs)
        if self.powered:
            ev = self.world.ev
            load = ev.cp_load()
            hi = el.line_mv(-el.V_SOURCE if self.duty == 0 else el.V_SOURCE, load, ev.diode)
            lo = el.line_mv(el.V_SOURCE if self.duty >= 1000 else -el.V_SOURCE, load, ev.diode)
        else:
            hi = lo = 0
        for i in range(n):
            highs[i] = self._code(hi)
            lows[i] = self._code(lo)
        return n


class SimProximity(ProximityPilot):
    """PP with the plugged cable's coding resistor (None: no cable / open)."""

    PULLUP = 1000

    def __init__(self, world):
        super().__init__(self.PULLUP, el.ADC_MAX)
        self.world = world
        self.cable_ohms = None

    def read_code(self):
        r = self.cable_ohms
        if r is None or not self.world.ev.plugged:
            return el.ADC_MAX
        code = el.ADC_MAX * r // (r + self.PULLUP) + self.world.rng.noise(2)
        return 0 if code < 0 else (el.ADC_MAX if code > el.ADC_MAX else code)


class SimContactor(Contactor):
    """Coil with switching delays; the mirror contact follows the main contacts."""

    CLOSE_MS = 40
    OPEN_MS = 25

    def __init__(self):
        super().__init__()
        self.actual = False
        self.welded = False  # once closed, the contacts stay closed
        self.coil_broken = False  # never closes
        self._t = clock.ticks_ms()
        self.operations = 0
        self.opened_under_load = 0  # openings with current flowing (welding risk)

    def set(self, closed):
        if closed != self.commanded:
            self.commanded = closed
            self._t = clock.ticks_ms()

    def tick(self, now, current_ma):
        if self.commanded == self.actual:
            return
        delay = self.CLOSE_MS if self.commanded else self.OPEN_MS
        if clock.ticks_diff(now, self._t) < delay:
            return
        if self.commanded and not self.coil_broken:
            self.actual = True
            self.operations += 1
        elif not self.commanded and not self.welded:
            if current_ma >= 1000:
                self.opened_under_load += 1
            self.actual = False

    def feedback(self):
        return self.actual

    def power_off(self):
        self.commanded = False
        if not self.welded:
            self.actual = False


class SimRcd(Rcd):
    """6 mA DC detector: trips on residual current and, if healthy, on its test input."""

    def __init__(self):
        self.residual = False  # a real fault current is flowing
        self.latched = False
        self.test_on = False
        self.broken = False  # fails its self-test
        self.tests = 0

    def tripped(self):
        return self.latched or self.residual or (self.test_on and not self.broken)

    def set_test(self, on):
        if on and not self.test_on:
            self.tests += 1
        self.test_on = on

    def reset(self):
        self.latched = self.residual

    def inject_residual(self, on):
        self.residual = on
        if on:
            self.latched = True


class SimLock(Lock):
    """Lock motor that takes its time; it can jam."""

    TRAVEL_MS = 150

    def __init__(self):
        self.target = False
        self.actual = False
        self.jammed = False
        self._t = clock.ticks_ms()

    def drive(self, locked):
        self.target = locked
        self._t = clock.ticks_ms()

    def tick(self, now):
        if self.target != self.actual and not self.jammed:
            if clock.ticks_diff(now, self._t) >= self.TRAVEL_MS:
                self.actual = self.target

    def locked(self):
        return self.actual


class SimMeter(Meter):
    """Meter that integrates the power the vehicle really draws through the contactor."""

    def __init__(self, world, start_wh=1000000):
        super().__init__()
        self.world = world
        self._mwh = start_wh * 1000  # integrated register, mWh
        self._p = 0
        self._i = [0, 0, 0]
        self.energy_wh = start_wh
        self.offline = False

    def integrate(self, dt_ms, current_ma, phases, voltage_v):
        p = 0
        for k in range(3):
            c = current_ma if k < phases else 0
            self._i[k] = c
            p += c * voltage_v // 1000
        self._p = p
        self._mwh += p * dt_ms // 3600

    def update(self):
        if self.offline:
            return False
        self.energy_wh = self._mwh // 1000
        self.power_w = self._p
        for k in range(3):
            self.current_ma[k] = self._i[k]
            self.voltage_mv[k] = self.world.voltage_v * 1000
        return True


class SimLed(StatusLed):
    pass
