"""IEC 61851-1 basic charging, EVSE side: one flat handler per charger state.

``step()`` runs every CP period (10 ms by default): it measures the pilot, applies the
safety checks that hold in every state, runs the handler of the current state and
supervises the contactor. The session controller decides *whether* to charge
(authorisation, external limit, stop requests); this module decides *how*, in the order
and within the times the standard asks for.
"""
from micropython import const

from lib import clock, log
from firmware import events
from firmware import hal
from firmware.iec61851 import faults, proximity, pwm, states
from firmware.iec61851.pilot import ERR_ADC, ERR_DIODE, ERR_LEVEL, PilotMonitor

_TAG = "iec"

# Charger states
IDLE = const(0)  # no vehicle
CONNECTED = const(1)  # vehicle in B, nothing offered yet (auth, RCD test, lock)
READY = const(2)  # PWM on, waiting for the vehicle to ask for power (C)
CHARGING = const(3)  # contactor closed
PAUSED = const(4)  # plugged and authorised, but less than 6 A available
STOPPING = const(5)  # offer withdrawn, contactor opens when the current is low
FINISHED = const(6)  # session over, waiting for the vehicle to be unplugged
FAULT = const(7)

NAMES = ("idle", "connected", "ready", "charging", "paused", "stopping", "finished", "fault")

# Times in ms (IEC 61851-1:2017 Annex A sequences)
_T_OPEN_GRACE = const(6000)  # offer withdrawn -> contactor opens at the latest
_T_EV_ADAPT = const(5000)  # vehicle follows a lower duty within this time
_T_OVERCURRENT = const(5000)  # sustained overdraw beyond the adapt time -> fault
_T_CLOSE_CONFIRM = const(500)  # mirror contact must follow a close command
_T_WELD_CONFIRM = const(500)  # mirror contact must follow an open command
_T_F_HOLD = const(3000)  # state F shown before watching for the unplug
_T_LOCK = const(1000)  # lock feedback must follow a lock command
_T_RCD_TEST = const(200)  # RCD module trips and releases within this time
_T_FAULT_CLEAR = const(1000)  # a self-clearing fault stays clear this long first
_T_PP_UNPLUG = const(1000)  # PP opened: CP must show A within this time

_LOW_CURRENT_MA = const(1000)  # below this per phase the contactor may open
_OVERDRAW_MA = const(500)  # tolerance on top of 110 % of the offer

# Sub-steps of CONNECTED
_PREP_RCD_TEST = const(0)
_PREP_RCD_RELEASE = const(1)
_PREP_LOCK = const(2)
_PREP_DONE = const(3)


