"""The firmware's entry point: build the application on a board and run its tasks.

On a device the generated root ``main.py`` calls ``run(board.create())``; the simulator
and the host tools call ``App(board, cfg).run()`` themselves.
"""
import asyncio
import json

from lib import clock, log
from firmware import config, events
from firmware.iec61851.charger import Charger
from firmware.session.controller import SessionController
from firmware.session.record import SessionRecord
from firmware.storage import fs

_TAG = "main"
_SESSION_PERIOD_MS = 1000
# resolved now, not at the first App(): asyncio loads its Event module lazily, and a big
# allocation late in a long-running heap is the one that fails
_Event = asyncio.Event


def load_config(board, overrides=None):
    """Embedded defaults, then the board's config.json, then ``overrides``."""
    merged = {}
    path = fs.join(board.fs_root, "config.json")
    if fs.exists(path):
        try:
            with open(path) as f:
                doc = json.load(f)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            merged.update(doc)
        except (OSError, ValueError) as e:
            log.error(_TAG, "config.json unreadable (%s): using defaults", e)
    if overrides:
        merged.update(overrides)
    try:
        return config.make(merged)
    except config.ConfigError as e:
        log.error(_TAG, "%s: using defaults", e)
        return config.make()


class App:
    """The charger application on one board: charger, session control, their tasks."""

    def __init__(self, board, cfg=None):
        self.board = board
        self.cfg = cfg if cfg is not None else load_config(board)
        fs.makedirs(board.fs_root)
        self.bus = events.Bus()
        self.record = SessionRecord(fs.join(board.fs_root, "sessions.log"))
        self.session = SessionController(self.cfg, board, self.bus, self.record)
        self.charger = Charger(board, self.cfg, self.session, self.bus)
        self.recovered = self.record.recover()
        self.errors = 0  # exceptions caught in the charger's step
        self.ocpp = None
        if self.cfg["ocpp_url"]:
            from firmware.ocpp.chargepoint import attach  # only loaded when configured

            attach(self, self.cfg["ocpp_url"])  # sets self.ocpp
        self._stop = _Event()

    async def _charger_task(self):
        period = self.cfg["cp_period_ms"]
        step = self.charger.step
        while True:
            try:
                step()
            except Exception as e:  # a bug or a driver error must not leave the contactor closed
                self.errors += 1
                if self.errors & (self.errors - 1) == 0:  # log 1st, 2nd, 4th, 8th...
                    log.error(_TAG, "charger step failed (%d): %r", self.errors, e)
                try:
                    self.charger.panic()
                except Exception:
                    self.board.contactor.set(False)
            await clock.sleep_ms(period)

    async def _session_task(self):
        while True:
            self.session.poll()
            await clock.sleep_ms(_SESSION_PERIOD_MS)

    def stop(self):
        """End run() (a simulated power cut or an orderly shutdown on the host)."""
        self._stop.set()

    async def run(self):
        log.info(_TAG, "starting on %s", self.board.name)
        tasks = [asyncio.create_task(self._charger_task()), asyncio.create_task(self._session_task())]
        if self.cfg["ocpp_url"]:  # a client attached by the caller is run by the caller
            tasks.append(asyncio.create_task(self.ocpp.run()))
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except asyncio.CancelledError:
                    pass


def run(board, cfg=None):
    """Run the firmware on ``board`` until it stops (on a device: forever)."""
    asyncio.run(App(board, cfg).run())
