"""Runs one scenario: the firmware's App on the simulated board, the world's physics and
the scenario's script, in virtual time. Common subset: runs under both runtimes.

A scenario with ``realtime`` in its SETUP runs on the real clock instead (its peer, an
OCPP central system, lives in real time); one with ``ocpp`` gets the OCPP client
(tools/sim/ocpplink.py, imported only then: the virtual-time runs have a capped heap).
"""
import asyncio
import gc
import json
import sys

from lib import clock, log
from firmware import config, events
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults, states
from firmware.main import App
from firmware.storage import fs
from boards.sim.board import World
from tools.sim import vtime

_SAMPLE_S = 60  # a sample row in the printed timeline
_JSON_SAMPLE_S = 1  # and in the JSON log, for plots (streamed, so it costs no heap)


# The event log: one row per firmware event plus periodic samples, printed as
# a readable timeline and streamed to ``--json`` (never held in memory: the MicroPython runs
# have a capped heap). It also checks the invariant every scenario must keep: the
# contactor closes only in C (or D with ventilation), with PWM on and authorisation.
_KEYS = ("t", "event", "value", "cp", "duty", "charger", "contactor", "current_a", "energy_wh", "fault")


class Recorder:
    """Collects rows from the firmware's event bus and the world's truth."""

    def __init__(self, sim, quiet=False, json_file=None):
        self.sim = sim
        self.quiet = quiet
        self.json_file = json_file
        self.n_rows = 0
        self.violations = []
        self.counts = {}
        self._t0 = clock.ticks_ms()

    def t(self):
        return clock.ticks_diff(clock.ticks_ms(), self._t0) / 1000

    def row(self, what, value=None, show=True):
        self.counts[what] = self.counts.get(what, 0) + 1
        self.n_rows += 1
        if (self.quiet or not show) and self.json_file is None:
            return  # nothing to show: keep the capped heap free of row garbage
        sim = self.sim
        b = sim.board
        ch = sim.app.charger if sim.app is not None else None
        r = (
            round(self.t(), 3), what, value,
            states.name(ch.cp_state) if ch else "-", b.cp.duty,
            chg.NAMES[ch.state] if ch else "off", b.contactor.actual,
            sim.world.ev.current_ma / 1000 if sim.world.powered() else 0.0,
            b.meter._mwh // 1000 - sim.meter0_wh,
            faults.name(ch.fault) if ch else "none",
        )
        f = self.json_file
        if f is not None:
            f.write(",\n{" if self.n_rows > 1 else "\n{")
            for i in range(len(_KEYS)):
                f.write('%s"%s": %s' % (", " if i else "", _KEYS[i], json.dumps(r[i])))
            f.write("}")
        if show and not self.quiet:
            d = r[4]
            duty = "  X1 " if d >= 1000 else ("  F  " if d <= 0 else "%4.1f%%" % (d / 10))
            print("%9.3f  %s %s %s %5.1fA %7dWh  %-9s %s%s" % (
                r[0], r[3], duty, "ON " if r[6] else "off", r[7], r[8], r[5], what,
                "" if value is None else " " + str(value)))

    def on_event(self, kind, arg):
        if kind == events.DUTY:
            return  # every row shows it
        if kind == events.CP_STATE:
            arg = states.name(arg)
        elif kind == events.CHARGER_STATE:
            arg = chg.NAMES[arg]
        elif kind == events.FAULT or kind == events.FAULT_CLEARED:
            arg = faults.name(arg)
        elif kind == events.CONTACTOR and arg:
            self._check_close()
        self.row(events.NAMES[kind], arg)

    def _check_close(self):
        app = self.sim.app
        ch = app.charger
        cp = ch.cp_state
        ok_cp = cp == states.C or (cp == states.D and app.cfg["ventilation"])
        if not ok_cp or not 0 < ch.duty < 1000 or not app.session.authorized():
            self.violations.append("contactor closed in CP %s with duty %d" % (states.name(cp), ch.duty))

    def note(self, text):
        self.row("note", text)


