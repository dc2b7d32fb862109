"""Session controller: authorisation, the external current limit, stop requests, and the
persisted record of each session (start, energy checkpoints, stop with reason).

The charger asks it ``authorized()``, ``limit_da()`` and ``stop_requested()``; everything
that decides those (a local button, RFID, the OCPP backend, a load manager) calls the
methods below. Stop reasons use the OCPP 1.6 vocabulary so the backend can be told as is.

A session ends (SESSION_ENDED, the record's stop) when the vehicle is unplugged, or
earlier when a stop was requested and the charger has finished (offer withdrawn,
contactor open: its FINISHED state), as an OCPP 1.6 transaction ends. The stop request
stays until the unplug, so the charger stays in FINISHED and the vehicle cannot draw
again in that plug-in; an authorisation then begins no new session (unplug first).
"""
from micropython import const

from lib import clock, log
from firmware import events

_TAG = "session"
_NO_LIMIT_DA = 10000
# firmware.iec61851.charger.FINISHED, not imported so that the OCPP tests can run this
# controller without the charger (a test checks they agree)
CHARGER_FINISHED = const(6)


class Session:
    """One charging session as it is persisted."""

    def __init__(self, sid, id_tag, start_wh, start_s):
        self.sid = sid
        self.id_tag = id_tag
        self.start_wh = start_wh
        self.start_s = start_s
        self.energy_wh = start_wh  # meter register at the last update
        self.stop_reason = None

    def delivered_wh(self):
        return self.energy_wh - self.start_wh


class SessionController:
    """Decides whether and how much the charger may offer, and records sessions."""

    def __init__(self, cfg, board, bus, log_store):
        self.cfg = cfg
        self.board = board
        self.bus = bus
        self.store = log_store
        self.autostart = cfg["auth"] == "autostart"
        self._authorized = False
        self._id_tag = None
        self._limit_da = _NO_LIMIT_DA
        self._stop_reason = None
        self.plugged = False
        self.current = None  # the running Session
        self.last = None  # the last finished Session
        self._t_checkpoint = clock.ticks_ms()
        bus.subscribe(self._on_event)

    # ---- what the charger asks ---------------------------------------------------------

    def authorized(self):
        return self._authorized

    def limit_da(self):
        return self._limit_da

    def stop_requested(self):
        return self._stop_reason is not None

    # ---- what the outside world asks -----------------------------------------------------

    def authorize(self, id_tag="local"):
        """Allow charging (an accepted RFID card, a backend's authorisation)."""
        self._authorized = True
        self._id_tag = id_tag
        if self.plugged and self.current is None and self._stop_reason is None:
            self._begin()

    def deauthorize(self):
        self._authorized = self.autostart and self._stop_reason is None

    def set_limit_a(self, amps):
        """External limit (load management, smart charging); None removes it."""
        self._limit_da = _NO_LIMIT_DA if amps is None else int(amps * 10)
        log.info(_TAG, "external limit %s", "none" if amps is None else amps)

    def request_stop(self, reason="Local"):
        """End charging; the session ends once the charger has finished (see above).
        Without a vehicle and a session there is nothing to stop."""
        if not self.plugged and self.current is None:
            return
        if self._stop_reason is None:
            self._stop_reason = reason
            log.info(_TAG, "stop requested (%s)", reason)

    # ---- events and housekeeping ---------------------------------------------------------

    def _on_event(self, kind, arg):
        if kind == events.PLUGGED:
            self.plugged = True
            if self.autostart:
                self.authorize("autostart")
            elif self._authorized and self.current is None:
                self._begin()  # authorised before the plug (RFID first, a remote start)
        elif kind == events.CHARGER_STATE:
            if arg == CHARGER_FINISHED and self.current is not None and self._stop_reason is not None:
                self._end(self._stop_reason)
        elif kind == events.UNPLUGGED:
            self.plugged = False
            if self.current is not None:
                self._end(self._stop_reason or "EVDisconnected")
            self._stop_reason = None
            self._authorized = False
            self._id_tag = None

    def _begin(self):
        self.board.meter.update()
        s = Session(self.store.next_id(), self._id_tag, self.board.meter.energy_wh, clock.time_s())
        self.current = s
        self.store.started(s)
        self._t_checkpoint = clock.ticks_ms()
        log.info(_TAG, "session %d started (%s) at %d Wh", s.sid, s.id_tag, s.start_wh)
        self.bus.emit(events.SESSION_STARTED, s.sid)

    def _end(self, reason):
        s = self.current
        self.board.meter.update()
        s.energy_wh = self.board.meter.energy_wh
        s.stop_reason = reason
        self.store.stopped(s, clock.time_s())
        self.current = None
        self.last = s
        log.info(_TAG, "session %d ended (%s): %d Wh", s.sid, reason, s.delivered_wh())
        self.bus.emit(events.SESSION_ENDED, reason)

    def poll(self):
        """Periodic: follow the meter and persist a checkpoint of a running session."""
        s = self.current
        if s is None:
            return
        s.energy_wh = self.board.meter.energy_wh
        now = clock.ticks_ms()
        if clock.ticks_diff(now, self._t_checkpoint) >= self.cfg["checkpoint_s"] * 1000:
            self._t_checkpoint = now
            self.store.checkpoint(s, clock.time_s())