class Charger:
    """The EVSE side of basic AC charging on one connector."""

    def __init__(self, board, cfg, session, bus):
        self.board = board
        self.cfg = cfg
        self.session = session
        self.bus = bus
        self.pilot = PilotMonitor(board.cp)
        self.state = IDLE
        self.fault = faults.NONE
        self.cp_state = states.UNKNOWN
        self.duty = -1
        self.offer_da = 0  # what the PWM offers now
        self.cable_a = 0
        self.closed = False  # commanded contactor state
        self.locked = False  # commanded lock state
        self._t_state = clock.ticks_ms()
        self._t_contactor = self._t_state
        self._t_meter = self._t_state
        self._t_lock = self._t_state
        self._t_fault = self._t_state
        self._t_overdraw = None
        self._t_offer_drop = None
        self._t_pp_open = None
        self._t_withdraw = self._t_state
        self._allow_da = 0  # what the vehicle may draw while it adapts to a lower offer
        self._prep = _PREP_RCD_TEST
        self._lock_tries = 0
        self._after_stop = FINISHED
        self._set_duty(pwm.DUTY_X1)
        board.contactor.set(False)
        if board.lock is not None:
            board.lock.drive(False)
        board.led.show(hal.LED_IDLE)

    # ---- outputs ---------------------------------------------------------------------

    def _set_duty(self, duty):
        if duty == self.duty:
            return
        if self.duty == 0:
            self.pilot.reset()  # leaving F: the line means something again
        self.duty = duty
        self.board.cp.set_duty(duty)
        self.bus.emit(events.DUTY, duty)

    def _set_contactor(self, closed, now):
        if closed == self.closed:
            return
        self.closed = closed
        self._t_contactor = now
        self.board.contactor.set(closed)
        self.bus.emit(events.CONTACTOR, closed)
        log.info(_TAG, "contactor %s", "closed" if closed else "open")

    def _set_lock(self, locked, now):
        if locked == self.locked:
            return
        self.locked = locked
        self._t_lock = now
        self.board.lock.drive(locked)
        self.bus.emit(events.LOCK, locked)

    def _enter(self, state, now):
        if state == self.state:
            return
        log.info(_TAG, "%s -> %s", NAMES[self.state], NAMES[state])
        self.state = state
        self._t_state = now
        self.bus.emit(events.CHARGER_STATE, state)
        self.board.led.show(_LED[state])

    def _raise(self, code, now):
        """Enter FAULT: emergency faults open now, the others once the current is low."""
        if self.fault == code:
            return
        log.warn(_TAG, "fault %s in %s", faults.name(code), NAMES[self.state])
        self.fault = code
        self._t_fault = now
        self.bus.emit(events.FAULT, code)
        self._set_duty(pwm.DUTY_X1)
        self._t_withdraw = now
        if faults.flags(code) & faults.EMERGENCY:
            self._set_contactor(False, now)
        self._enter(FAULT, now)

    # ---- the periodic step -------------------------------------------------------------

    def step(self):
        now = clock.ticks_ms()
        cp = self.pilot.measure()
        if cp != self.cp_state:
            self.cp_state = cp
            self.bus.emit(events.CP_STATE, cp)
        if clock.ticks_diff(now, self._t_meter) >= self.cfg["meter_period_ms"]:
            self._t_meter = now
            self.board.meter.update()
        if self.state != FAULT:
            if self._check_safety(cp, now):
                _HANDLERS[self.state](self, cp, now)
        else:
            self._fault(cp, now)
            if self.closed and (cp == states.A or cp == states.E or self.board.rcd.tripped()):
                self._set_contactor(False, now)  # an emergency on top of a slow fault
        self._supervise_contactor(now)

    def panic(self):
        """The step raised: open the contactor and show F. Every further failure restarts
        the F time, so F stays while the fault persists; an unplug clears it after."""
        now = clock.ticks_ms()
        self._set_contactor(False, now)
        self._raise(faults.INTERNAL, now)
        self._set_duty(0)
        self._t_fault = now

    def _check_safety(self, cp, now):
        """Checks that hold in every state but FAULT; False when the handler must not run."""
        preparing = self.state == CONNECTED and self._prep != _PREP_DONE
        code = self._hazard(cp, preparing)
        if code != faults.NONE:
            self._raise(code, now)
            return False
        if self.state == IDLE:
            return True
        if cp == states.A:
            self._unplugged(now)
            return False
        if not self._check_cable(now):
            return False
        if self.locked and not preparing and clock.ticks_diff(now, self._t_lock) > _T_LOCK:
            if not self.board.lock.locked():
                self._raise(faults.LOCK, now)
                return False
        return True

    def _hazard(self, cp, preparing):
        """The fault the pilot or the RCD reports now, most severe first."""
        err = self.pilot.error
        if self.board.rcd.tripped() and not preparing:  # the self-test trips it on purpose
            return faults.RCD
        if err == ERR_ADC:
            return faults.CP_ADC
        if err == ERR_LEVEL:
            return faults.CP_LEVEL
        if cp == states.E:
            return faults.CP_SHORT
        if err == ERR_DIODE:
            return faults.DIODE
        if cp == states.D and not self.cfg["ventilation"]:
            return faults.VENTILATION
        return faults.NONE

    def _check_cable(self, now):
        """Cable coding must stay what it was at plug-in; False if a fault was raised."""
        if self.board.pp is None:
            return True
        amps = proximity.cable_amps(self.board.pp.ohms())
        if amps == self.cable_a:
            self._t_pp_open = None
            return True
        if amps == proximity.OPEN and self.cable_a > 0:
            # PP is the shortest pin: the plug is leaving the socket and CP A will follow
            self._set_contactor(False, now)
            self._set_duty(pwm.DUTY_X1)
            if self._t_pp_open is None:
                self._t_pp_open = now
            elif clock.ticks_diff(now, self._t_pp_open) > _T_PP_UNPLUG:
                self._raise(faults.PP_OPEN, now)
            return False
        if self.cable_a > 0:
            self._raise(faults.PP_CHANGED, now)
        elif amps == proximity.OPEN:
            self._raise(faults.PP_OPEN, now)
        elif amps == proximity.INVALID:
            self._raise(faults.PP_INVALID, now)
        else:
            self.cable_a = amps  # first valid reading of this session
            return True
        return False

    def _unplugged(self, now):
        self._set_contactor(False, now)
        self.board.rcd.set_test(False)
        self._set_duty(pwm.DUTY_X1)
        self.cable_a = 0
        self.bus.emit(events.UNPLUGGED)
        self._enter(IDLE, now)

    # ---- offer -------------------------------------------------------------------------

    def _available_da(self):
        """min(configuration, cable, external limit) in deciamps."""
        da = self.cfg["max_current_a"] * 10
        cable = self.cable_a * 10
        if cable < da:
            da = cable
        ext = self.session.limit_da()
        if ext < da:
            da = ext
        return da

    def _offer(self, da, now):
        """Put ``da`` on the PWM; a lower offer gives the vehicle time to follow."""
        if da != self.offer_da:
            if da < self.offer_da:
                self._t_offer_drop = now  # every drop restarts the vehicle's time
            self.offer_da = da
            log.info(_TAG, "offer %d.%d A", da // 10, da % 10)
        if da >= self._allow_da:
            self._allow_da = da
            self._t_offer_drop = None
        elif self._t_offer_drop is None:
            self._t_offer_drop = now
        elif clock.ticks_diff(now, self._t_offer_drop) >= _T_EV_ADAPT:
            self._allow_da = da
            self._t_offer_drop = None
        self._set_duty(pwm.duty_for(da))

    def _withdraw(self, then, now):
        """Remove the offer (X1) and open the contactor once it is safe."""
        self.offer_da = 0
        self._set_duty(pwm.DUTY_X1)
        self._t_withdraw = now
        self._after_stop = then
        if self.closed:
            self._enter(STOPPING, now)
        else:
            self._enter(then, now)

    # ---- state handlers ---------------------------------------------------------------

    def _idle(self, cp, now):
        if self.locked:
            self._set_lock(False, now)
        if cp in (states.B, states.C, states.D):
            if self.board.pp is None:
                self.cable_a = self.cfg["tethered_cable_a"]
            elif not self._check_cable(now):
                return
            self._prep = _PREP_RCD_TEST if self.cfg["rcd_self_test"] else _PREP_LOCK
            self._lock_tries = 0
            self.bus.emit(events.PLUGGED, self.cable_a)
            self._enter(CONNECTED, now)

    def _connected(self, cp, now):
        if not self._prepare(now):
            return
        if self.session.stop_requested():
            self._enter(FINISHED, now)
        elif self.session.authorized():
            if self._available_da() >= pwm.MIN_DA:
                self._enter(READY, now)
            else:
                self._enter(PAUSED, now)

    def _prepare(self, now):
        """RCD self-test and connector lock before anything is offered; True when done."""
        rcd = self.board.rcd
        elapsed = clock.ticks_diff(now, self._t_state)
        if self._prep == _PREP_RCD_TEST:
            rcd.set_test(True)
            self._prep = _PREP_RCD_RELEASE
            self._t_state = now
        elif self._prep == _PREP_RCD_RELEASE:
            if rcd.tripped():
                rcd.set_test(False)
                rcd.reset()
                self._prep = _PREP_LOCK
                self._t_state = now
            elif elapsed > _T_RCD_TEST:
                rcd.set_test(False)
                self._raise(faults.RCD_SELFTEST, now)
        elif self._prep == _PREP_LOCK:
            if self.board.lock is None:
                self._prep = _PREP_DONE
            elif not self.locked:
                if rcd.tripped():  # still latched from the test
                    if elapsed > _T_RCD_TEST:
                        self._raise(faults.RCD_SELFTEST, now)
                    return False
                self._set_lock(True, now)
            elif self.board.lock.locked():
                self._prep = _PREP_DONE
            elif clock.ticks_diff(now, self._t_lock) > _T_LOCK:
                self._lock_tries += 1
                if self._lock_tries > 1:
                    self._raise(faults.LOCK, now)
                else:  # one retry: unlock and lock again
                    self._set_lock(False, now)
                    self._t_state = now
        return self._prep == _PREP_DONE

    def _ready(self, cp, now):
        if self._leave_if_not_wanted(now):
            return
        da = self._available_da()
        if da < pwm.MIN_DA:
            self._withdraw(PAUSED, now)
            return
        self._offer(da, now)
        if cp == states.C or cp == states.D:  # D only gets here with ventilation
            self._t_overdraw = None
            self._set_contactor(True, now)
            self._enter(CHARGING, now)

    def _charging(self, cp, now):
        if cp == states.B:
            # the vehicle stopped asking: open at once, keep offering (it may resume)
            self._set_contactor(False, now)
            self._enter(READY, now)
            return
        if self._leave_if_not_wanted(now):
            return
        da = self._available_da()
        if da < pwm.MIN_DA:
            self._withdraw(PAUSED, now)
            return
        self._offer(da, now)
        self._check_overdraw(now)

    def _check_overdraw(self, now):
        limit_ma = self._allow_da * 110 + _OVERDRAW_MA  # dA -> mA is x100, +10 %
        if self.board.meter.max_current_ma() <= limit_ma:
            self._t_overdraw = None
        elif self._t_overdraw is None:
            self._t_overdraw = now
        elif clock.ticks_diff(now, self._t_overdraw) >= _T_OVERCURRENT:
            self._raise(faults.OVERCURRENT, now)

    def _leave_if_not_wanted(self, now):
        if self.session.stop_requested():
            self._withdraw(FINISHED, now)
            return True
        if not self.session.authorized():
            self._withdraw(CONNECTED, now)
            return True
        return False

    def _paused(self, cp, now):
        if self.session.stop_requested():
            self._enter(FINISHED, now)
        elif not self.session.authorized():
            self._enter(CONNECTED, now)
        elif self._available_da() >= pwm.MIN_DA:
            self._enter(READY, now)

    def _stopping(self, cp, now):
        if self._may_open(cp, clock.ticks_diff(now, self._t_state)):
            self._set_contactor(False, now)
            self._enter(self._after_stop, now)

    def _may_open(self, cp, waited):
        """Open once the vehicle stopped (B), the current is low, or its time is up.

        Only a meter reading taken after the offer was withdrawn counts as low: an older
        one may predate the vehicle's last increase.
        """
        if cp == states.B:
            return True
        fresh = clock.ticks_diff(self._t_meter, self._t_withdraw) > 0
        if fresh and self.board.meter.max_current_ma() < _LOW_CURRENT_MA:
            return True
        if waited >= _T_OPEN_GRACE:
            log.warn(_TAG, "opening with %d mA flowing", self.board.meter.max_current_ma())
            return True
        return False

    def _finished(self, cp, now):
        if self.locked:
            self._set_lock(False, now)  # let the user take the cable

    def _fault(self, cp, now):
        code = self.fault
        since = clock.ticks_diff(now, self._t_fault)
        if self.closed:
            if self._may_open(cp, since):
                self._set_contactor(False, now)
            return
        if since < _T_F_HOLD:
            self._set_duty(0)  # state F: the vehicle must not charge
            return
        if code == faults.WELDED:
            # stays in F and locked while the contacts may be live
            if not self.board.contactor.feedback():
                self._clear(now)
            return
        if self.locked:
            self._set_lock(False, now)
        self._set_duty(pwm.DUTY_X1)  # watch the line again
        if cp == states.A:
            if code == faults.RCD:
                self.board.rcd.reset()
            if not self.board.rcd.tripped() or code != faults.RCD:
                self._clear(now)  # unplugged: the session is over, and with it the fault
            return
        if faults.flags(code) & faults.UNTIL_UNPLUG:
            return
        if self._condition(code, cp):
            self._t_state = now
        elif clock.ticks_diff(now, self._t_state) >= _T_FAULT_CLEAR:
            self._clear(now)

    def _condition(self, code, cp):
        """True while the cause of a self-clearing fault persists."""
        err = self.pilot.error
        if code == faults.CP_SHORT:
            return cp == states.E
        if code == faults.CP_ADC:
            return err == ERR_ADC
        if code == faults.CP_LEVEL:
            return err == ERR_LEVEL
        if code in (faults.PP_OPEN, faults.PP_INVALID):
            return proximity.cable_amps(self.board.pp.ohms()) < 0
        return False  # contactor: retried with the next session

    def _clear(self, now):
        log.info(_TAG, "fault %s cleared", faults.name(self.fault))
        self.bus.emit(events.FAULT_CLEARED, self.fault)
        self.fault = faults.NONE
        self.cable_a = 0
        self.board.rcd.reset()
        if self.cp_state == states.A:
            self.bus.emit(events.UNPLUGGED)
        self._enter(IDLE, now)

    # ---- contactor supervision -----------------------------------------------------------

    def _supervise_contactor(self, now):
        fb = self.board.contactor.feedback()
        if fb == self.closed:
            return
        if clock.ticks_diff(now, self._t_contactor) < (_T_CLOSE_CONFIRM if self.closed else _T_WELD_CONFIRM):
            return
        if self.closed:
            self._raise(faults.CONTACTOR, now)
            self._set_contactor(False, now)
        elif self.fault != faults.WELDED:
            self._raise(faults.WELDED, now)


_LED = (hal.LED_IDLE, hal.LED_PLUGGED, hal.LED_PLUGGED, hal.LED_CHARGING, hal.LED_PAUSED, hal.LED_PLUGGED, hal.LED_PLUGGED, hal.LED_FAULT)


# one handler per charger state, indexed by the state (FAULT's runs from step() itself)
_HANDLERS = (
    Charger._idle, Charger._connected, Charger._ready, Charger._charging, Charger._paused,
    Charger._stopping, Charger._finished, Charger._fault,
)
