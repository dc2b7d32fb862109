"""Offline operation end to end: the whole firmware (firmware.main.App on the simulated
board, its OCPP client attached) in the simulator's virtual time, so that minutes of
downtime cost nothing, against an honest backend behind the in-memory link of
tests/host/test_ocpp_hostile.py that records transactions as tools/csms.py does and
checks every message against the `ocpp` library's OCPP 1.6 schemas.

One timeline: a session starts online; the backend goes away for ten minutes
(connections refused) while that session goes on with sampled MeterValues and ends, a
second one runs entirely offline (its idTag from the authorization cache), the firmware
reboots, a third session is cut by a power loss and the board boots again; the backend
returns; then a fourth session whose StartTransaction and StopTransaction each reach the
backend on a connection that drops before the answer. At the end every transaction is
complete at the backend (reasons, meter readings as the meter had them, MeterValues
within their transaction, times as long as the virtual time that passed) and nothing is
lost or duplicated but the two resends the protocol allows.

CPython only: the schemas are checked with the `ocpp` library and jsonschema, and the
rig (tests/host/test_ocpp_hostile.py) needs hypothesis; none of them runs under
MicroPython.
"""
import asyncio
import json
import os
import shutil
import tempfile
import time

import pytest

pytest.importorskip("ocpp.messages")

import tools  # noqa: E402,F401
from firmware import config  # noqa: E402
from firmware.iec61851 import charger as chg  # noqa: E402
from firmware.main import App  # noqa: E402
from firmware.ocpp import chargepoint, timefmt, txq  # noqa: E402
from firmware.ocpp.backoff import Backoff  # noqa: E402
from firmware.ocpp.meter import ENERGY  # noqa: E402
from lib import clock, log  # noqa: E402
from tests.host.test_ocpp_hostile import Backend, Box, Errors, Link, journal_view, until  # noqa: E402
from tools.sim import vtime  # noqa: E402

CFG = {"auth": "external", "rcd_self_test": False, "checkpoint_s": 1}
OCPP = {"MeterValueSampleInterval": 60, "LocalAuthorizeOffline": True, "AllowOfflineTxForUnknownId": False,
        "StopTxnSampledData": ENERGY}
TAG = "TAG1"
STRANGER = "NOBODY"  # known nowhere: refused offline
BACKEND_T0 = timefmt.parse("2026-11-21T08:00:00Z")  # the backend's clock at virtual time 0
RTC_T0 = timefmt.parse("2026-11-21T10:00:00Z")  # the board's RTC: two hours off the backend's
DOWN_S = 600


class _Rtc:
    """``time`` as lib.clock sees it: the RTC stands at RTC_T0 (clock.time_s adds the
    virtual time), so that a run repeats to the second however fast the host is."""

    def __getattr__(self, name):
        return getattr(time, name)

    def time(self):
        return RTC_T0


