"""The OCPP side of a simulator run (a scenario whose SETUP has ``ocpp``): the firmware's
OCPP client attached to the App, connected to ``params["csms"]`` or, without one, to
the embedded central system (tools.csms, CPython only: started in the run's own event
loop on port 0); every OCPP message as a timeline row (``rpc.observer``); a Reset from
the backend restarts the firmware from its persisted state, as a reboot would; the
scenario's check of what the backend recorded. Common subset: imported only by the
runs that need it, so the virtual-time scenarios' capped heap does not hold it.
"""
import asyncio

from firmware.ocpp import rpc

_BRIEF = ("status", "type", "idTag", "transactionId", "connectorId", "meterStart", "meterStop",
          "reason", "key", "requestedMessage", "errorCode", "interval")
_REGISTER = "Energy.Active.Import.Register"


def brief(p):
    """The fields of an OCPP payload worth a timeline column (from any payload: a
    backend may send anything)."""
    if type(p) is not dict:
        return str(p)[:40]
    out = []
    for k in _BRIEF:
        if k in p:
            out.append("%s=%s" % (k, str(p[k])[:24]))
    info = p.get("idTagInfo")
    if type(info) is dict and "status" in info:
        out.append("idTagInfo=%s" % str(info["status"])[:16])
    mv = p.get("meterValue")
    if type(mv) is list:
        for m in mv:
            for v in (m.get("sampledValue") if type(m) is dict else None) or ():
                if type(v) is dict and v.get("measurand", _REGISTER) == _REGISTER:
                    out.append("Wh=%s" % str(v.get("value"))[:12])
    return " ".join(out)[:100]


class Link:
    """One run's OCPP client side; ``sim.link``."""

    def __init__(self, sim):
        self.sim = sim
        self.cfg = sim.setup["ocpp"]  # the client's configuration overrides
        self.url = sim.params.get("csms")  # None: the embedded central system
        self.frames = [0, 0]  # sent, received
        self.calls = []  # the actions the central system called (the first 100)
        self.resets = []
        self.csms = None  # the embedded central system (in this process)
        self.records = None  # what it recorded, taken when the run ends
        self._task = None
        self._reboot = None
        rpc.observer = self.on_frame

    def close(self):
        rpc.observer = None

    # ---- the firmware's lifecycle --------------------------------------------------------

    def attach(self, app):
        from firmware.ocpp.chargepoint import attach

        attach(app, self.url, reset_hook=self._reset, cfg_overrides=self.cfg)

    def start(self, app):
        if app.ocpp is not None and not app.cfg["ocpp_url"]:  # attached here: ours to run
            self._task = asyncio.create_task(app.ocpp.run())

    async def stop(self):
        t = self._task
        self._task = None
        if t is not None:
            t.cancel()
            try:
                await t
            except asyncio.CancelledError:
                pass

    def _reset(self, kind):
        """The client's reset hook (Reset.req, after it ended a running transaction)."""
        self.resets.append(kind)
        self.sim.rec.row("reset", kind)
        self._reboot = asyncio.create_task(self._reboot_later())

    async def _reboot_later(self):
        # as the MCU reboots: outputs drop, RAM is lost, the firmware comes back from
        # what it persisted (the same filesystem)
        sim = self.sim
        await sim.halt()
        sim.board.power_off()
        await sim.sleep(sim.setup.get("reboot_s", 1))
        sim.rec.row("power_on", "reboot")
        sim.boot()

    async def shutdown(self):
        t = self._reboot
        if t is not None and not t.done():
            t.cancel()
            try:
                await t
            except asyncio.CancelledError:
                pass

    # ---- the backend ---------------------------------------------------------------------

    async def embedded(self, main, script):
        """``await main(sim, script, None)`` with the embedded central system up."""
        from tools.csms import Csms

        async with Csms(port=0, **self.sim.setup.get("csms", {})) as cs:
            self.csms = cs
            self.url = cs.url(self.sim.setup.get("cp_id", "CP_SIM"))
            try:
                await main(self.sim, script, None)
            finally:
                await asyncio.sleep(0.1)  # its handlers finish what they received
                self.records = cs.records()

    def check_backend(self):
        """The scenario's checks of what the backend recorded (``SETUP["check_backend"]``)."""
        chk = self.sim.setup.get("check_backend")
        if chk is not None and self.records is not None:
            for f in chk(self.records, self.sim.result):
                self.sim.fail("backend: " + f)

    # ---- output --------------------------------------------------------------------------

    def on_frame(self, direction, mtype, action, payload):
        """rpc.observer: one timeline row per OCPP message, as the charge point sees it."""
        try:
            self.frames[direction == "<"] += 1
            if mtype == 2:
                what = action
                if direction == "<" and len(self.calls) < 100:
                    self.calls.append(action)
            elif mtype == 3:
                what = "%s.conf" % action
            else:
                what = "CALLERROR %s" % (action or "")
            b = brief(payload)
            self.sim.rec.row("ocpp", "%s %s%s" % (direction, what, " " + b if b else ""))
        except Exception as e:  # a timeline must never break the client's receive loop
            self.sim.rec.violations.append("timeline: %r" % (e,))

    def summary(self):
        print("   OCPP %s: %d messages sent, %d received; resets %s" % (
            self.url, self.frames[0], self.frames[1], ", ".join(self.resets) or "none"))
        app = self.sim.app
        if app is not None and app.ocpp is not None:
            print("   journal: %d transaction messages waiting" % len(app.ocpp.txq))
        backend_summary(self.records)


def backend_summary(r):
    """The transactions a central system recorded (``Csms.records()``)."""
    if r is None:
        return
    for t in r["transactions"]:
        stop = t["stop"]
        print("   backend transaction %d (%s): meterStart %d, %d MeterValues, %s" % (
            t["id"], t["id_tag"], t["meter_start"], len(t["meter_values"]),
            "meterStop %d, %s" % (stop["meter_stop"], stop.get("reason")) if stop else "not stopped"))
