"""The simulator's event log: one row per firmware event plus periodic samples, printed as
a readable timeline and streamed to ``--json`` (never held in memory: the MicroPython runs
have a capped heap). It also checks the invariant every scenario must keep: the
contactor closes only in C (or D with ventilation), with PWM on and authorisation."""
import json

from lib import clock
from firmware import events
from firmware.iec61851 import charger as chg
from firmware.iec61851 import faults, states

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

    def row(self, what, value=None):
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
        self.counts[what] = self.counts.get(what, 0) + 1
        f = self.json_file
        if f is not None:
            f.write(",\n{" if self.n_rows else "\n{")
            for i in range(len(_KEYS)):
                f.write('%s"%s": %s' % (", " if i else "", _KEYS[i], json.dumps(r[i])))
            f.write("}")
        self.n_rows += 1
        if not self.quiet:
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