class Sim:
    """What a scenario script sees: the world, the firmware, and assertions."""

    def __init__(self, name, fs_root, setup, quiet=False, json_file=None, pcap_path=None, params=None):
        self.name = name
        self.setup = setup
        self.params = params or {}  # from the command line: csms (URL), duration, plug_at
        self.realtime = setup.get("realtime", False)
        self.link = None  # the OCPP client's side (ocpplink.Link) of a scenario with one
        self.result = None  # figures a scenario hands to its backend check
        self.world = World(fs_root, seed=setup.get("seed", 1), tethered=setup.get("tethered", False),
                           ev=setup.get("ev"))
        self.board = self.world.board
        self.ev = self.world.ev
        if self.board.pp is not None:
            self.board.pp.cable_ohms = setup.get("cable_ohms", 220)
        self.cfg = config.make(setup.get("cfg"))
        self.meter0_wh = self.board.meter._mwh // 1000
        self.app = None
        self._app_task = None
        self.failures = []
        self.rec = Recorder(self, quiet, json_file)
        self.allow_open_under_load = setup.get("allow_open_under_load", False)
        self.duration = 0.0
        self.pcap_path = pcap_path  # where a scenario writes its PLC frames (pcapng)

    # ---- firmware lifecycle ---------------------------------------------------------------

    def make_app(self):
        """The firmware as it starts (with its OCPP client when the scenario has one)."""
        gc.collect()
        app = App(self.board, self.cfg)
        if self.link is not None:
            self.link.attach(app)
        return app

    def boot(self, app=None):
        """Power on and start the firmware (``app``: one built beforehand)."""
        self.board.power_on()
        if app is None:
            app = self.make_app()
        self.app = app
        app.bus.subscribe(self.rec.on_event)
        self._app_task = asyncio.create_task(self.app.run())
        if self.link is not None:
            self.link.start(app)
        self.rec.row("boot", "recovered session %d" % self.app.recovered["id"] if self.app.recovered else None)

    async def power_cut(self, seconds):
        """Cut the supply for ``seconds``, then boot the firmware from its persisted state."""
        self.rec.row("power_cut")
        await self.halt()
        self.board.power_off()
        await self.sleep(seconds)
        self.rec.row("power_on")
        self.boot()

    async def halt(self):
        """The firmware stops where it is; what it persisted stays."""
        self.app.stop()
        await self._app_task
        if self.link is not None:
            await self.link.stop()
        self.app = self._app_task = None  # the old firmware's RAM is gone with the power

    async def shutdown(self):
        if self.link is not None:
            await self.link.shutdown()
        if self.app is not None:
            await self.halt()

    @property
    def charger(self):
        return self.app.charger

    @property
    def session(self):
        return self.app.session

    # ---- script helpers -------------------------------------------------------------------

    def t(self):
        return self.rec.t()

    async def sleep(self, seconds):
        await clock.sleep_ms(int(seconds * 1000))

    async def until(self, pred, timeout_s, what):
        """Wait until ``pred()``; a timeout is a scenario failure. Returns the seconds waited."""
        t0 = self.t()
        while not pred():
            if self.t() - t0 > timeout_s:
                self.fail("timeout after %ss waiting for: %s" % (timeout_s, what))
                return None
            await clock.sleep_ms(10)
        return self.t() - t0

    def expect(self, cond, what):
        if not cond:
            self.fail(what)

    def fail(self, what):
        self.failures.append(what)
        self.rec.row("FAIL", what)

    def note(self, text):
        self.rec.note(text)

    def log_sink(self, _ticks, level, tag, text):
        if level >= log.WARN:  # info lines repeat what the events already show
            self.rec.row("log", "%s: %s" % (tag, text))

    async def _sampler(self):
        step = _JSON_SAMPLE_S if self.rec.json_file is not None else _SAMPLE_S
        n = 0
        while True:
            await clock.sleep_ms(step * 1000)
            n += step
            self.rec.row("sample", None, n % _SAMPLE_S == 0)


