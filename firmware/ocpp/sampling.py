"""Meter values: sampled every MeterValueSampleInterval seconds of a transaction
(Sample.Periodic), clock-aligned every ClockAlignedDataInterval seconds from midnight
of the backend's clock (Sample.Clock), and the readings StopTransaction carries as
transactionData (StopTxnSampledData, StopTxnAlignedData, Transaction.Begin/End).

MeterValues of a transaction go through the transaction journal (``txq``); aligned
values outside a transaction are sent for connector 1 (the meter is the connector's,
no second main meter) when connected, best effort, not journaled.

The StopTransaction readings are kept in a small journal of their own
(``ocpp_txdata.log``, emptied when a transaction begins) so that a power loss does
not lose them: Transaction.Begin, the first ``_KEEP_FIRST`` interval readings, and
after those only the latest sampled and the latest aligned one (older ones are
dropped when the file is compacted). When the StopTransaction is built, readings are
dropped from the middle of that list until the message fits one record of the
transaction journal (2 KB: with the energy register alone all of them fit, about
1.7 KB; with all five measurands on three phases only Transaction.End does);
Transaction.Begin and then Transaction.End are dropped last.
"""
import json

from micropython import const

from lib import clock, log
from firmware.ocpp import meter, timefmt, txq
from firmware.storage import fs
from firmware.storage.journal import Journal

_TAG = "ocpp.mv"
_IDLE_MS = const(1000)
_DAY_S = const(86400)
_KEEP_FIRST = const(8)  # interval readings kept from the start of a transaction
_FILE_BYTES = const(6144)  # compaction threshold of the readings' journal
_RECORD = const(2048)
_WRAP = const(64)  # txq's record text around a payload ({"m":..,"a":..,"l":..,"p":})
_LATE_S = const(10)  # an aligned reading later than this (and one interval) is skipped

# record kinds of the readings' journal
_BEGIN = "b"
_FIRST = "f"
_LAST_SAMPLED = "s"
_LAST_ALIGNED = "a"


