"""The simulated vehicle: its CP resistor network and on-board charger behaviour.

It reads the duty cycle off the line and interprets it with the standard's formula
(written here independently of the firmware's ``pwm`` module, so a wrong formula there
shows up), asks for power by closing S2, draws what it is offered after its reaction
time, stops at its target energy and can be unplugged. Variants make it misbehave.
"""
from lib import clock
from boards.sim import electrical as el

UNPLUGGED = "unplugged"


def offered_ma(duty):
    """What a compliant vehicle may draw at ``duty`` per-mille (IEC 61851-1 Table A.8)."""
    pct = duty / 10
    if 8 <= pct <= 85:
        return int(pct * 0.6 * 1000)
    if 85 < pct <= 96:
        return int((pct - 64) * 2.5 * 1000)
    if 96 < pct <= 97:
        return 80000
    return 0  # no PWM, 5 % (digital communication only) or out of range


class SimEV:
    """A vehicle with a Type 2 inlet and an AC on-board charger."""

    def __init__(self, world, max_current_a=16, phases=3, target_wh=2000, react_ms=1500,
                 diode=True, ventilation=False, overdraw_a=0, s2_delay_ms=500):
        self.world = world
        self.max_ma = max_current_a * 1000
        self.phases = phases
        self.target_wh = target_wh
        self.react_ms = react_ms
        self.diode = diode
        self.ventilation = ventilation  # asks with D instead of C
        self.overdraw_ma = overdraw_a * 1000
        self.s2_delay_ms = s2_delay_ms
        self.plugged = False
        self.cp_short = False
        self.s2 = False  # closed: the vehicle asks for power
        self.wants = True  # the driver/BMS wants energy
        self.current_ma = 0  # per phase, what the on-board charger draws
        self.received_mwh = 0
        self._t_offer = None  # when the line last showed a new offer
        self._seen_ma = 0
        self._target_ma = 0
        self._t_pwm = None
        self.max_seen_ma = 0  # highest offer the vehicle saw

    # ---- what scenarios do with it -------------------------------------------------------

    def plug(self):
        self.plugged = True
        self._t_pwm = None

    def unplug(self):
        self.plugged = False
        self.s2 = False
        self.current_ma = 0

    def received_wh(self):
        return self.received_mwh // 1000

    def full(self):
        return self.received_wh() >= self.target_wh

    # ---- electrical ----------------------------------------------------------------------

    def cp_load(self):
        """Ohms between CP (behind the diode, see ``diode``) and PE: None when unplugged."""
        if not self.plugged:
            return None
        if self.cp_short:
            return 0
        if not self.s2:
            return el.R_B
        return el.R_D if self.ventilation else el.R_C

    def tick(self, now, dt_ms, powered):
        """Advance by ``dt_ms``; ``powered``: the contactor is closed onto the inlet."""
        if not self.plugged:
            return
        pilot = self.world.board.cp
        duty = pilot.duty if pilot.powered else 1000
        offer = offered_ma(duty)
        if offer != self._seen_ma:
            self._seen_ma = offer
            self._t_offer = now
            if offer > self.max_seen_ma:
                self.max_seen_ma = offer
        # the on-board charger follows a new offer after its reaction time, but stops at once
        if offer == 0:
            self._target_ma = 0
        elif self._t_offer is not None and clock.ticks_diff(now, self._t_offer) >= self.react_ms:
            self._target_ma = offer
        want = self.wants and not self.full()
        if want and offer > 0:
            if self._t_pwm is None:
                self._t_pwm = now
            if clock.ticks_diff(now, self._t_pwm) >= self.s2_delay_ms:
                self.s2 = True
        else:
            self._t_pwm = None
            if self.current_ma == 0:
                self.s2 = False  # ramped down: hand back (C -> B)
        draw = 0
        if self.s2 and powered and want:
            draw = self._target_ma if self._target_ma < self.max_ma else self.max_ma
            if draw > 0:
                draw += self.overdraw_ma
        self.current_ma = draw
        if powered:
            self.received_mwh += draw * self.phases * self.world.voltage_v // 1000 * dt_ms // 3600