async def _main(sim, script, app):
    if sim.link is not None and sim.link.url is None:
        await sim.link.embedded(_main, script)  # the embedded central system around the run
        return
    world_task = asyncio.create_task(sim.world.run())
    sim.boot(app)
    app = None  # a power cut must be able to free it
    sampler = asyncio.create_task(sim._sampler())
    try:
        await script(sim)
    except Exception as e:  # a crash in the firmware or the script fails the scenario
        sim.fail("exception: %r" % (e,))
        try:
            sys.print_exception(e)  # MicroPython
        except AttributeError:
            import traceback

            traceback.print_exception(e)
    finally:
        sampler.cancel()
        world_task.cancel()
        last = sim.app
        await sim.shutdown()
        sim.app = last  # for the summary
        sim.duration = sim.t()  # virtual time is gone once the loop is


def check_invariants(sim):
    for v in sim.rec.violations:
        sim.fail("invariant: " + v)
    c = sim.board.contactor
    if c.opened_under_load and not sim.allow_open_under_load:
        sim.fail("invariant: contactor opened under load %d time(s)" % c.opened_under_load)


def run(name, scenario, fs_root, quiet=False, json_path=None, pcap_path=None, params=None):
    """Run one scenario; returns the Sim (``sim.failures`` empty when it passed).
    ``params``: csms (a central system's URL), duration and plug_at (seconds), for the
    scenarios that take them."""
    desc, setup, script = scenario
    fs.remove_tree(fs_root)
    fs.makedirs(fs_root)
    realtime = setup.get("realtime", False)
    if not realtime:
        vtime.install()  # before anything reads the clock
    out = open(json_path, "w") if json_path else None
    if out is not None:
        out.write('{"scenario": %s, "rows": [' % json.dumps(name))
    sim = Sim(name, fs_root, setup, quiet, out, pcap_path, params)
    log.set_sink(_mute if quiet else sim.log_sink)
    if setup.get("ocpp") is not None:
        from tools.sim.ocpplink import Link

        sim.link = Link(sim)
    # the firmware first, into a heap not yet cut up by the run (as a device boots); with
    # the embedded central system, once that listens (its port is in the URL)
    app = None
    if sim.link is None or sim.link.url is not None:
        app = sim.make_app()
    if not quiet:
        print("== scenario %s: %s" % (name, desc))
        print("%9s  CP duty  K    current  energy  charger   event" % "t(s)")
    try:
        main = _main(sim, script, app)
        app = None
        if realtime:
            _run_realtime(main)
        else:
            vtime.run(main)
        check_invariants(sim)
        if sim.link is not None:
            sim.link.check_backend()
    finally:
        if not realtime:
            vtime.uninstall()
        if sim.link is not None:
            sim.link.close()
        log.set_sink(None)
        if out is not None:
            out.write('\n], "passed": %s, "failures": %s}\n' % (
                "false" if sim.failures else "true", json.dumps(sim.failures)))
            out.close()
    gc.collect()
    return sim


def _run_realtime(coro):
    try:
        return asyncio.run(coro)
    finally:
        if sys.implementation.name == "micropython":
            asyncio.new_event_loop()  # as vtime.run does: a clean loop for the next run


def _mute(*_args):
    pass


def report(sim, runtime, quiet):
    """The result line of a scenario (``make test`` counts these), its failures, and
    unless ``quiet`` a summary."""
    print("%s: scenario %-26s %s  (%.0f s %s)" % (
        runtime, sim.name, "FAILED" if sim.failures else "ok", sim.duration,
        "real time" if sim.realtime else "simulated"))
    for f in sim.failures:
        print("    - " + f)
    if not quiet:
        _summary(sim)


def _summary(sim):
    """What the session log and the car say at the end."""
    print("-- summary")
    if sim.link is not None:
        sim.link.summary()
    if sim.app is None:
        return  # the run ended while the firmware rebooted
    s = sim.session
    for rec in sim.app.record.done:
        print("   session %d (%s): %d Wh, ended %s" % (
            rec["id"], rec.get("tag"), rec["wh"] - rec["wh0"], rec["reason"]))
    print("   car received %d Wh; contactor operations %d; opened under load %d" % (
        sim.ev.received_wh(), sim.board.contactor.operations, sim.board.contactor.opened_under_load))
    if s.current is not None:
        print("   session %d still running" % s.current.sid)