def next_boundary(t, interval):
    """The first clock-aligned instant after ``t`` (seconds): multiples of ``interval``
    from midnight; an interval that does not divide the day restarts at midnight."""
    sod = t % _DAY_S
    midnight = t - sod
    b = midnight + (sod // interval + 1) * interval
    return b if b < midnight + _DAY_S else midnight + _DAY_S


class Sampling:
    """The meter-value task of a ChargePoint (``run``) and the StopTransaction data."""

    def __init__(self, cp):
        self.cp = cp
        self.j = Journal(fs.join(cp.app.board.fs_root, "ocpp_txdata.log"), _FILE_BYTES, _RECORD)
        self.sid = None  # the transaction being sampled
        self._n = 0  # first readings kept of it
        self._last = {}  # kind -> seq of the latest "last" reading (the others are stale)
        self._t_sample = clock.ticks_ms()
        self._next_aligned = None  # backend seconds of the next aligned reading
        self._ai = 0  # the ClockAlignedDataInterval it was computed for
        self.free_sent = 0  # aligned MeterValues sent outside a transaction

    # ---- transaction bounds (from tx) -----------------------------------------------

    def begin(self, sid):
        """A transaction begins: sample it from now, record its Transaction.Begin."""
        self.sid = sid
        self._n = 0
        self._last = {}
        self._t_sample = clock.ticks_ms()
        if len(self.j):
            try:
                self.j.rewrite(())
            except OSError as e:  # the readings of older transactions stay: skipped by id
                log.warn(_TAG, "readings not cleared: %s", e)
        names = self._stop_names()
        if names:
            self._keep(_BEGIN, {"timestamp": self.cp.now(), "sampledValue": meter.sampled(
                self.cp.app, names, "Transaction.Begin")})

    def stop_data(self, sid, p, wh=None):
        """Put the transactionData of transaction ``sid`` into StopTransaction ``p``:
        its kept readings and Transaction.End (now from the meter; ``wh``: only the
        energy register, for a transaction a power loss ended). Sampling ends."""
        if sid == self.sid:
            self.sid = None
        try:
            out = self._read(sid)
        except OSError as e:
            log.error(_TAG, "readings of %d unreadable: %s", sid, e)
            out = []
        names = self._stop_names()
        if names:
            if wh is None:
                sv = meter.sampled(self.cp.app, names, "Transaction.End")
            else:
                sv = meter.energy(wh, "Transaction.End") if meter.ENERGY in names else []
            if sv:
                out.append({"timestamp": p["timestamp"], "sampledValue": sv})
        if not out:
            return
        # Fit one record of the transaction journal: drop from the middle first.
        room = self.cp.txq.j.max_record - _WRAP - len(json.dumps(p)) - len(', "transactionData": ')
        sizes = [len(json.dumps(x)) + 2 for x in out]
        total = sum(sizes) + 1
        n = len(out)
        while out and total > room:
            i = len(out) // 2 if len(out) > 2 else 0
            total -= sizes.pop(i)
            out.pop(i)
        if len(out) < n:
            log.warn(_TAG, "transaction %d: %d readings left out of StopTransaction", sid, n - len(out))
        if out:
            p["transactionData"] = out

    def _stop_names(self):
        cfg = self.cp.cfg
        names = cfg.csl("StopTxnSampledData")
        for x in cfg.csl("StopTxnAlignedData"):
            if x not in names:
                names.append(x)
        return names

    def _keep(self, kind, value):
        """Persist one reading of the running transaction (see the module's note)."""
        if kind in (_LAST_SAMPLED, _LAST_ALIGNED) and self._n < _KEEP_FIRST:
            kind = _FIRST
            self._n += 1
        text = '{"l":%d,"k":"%s","v":%s}' % (self.sid, kind, json.dumps(value))
        try:
            seq = self.j.append(text.encode())
            if kind != _FIRST and kind != _BEGIN:
                self._last[kind] = seq
            if self.j.over_limit():
                live = list(self._last.values())
                self.j.compact(lambda s, raw: s in live or _kind(raw) in (_BEGIN, _FIRST))
        except (OSError, ValueError) as e:  # full medium, a reading too long: not fatal
            log.warn(_TAG, "reading not kept: %s", e)

    def _read(self, sid):
        want = ('{"l":%d,' % sid).encode()
        n = len(want)
        out = []
        last = {}  # kind -> (seq, reading) of its latest
        for seq, raw in self.j.records():
            if raw[:n] != want:
                continue
            try:
                r = json.loads(raw)
                k = r["k"]
                v = r["v"]
            except (ValueError, KeyError, TypeError):
                continue
            if k == _BEGIN or k == _FIRST:
                out.append(v)
            else:
                last[k] = (seq, v)
        lasts = list(last.values())
        if len(lasts) == 2 and lasts[0][0] > lasts[1][0]:
            lasts.reverse()
        for _seq, v in lasts:
            out.append(v)
        return out

    # ---- the task ---------------------------------------------------------------------

    async def run(self):
        """Meter values every interval (until cancelled)."""
        while True:
            try:
                ms = self.tick()
            except Exception as e:  # a full journal, a driver error: try again later
                log.error(_TAG, "meter values: %r", e)
                ms = _IDLE_MS
            await clock.sleep_ms(ms)

    def tick(self):
        """Take the readings that are due; returns the ms until the next may be."""
        cp = self.cp
        cfg = cp.cfg
        s = cp.session.current
        sid = self.sid if s is not None and s.sid == self.sid else None
        wait = _IDLE_MS
        iv = cfg.get("MeterValueSampleInterval") * 1000
        if sid is not None and iv > 0:
            now = clock.ticks_ms()
            left = iv - clock.ticks_diff(now, self._t_sample)
            if left <= 0:
                self._t_sample = now
                self._reading(sid, cp.now(), "Sample.Periodic", "MeterValuesSampledData",
                              "StopTxnSampledData", _LAST_SAMPLED)
                left = iv
            if left < wait:
                wait = left
        ai = cfg.get("ClockAlignedDataInterval")
        if ai <= 0:
            self._next_aligned = None
            return wait
        t = cp.time_s()
        nxt = self._next_aligned
        if nxt is None or ai != self._ai or nxt - t > ai:  # first, changed, clock went back
            self._ai = ai
            self._next_aligned = next_boundary(t, ai)
        elif t >= nxt:
            self._next_aligned = next_boundary(t, ai)
            if t - nxt <= ai or t - nxt <= _LATE_S:  # not after a jump of the clock
                self._reading(sid, timefmt.iso(nxt), "Sample.Clock", "MeterValuesAlignedData",
                              "StopTxnAlignedData", _LAST_ALIGNED)
        return wait

    def _reading(self, sid, ts, context, send_key, stop_key, kind):
        cp = self.cp
        names = cp.cfg.csl(send_key)
        if names:
            mv = [{"timestamp": ts, "sampledValue": meter.sampled(cp.app, names, context)}]
            if sid is not None:
                cp.txq.add(txq.METER, sid, {"connectorId": 1, "transactionId": 0, "meterValue": mv})
            elif cp.rpc.connected and cp.registered.is_set():
                import asyncio

                asyncio.create_task(self._send_free({"connectorId": 1, "meterValue": mv}))
        names = cp.cfg.csl(stop_key) if sid is not None else None
        if names:
            self._keep(kind, {"timestamp": ts, "sampledValue": meter.sampled(cp.app, names, context)})

    async def _send_free(self, p):
        from firmware.ocpp.rpc import RpcError

        try:
            await self.cp.rpc.call("MeterValues", p, schema={})
            self.free_sent += 1
        except RpcError as e:
            log.info(_TAG, "aligned MeterValues not sent: %s", e)


def _kind(raw):
    # the kind letter right after '{"l":<sid>,"k":"'
    i = raw.find(b'"k":"')
    return chr(raw[i + 5]) if i > 0 else ""