class Csms(Backend):
    """The hostile test's honest backend, recording like tools/csms.py: transactions by
    id (numbered from 1001, so a local session id never passes for one) with their
    start, stop and MeterValues; the same message twice, messages of unknown or finished
    transactions. ``down``: connections are refused. ``cut``: actions whose next CALL is
    taken (recorded) and never answered: the connection drops. The one resend of such a
    message is the duplicate the protocol allows: counted in ``resent``, not ``dups``."""

    def __init__(self):
        Backend.__init__(self)
        self.down = False
        self.refused = 0
        self.connections = 0
        self.cut = set()
        self.taken = []  # (action, payload text) answered never
        self.resent = []  # (action, transaction id)
        self.late = []  # MeterValues after their transaction's StopTransaction
        self.log = []  # (action, payload) of every CALL, in order
        self.arrivals = {}  # transaction id -> its messages' actions, in arrival order

    def now(self):
        return BACKEND_T0 + clock.skew_ms() // 1000

    def on_frame(self, link, text):
        msg = json.loads(text)
        if msg[0] == 2 and msg[2] in self.cut:
            self.cut.discard(msg[2])
            self.calls.append(msg[2])
            self.answer(msg[2], msg[3])  # taken as a backend that commits, then fails
            self.taken.append((msg[2], json.dumps(msg[3], sort_keys=True)))
            link.closed = True  # gone before the answer
            link._ev.set()  # wakes the receiver, which sees the close
            return
        Backend.on_frame(self, link, text)

    def _arrived(self, action, tid):
        self.arrivals.setdefault(tid, []).append(action)

    def _again(self, action, p, tid):
        key = (action, json.dumps(p, sort_keys=True))
        if key in self.taken:
            self.taken.remove(key)
            self.resent.append((action, tid))
        else:
            self.dups.append((action, tid))

    def answer(self, action, p):
        self.log.append((action, p))
        ok = {"status": "Accepted"}
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": timefmt.iso(self.now()), "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": timefmt.iso(self.now())}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted" if p["idTag"] == TAG else "Invalid"}}
        if action == "StartTransaction":
            key = (p["connectorId"], p["idTag"], p["meterStart"], p["timestamp"])
            for tid, t in self.tx.items():
                s = t["start"]
                if (s["connectorId"], s["idTag"], s["meterStart"], s["timestamp"]) == key:
                    self._arrived(action, tid)
                    self._again(action, p, tid)
                    return {"transactionId": tid, "idTagInfo": ok}
            tid = 1001 + len(self.tx)
            self.tx[tid] = {"start": p, "stop": None, "mv": []}
            self._arrived(action, tid)
            return {"transactionId": tid, "idTagInfo": ok}
        if action == "StopTransaction":
            tid = p["transactionId"]
            t = self.tx.get(tid)
            self._arrived(action, tid)
            if t is None:
                self.unknown.append((action, tid))
            elif t["stop"] is not None:
                self._again(action, p, tid)
            else:
                t["stop"] = p
            return {}
        if action == "MeterValues" and "transactionId" in p:
            tid = p["transactionId"]
            t = self.tx.get(tid)
            self._arrived(action, tid)
            if t is None:
                self.unknown.append((action, tid))
            elif p in t["mv"]:
                self._again(action, p, tid)
            elif t["stop"] is not None:
                self.late.append(tid)
            else:
                t["mv"].append(p)
        return {}


class Wallbox(Box):
    """The hostile test's box with this test's settings and a backend that may be down."""

    async def _link(self):
        if self.backend.down:
            self.backend.refused += 1
            raise OSError(111, "connection refused")
        self.backend.connections += 1
        self.link = Link(self.backend)
        return self.link

    def boot(self):
        self.board.power_on()
        self.app = App(self.board, config.make(CFG))
        self.cp = chargepoint.attach(self.app, None, cp_id="CP_OFF", connect=self._connect_fn,
                                     reset_hook=self.resets.append, cfg_overrides=OCPP, timeout_ms=5000)
        self._tasks = [asyncio.create_task(self.app.run()),
                       asyncio.create_task(self.cp.run(Backoff(first_ms=500, max_ms=5000)))]
        if self._world is None:
            self._world = asyncio.create_task(self.world.run())

    async def plug_and_charge(self, tag):
        self.world.ev.plug()
        await until(lambda: self.app.session.plugged, "plugged")
        assert await self.cp.tx.authorize(tag) == "Accepted"
        await until(lambda: self.app.charger.state == chg.CHARGING, "charging")
        return self.app.session.current

    async def stop_local(self):
        self.app.session.request_stop("Local")
        await until(lambda: self.app.charger.state == chg.FINISHED, "finished")
        await self.unplug()

    async def unplug(self):
        self.world.ev.unplug()
        await until(lambda: not self.app.session.plugged, "unplugged")


def _energy(mv):
    """The import register of one MeterValues or transactionData entry, in Wh."""
    vals = [v for v in mv["sampledValue"] if v.get("measurand") == ENERGY]
    assert len(vals) == 1 and vals[0]["unit"] == "Wh", mv
    return float(vals[0]["value"])


