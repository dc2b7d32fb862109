"""The transaction-message queue: StartTransaction, StopTransaction and the
MeterValues of transactions go into a ``Journal`` before they are sent and leave it
only when the central system answered (or the message ran out of attempts).

Records (JSON text; a message record starts with ``{"m":<id>,`` so it can be found
without parsing the others)::

    {"m": id, "a": action, "l": local tx, "p": payload}   a message to deliver
    {"d": id, "l": local tx, "r": backend tx | null}       delivered (r: Start answered)
    {"snap": 1, "s": last local tx started, "o": [open], "map": [[l, r]]}

A message's id is the journal sequence number of its record (never reused).

The local transaction id is the session id. Messages of a transaction carry it and get
the backend's transactionId when they are sent, so a StartTransaction answered after a
reconnect or a reboot maps the messages queued behind it. ``open`` lists the
transactions whose StartTransaction is journaled but whose StopTransaction is not: at
boot they were cut by a power loss. Compaction rewrites a snapshot and the pending
messages only.
"""
import json

from micropython import const

from lib import log
from firmware.storage.journal import Journal

_TAG = "ocpp.txq"
_MAX_RECORD = const(2048)

START = "StartTransaction"
STOP = "StopTransaction"
METER = "MeterValues"


class TxQueue:
    """Pending transaction messages in order, persisted at ``path``."""

    def __init__(self, path, max_bytes=8192, max_pending=100):
        self.j = Journal(path, max_bytes, _MAX_RECORD)
        self.max_pending = max_pending
        self.pending = []  # message ids, oldest first
        self._local = {}  # message id -> its local tx
        self.map = {}  # local tx -> backend transactionId (None: its Start was dropped)
        self.open = []  # local tx with a Start but no Stop journaled
        self.last_started = 0
        self.dropped = 0  # MeterValues not queued (queue full)
        self.given_up = 0  # messages dropped after TransactionMessageAttempts
        self._head = None  # (id, action, local, payload) of pending[0], loaded
        self.on_add = None  # called after a message was queued (wakes the sender)
        for _seq, rec in self.j.records():
            self._replay(rec)

    def _replay(self, raw):
        try:
            r = json.loads(raw)
        except ValueError:
            log.warn(_TAG, "unreadable record skipped")
            return
        if "m" in r:
            m = r["m"]
            self.pending.append(m)
            self._local[m] = r["l"]
            self._track(r["a"], r["l"])
        elif "d" in r:
            if r["d"] in self.pending:
                self.pending.remove(r["d"])
                del self._local[r["d"]]
            if "r" in r:
                self.map[r["l"]] = r["r"]
        elif "snap" in r:
            self.last_started = max(self.last_started, r["s"])
            self.open = r["o"]
            for l, t in r["map"]:
                self.map[l] = t

    def _track(self, action, local):
        if action == START:
            if local not in self.open:
                self.open.append(local)
            if local > self.last_started:
                self.last_started = local
        elif action == STOP and local in self.open:
            self.open.remove(local)

    def __len__(self):
        return len(self.pending)

    def add(self, action, local, payload):
        """Journal a message (durable on return); returns its id, or None when a
        MeterValues was dropped because ``max_pending`` messages wait already."""
        if action == METER and len(self.pending) >= self.max_pending:
            self.dropped += 1
            return None
        # The journal's sequence number as the id: it is never handed out twice, not
        # even after a cut that lost records.
        m = self.j.next_seq
        text = '{"m":%d,"a":"%s","l":%d,"p":%s}' % (m, action, local, json.dumps(payload))
        self.j.append(text.encode())
        self.pending.append(m)
        self._local[m] = local
        self._track(action, local)
        if self.on_add is not None:
            self.on_add()
        return m

    def head(self):
        """``(id, action, local tx, payload)`` of the oldest pending message, or None."""
        if not self.pending:
            return None
        m = self.pending[0]
        h = self._head
        if h is not None and h[0] == m:
            return h
        want = ('{"m":%d,' % m).encode()
        n = len(want)
        g = self.j.records(view=True)
        try:
            for _seq, raw in g:
                if bytes(raw[:n]) == want:
                    r = json.loads(bytes(raw))
                    self._head = h = (m, r["a"], r["l"], r["p"])
                    return h
        finally:
            g.close()
        # Listed but gone (a record that went bad): nothing to send for it.
        log.warn(_TAG, "message %d lost from the journal", m)
        self.pending.pop(0)
        self._local.pop(m, None)
        return self.head()

    def done(self, m, local, remote=-1):
        """Message ``m`` is through (answered or given up); ``remote``: the backend's
        transactionId a StartTransaction got (None: the transaction is unknown to it)."""
        if remote == -1:
            text = '{"d":%d,"l":%d}' % (m, local)
        else:
            text = '{"d":%d,"l":%d,"r":%s}' % (m, local, json.dumps(remote))
            self.map[local] = remote
        self.j.append(text.encode())
        if m in self.pending:
            self.pending.remove(m)
            del self._local[m]
        self._head = None
        if self.j.over_limit():
            self.compact()

    def remote_id(self, local):
        return self.map.get(local)

    def compact(self):
        """Rewrite the journal as one snapshot plus the pending messages."""
        live = self.open[:]
        for m in self.pending:
            if self._local[m] not in live:
                live.append(self._local[m])
        keep = [[l, self.map[l]] for l in self.map if l in live]
        snap = json.dumps({"snap": 1, "s": self.last_started,
                           "o": self.open, "map": keep}).encode()
        pend = self.pending

        def payloads():
            yield snap
            for _seq, raw in self.j.records():
                if raw[:5] == b'{"m":':
                    if int(raw[5:raw.find(b",")]) in pend:
                        yield raw
        self.j.rewrite(payloads())
        self.map = {}
        for l, t in keep:
            self.map[l] = t
        self._head = None
