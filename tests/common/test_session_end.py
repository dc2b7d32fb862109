"""When a session ends: at the unplug, or as soon as a requested stop has opened the
contactor (the charger's FINISHED), as an OCPP 1.6 transaction ends; the vehicle cannot
draw again until it is unplugged. Real charger and session controller on the simulated
board, stepped in virtual time (no event loop)."""
from lib import clock
from boards.sim.board import World
from firmware import config, events
from firmware.iec61851 import charger as chg
from firmware.session import controller
from firmware.session.controller import SessionController
from firmware.session.record import SessionRecord
from firmware.storage import fs

_DIR = "build/test-session-end"


class Rig:
    def __init__(self, **cfg):
        fs.remove_tree(_DIR)
        fs.makedirs(_DIR)
        self.world = World(_DIR, ev={"target_wh": 100000})
        self.board = self.world.board
        self.board.pp.cable_ohms = 220
        self.bus = events.Bus()
        c = dict(auth="external", rcd_self_test=False)
        c.update(cfg)
        self.cfg = config.make(c)
        self.record = SessionRecord(fs.join(_DIR, "sessions.log"))
        self.session = SessionController(self.cfg, self.board, self.bus, self.record)
        self.ch = chg.Charger(self.board, self.cfg, self.session, self.bus)
        self.ended = []  # (reason, charger state, contactor really closed, plugged)
        self.bus.subscribe(self._on)
        self.steps = 0

    def _on(self, kind, arg):
        if kind == events.SESSION_ENDED:
            self.ended.append((arg, self.ch.state, self.board.contactor.actual, self.session.plugged))

    def run(self, ms):
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

    def charging(self):
        self.world.ev.plug()
        assert self.until(lambda: self.session.plugged, 2000)
        self.session.authorize("TAG1")
        assert self.until(lambda: self.ch.state == chg.CHARGING and self.board.contactor.actual, 3000)
        self.run(2000)


def test_the_controller_knows_the_chargers_finished_state():
    assert controller.CHARGER_FINISHED == chg.FINISHED


def test_requested_stop_ends_the_session_once_the_contactor_is_open_not_at_unplug():
    r = Rig()
    r.charging()
    sid = r.session.current.sid
    r.session.request_stop("Remote")
    assert r.until(lambda: r.ended, 7000)
    reason, state, closed, plugged = r.ended[0]
    assert reason == "Remote" and state == chg.FINISHED and plugged
    assert not r.ch.closed  # commanded open when the session ended
    assert r.session.current is None and r.session.last.sid == sid
    assert r.session.last.stop_reason == "Remote"
    wh = r.session.last.energy_wh
    assert wh > r.session.last.start_wh
    assert r.record.done[-1]["id"] == sid and r.record.done[-1]["reason"] == "Remote"
    assert r.record.open is None  # a power cut now loses nothing
    # the car cannot draw again in this plug-in, not even with a new authorisation
    r.session.authorize("TAG2")
    r.run(3000)
    assert r.ch.state == chg.FINISHED and not r.board.contactor.actual
    assert r.session.current is None
    r.world.ev.unplug()
    assert r.until(lambda: r.ch.state == chg.IDLE, 2000)
    assert len(r.ended) == 1  # the unplug ends nothing more
    assert r.session.last.energy_wh == wh and len(r.record.done) == 1
    # the next plug-in is a new session again
    r.world.ev.plug()
    assert r.until(lambda: r.session.plugged, 2000)
    r.session.authorize("TAG3")
    assert r.until(lambda: r.ch.state == chg.CHARGING, 3000)
    assert r.session.current is not None and r.session.current.id_tag == "TAG3"


def test_stop_before_charging_began_ends_at_once():
    r = Rig()
    r.world.ev.plug()
    assert r.until(lambda: r.session.plugged, 2000)
    r.session.authorize("TAG1")
    assert r.until(lambda: r.ch.state == chg.READY, 3000)
    r.session.request_stop("DeAuthorized")
    r.session.deauthorize()
    assert r.until(lambda: r.ended, 1000)
    assert r.ended[0][0] == "DeAuthorized" and r.ended[0][3]


def test_unplug_without_a_stop_ends_as_ev_disconnected():
    r = Rig()
    r.charging()
    r.world.ev.unplug()
    assert r.until(lambda: r.ended, 2000)
    assert r.ended[0][0] == "EVDisconnected" and not r.ended[0][3]


def test_a_stop_without_a_vehicle_does_not_linger_to_the_next_plug():
    r = Rig()
    r.session.request_stop("UnlockCommand")  # nothing plugged, no session
    assert not r.session.stop_requested()
    r.world.ev.plug()
    assert r.until(lambda: r.session.plugged, 2000)
    r.session.authorize("TAG1")
    assert r.until(lambda: r.ch.state == chg.CHARGING, 3000)


def test_stop_during_a_fault_still_ends_at_unplug():
    from firmware.iec61851 import faults

    r = Rig()
    r.charging()
    r.board.rcd.inject_residual(True)
    assert r.until(lambda: r.ch.fault == faults.RCD, 500)
    r.session.request_stop("Local")
    r.run(1000)
    assert r.ended == []  # no FINISHED in a fault: the session runs on to the unplug
    r.board.rcd.inject_residual(False)
    r.world.ev.unplug()
    assert r.until(lambda: r.ended, 6000)
    assert r.ended[0][0] == "Local"
