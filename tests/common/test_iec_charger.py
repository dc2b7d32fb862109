"""The charger state machine driven step by step on the simulated board (no event loop):
the sequencing rules of IEC 61851-1 one at a time."""
from lib import clock
from boards.sim.board import World
from firmware import config, events
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults, pwm


class _Session:
    """The three questions the charger asks, answered by the test."""

    def __init__(self):
        self.auth = True
        self.limit = 10000
        self.stop = False

    def authorized(self):
        return self.auth

    def limit_da(self):
        return self.limit

    def stop_requested(self):
        return self.stop


class Rig:
    def __init__(self, **cfg):
        self.world = World("build/test-charger")
        self.board = self.world.board
        self.board.pp.cable_ohms = 220
        self.session = _Session()
        self.bus = events.Bus()
        self.seen = []
        self.bus.subscribe(lambda k, a: self.seen.append((k, a)))
        self.ch = chg.Charger(self.board, config.make(cfg), self.session, self.bus)
        self.steps = 0

    def run(self, ms):
        """Advance the world (every 50 ms) and the charger (every 10 ms) by ``ms``."""
        for _ in range(ms // 10):
            clock.advance(10)
            self.steps += 1
            if self.steps % 5 == 0:
                self.world.tick(clock.ticks_ms(), 50)
            self.ch.step()

    def until(self, pred, ms):
        for _ in range(ms // 10):
            if pred():
                return True
            self.run(10)
        return pred()


def test_idle_until_plugged_then_offers_the_configured_current():
    r = Rig(max_current_a=16)
    r.run(500)
    assert r.ch.state == chg.IDLE and r.board.cp.duty == pwm.DUTY_X1
    r.world.ev.plug()
    assert r.until(lambda: r.ch.state == chg.READY, 1000)
    r.run(10)  # READY puts the offer on the line in its first step
    assert r.board.cp.duty == pwm.duty_for(160)
    assert r.board.lock.actual


def test_no_offer_without_authorisation():
    r = Rig()
    r.session.auth = False
    r.world.ev.plug()
    r.run(3000)
    assert r.ch.state == chg.CONNECTED
    assert r.board.cp.duty == pwm.DUTY_X1


def test_contactor_closes_on_c_and_opens_on_b():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.board.contactor.actual, 3000)
    assert r.ch.state == chg.CHARGING
    r.world.ev.wants = False
    assert r.until(lambda: not r.board.contactor.commanded, 500)
    assert r.ch.state == chg.READY


def test_offer_is_the_minimum_of_config_cable_and_limit():
    r = Rig(max_current_a=32)
    r.board.pp.cable_ohms = 680  # 20 A cable
    r.world.ev.plug()
    assert r.until(lambda: r.ch.state == chg.CHARGING, 3000)
    assert r.ch.offer_da == 200
    r.session.limit = 130
    r.run(20)
    assert r.ch.offer_da == 130 and r.board.cp.duty == pwm.duty_for(130)


def test_limit_below_6a_pauses_and_opens_when_current_is_low():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.world.ev.current_ma > 0, 5000)
    r.session.limit = 50
    r.run(20)
    assert r.board.cp.duty == pwm.DUTY_X1
    assert r.until(lambda: r.ch.state == chg.PAUSED, 7000)
    assert r.until(lambda: not r.board.contactor.actual, 200)
    assert r.board.contactor.opened_under_load == 0


def test_stop_request_finishes_and_unlocks():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.ch.state == chg.CHARGING, 3000)
    r.session.stop = True
    assert r.until(lambda: r.ch.state == chg.FINISHED, 7000)
    assert r.until(lambda: not r.board.lock.actual, 1000)


def test_rcd_trip_opens_at_once_and_latches_until_unplug():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.world.ev.current_ma > 0, 5000)
    r.board.rcd.inject_residual(True)
    r.run(10)
    assert r.ch.fault == faults.RCD and not r.board.contactor.commanded
    r.board.rcd.inject_residual(False)
    r.run(10000)
    assert r.ch.state == chg.FAULT
    r.world.ev.unplug()
    assert r.until(lambda: r.ch.state == chg.IDLE, 1000)


def test_welded_contactor_keeps_lock_and_state_f():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.board.contactor.actual, 3000)
    r.board.contactor.welded = True
    r.world.ev.wants = False
    assert r.until(lambda: r.ch.fault == faults.WELDED, 2000)
    r.run(5000)
    assert r.board.cp.duty == 0
    assert r.board.lock.actual


def test_events_report_what_happened():
    r = Rig()
    r.world.ev.plug()
    r.until(lambda: r.board.contactor.actual, 3000)
    kinds = [k for k, _ in r.seen]
    assert events.PLUGGED in kinds and events.CONTACTOR in kinds and events.LOCK in kinds
    assert (events.CONTACTOR, True) in r.seen


def test_steady_charging_step_allocates_nothing():
    """The 10 ms CP path (sample, classify, debounce, handlers) runs under heap_lock on
    MicroPython; CPython's stand-in lock checks nothing, the logic still runs."""
    import micropython

    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.world.ev.current_ma > 0, 5000)
    r.run(3000)
    step = r.ch.step
    advance = clock.advance
    micropython.heap_lock()
    try:
        for _ in range(100):  # one second, four meter reads included
            advance(10)
            step()
    finally:
        micropython.heap_unlock()
    assert r.ch.state == chg.CHARGING