def test_minutes_offline_a_reboot_a_power_loss_and_cuts_mid_call_lose_nothing(monkeypatch):
    monkeypatch.setattr(clock, "time", _Rtc())
    root = tempfile.mkdtemp(prefix="evse-offline-")
    errors = Errors()
    saved_level, log.level = log.level, log.ERROR
    log.set_sink(errors)
    backend = Csms()
    box = Wallbox(root, backend)
    want = []  # what each transaction must look like at the backend, in order
    seen = {}

    def expect(ses, reason, t0, t1, wh=None):
        want.append({"tag": ses.id_tag, "reason": reason, "wh0": ses.start_wh,
                     "wh": ses.energy_wh if wh is None else wh, "t0": t0, "t1": t1})

    async def main():
        box.boot()
        try:
            # (1) online: registered, a session starts and its first MeterValues arrive
            await until(lambda: box.cp.registered.is_set() and box.cp.status.sent >= 1, "boot")
            t0 = backend.now()
            s1 = await box.plug_and_charge(TAG)  # Authorize online: the idTag is cached
            await until(lambda: backend.tx and backend.tx[1001]["mv"], "first MeterValues", 120)
            assert box.cp.txq.remote_id(s1.sid) == 1001

            # (2) the backend goes away for DOWN_S: refused connections
            backend.down = True
            await box.link.close()
            t_down = backend.now()
            heard = len(backend.log)
            await until(lambda: not box.cp.rpc.connected, "offline")
            await asyncio.sleep(180)  # session 1 goes on: its MeterValues wait in the journal
            seen["queued_mv"] = len(box.cp.txq)
            await box.stop_local()
            expect(box.app.session.last, "Local", t0, backend.now())
            await asyncio.sleep(20)

            # a second session entirely offline: the cache authorises, nobody else
            box.world.ev.plug()
            await until(lambda: box.app.session.plugged, "plugged")
            assert await box.cp.tx.authorize(STRANGER) == "Invalid"
            assert box.app.session.current is None
            t2 = backend.now()
            assert await box.cp.tx.authorize(TAG) == "Accepted"
            await until(lambda: box.app.charger.state == chg.CHARGING, "charging offline")
            await asyncio.sleep(130)
            await box.unplug()  # no stop request: the car leaves
            expect(box.app.session.last, "EVDisconnected", t2, backend.now())

            # the firmware reboots while offline: the journal is what it was
            await asyncio.sleep(10)
            before = journal_view(box.cp.txq)
            await box.power_cut()
            box.boot()
            assert journal_view(box.cp.txq) == before and before[1] == []
            await asyncio.sleep(10)

            # a third session (the cache survived the reboot), cut by a power loss
            t3 = backend.now()
            s3 = await box.plug_and_charge(TAG)
            await asyncio.sleep(max(120, t_down + DOWN_S - 60 - backend.now()))  # cut late in the downtime
            seen["cut_wh"] = box.board.meter.energy_wh
            await box.power_cut()
            rec = box.app.record.open  # its last checkpoint: what the backend must get
            assert rec is not None and rec["id"] == s3.sid
            expect(s3, "PowerLoss", t3, t3 + rec.get("ts_last", rec["ts"]) - s3.start_s, rec["wh_last"])
            box.world.ev.unplug()  # the car leaves while the power is off
            await asyncio.sleep(30)
            box.boot()
            q = box.cp.txq
            assert q.open == [] and q.last_started == s3.sid  # its Stop queued at boot
            await asyncio.sleep(max(0, t_down + DOWN_S - backend.now()))
            assert not box.cp.rpc.connected and len(backend.log) == heard and backend.refused > 20
            seen["pending"] = len(q)

            # (3) the backend returns: the journal drains
            backend.down = False
            await until(lambda: len(box.cp.txq) == 0 and len(backend.tx) == 3
                        and all(t["stop"] for t in backend.tx.values()), "journal delivered", 120)
            seen["t_back"] = backend.now()

            # (4) connections cut mid-CALL: the StartTransaction, then the StopTransaction
            backend.cut.add("StartTransaction")
            t4 = backend.now()
            s4 = await box.plug_and_charge(TAG)
            await until(lambda: box.cp.txq.remote_id(s4.sid), "start answered after the cut", 60)
            assert box.cp.txq.remote_id(s4.sid) == 1004
            await asyncio.sleep(130)
            backend.cut.add("StopTransaction")
            await box.stop_local()
            expect(box.app.session.last, "Local", t4, backend.now())
            await until(lambda: len(box.cp.txq) == 0 and backend.tx[1004]["stop"]
                        and len(backend.resent) == 2, "stop delivered after the cut", 60)
            seen["connections"] = backend.connections
            seen["journal"] = journal_view(box.cp.txq)
        finally:
            await box.shutdown()
        seen["on_disk"] = journal_view(txq.TxQueue(os.path.join(root, "ocpp_tx.log")))

    try:
        vtime.run(main())
    finally:
        log.set_sink(None)
        log.level = saved_level
        shutil.rmtree(root, ignore_errors=True)

    b = backend
    print("offline: %d messages journaled during the downtime, %d refused connects, MeterValues %s"
          % (seen["pending"], b.refused, [len(t["mv"]) for _tid, t in sorted(b.tx.items())]))
    assert errors.lines == [], errors.lines
    assert b.invalid == [], b.invalid  # every message schema-valid
    assert b.dups == [] and b.unknown == [] and b.late == [], (b.dups, b.unknown, b.late)
    # the only duplicates: the two messages whose answer the cuts lost, sent once more
    assert b.resent == [("StartTransaction", 1004), ("StopTransaction", 1004)] and b.taken == []
    assert b.cut == set() and seen["connections"] == 4  # first, after the downtime, two cuts
    assert seen["queued_mv"] >= 3 and seen["pending"] >= 12
    acts = [a for a, _p in b.log]
    # registered at the first boot and at the first connection after the downtime (the
    # reboots were offline); the cuts' reconnections are no boots; Authorize online only
    assert acts.count("BootNotification") == 2 and acts.count("Authorize") == 2
    # the journal empty, nothing left open: in memory and on the filesystem
    assert seen["journal"][:2] == ([], []) and seen["on_disk"][:2] == ([], [])

    assert sorted(b.tx) == [1001, 1002, 1003, 1004] and len(want) == 4
    prev_stop = None
    for tid, w in zip(sorted(b.tx), want):
        t = b.tx[tid]
        start, stop = t["start"], t["stop"]
        what = "transaction %d" % tid
        assert stop is not None, what
        assert start["idTag"] == w["tag"] == TAG and start["connectorId"] == 1, what
        assert stop["reason"] == w["reason"], (what, stop["reason"])
        # the readings the meter had
        assert (start["meterStart"], stop["meterStop"]) == (w["wh0"], w["wh"]), (what, start, stop, w)
        assert stop["meterStop"] > start["meterStart"], what
        if prev_stop is not None:
            assert start["meterStart"] >= prev_stop["meterStop"], what
        data = stop["transactionData"]
        assert _energy(data[-1]) == stop["meterStop"] and data[-1]["sampledValue"][0]["context"] == "Transaction.End"
        assert _energy(data[0]) == start["meterStart"] and data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
        # its times as long as the virtual time that passed, on the backend's clock
        ts0, ts1 = timefmt.parse(start["timestamp"]), timefmt.parse(stop["timestamp"])
        assert abs(ts0 - w["t0"]) <= 2 and abs(ts1 - w["t1"]) <= 2, (what, start["timestamp"], stop["timestamp"], w)
        if prev_stop is not None:
            assert ts0 >= timefmt.parse(prev_stop["timestamp"]), what
        # MeterValues every minute, within the transaction, the register climbing
        assert len(t["mv"]) >= (ts1 - ts0) // 60 - 1 and t["mv"], (what, len(t["mv"]))
        last = start["meterStart"]
        for mv in t["mv"]:
            assert mv["connectorId"] == 1
            for v in mv["meterValue"]:
                assert ts0 <= timefmt.parse(v["timestamp"]) <= ts1, (what, v["timestamp"])
                wh = _energy(v)
                assert last <= wh <= stop["meterStop"], (what, last, wh)
                last = wh
        prev_stop = stop
    # the power loss: the last persisted reading, at most a checkpoint before the cut
    assert 0 <= seen["cut_wh"] - b.tx[1003]["stop"]["meterStop"] <= 10
    # arrival order: each transaction's MeterValues between its StartTransaction and its
    # StopTransaction (twice each for the one the cuts hit)
    assert sorted(b.arrivals) == sorted(b.tx)
    for tid, seq in b.arrivals.items():
        n = 2 if tid == 1004 else 1
        assert seq[:n] == ["StartTransaction"] * n and seq[-n:] == ["StopTransaction"] * n, (tid, seq)
        assert seq[n:-n] == ["MeterValues"] * len(b.tx[tid]["mv"]), (tid, seq)
    # the backend's clock saw the downtime pass
    first_start = timefmt.parse(b.tx[1001]["start"]["timestamp"])
    # 1003's stop is its last checkpoint before the cut, a minute before the backend returned
    assert timefmt.parse(b.tx[1003]["stop"]["timestamp"]) - first_start >= DOWN_S - 120
    assert timefmt.parse(b.tx[1004]["stop"]["timestamp"]) - first_start >= DOWN_S
    assert seen["t_back"] - first_start >= DOWN_S
