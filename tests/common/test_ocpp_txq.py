"""The transaction-message journal: order, the backend's transactionId, reboots, open
transactions, compaction, and a journal cut at every byte."""
import os

import tools  # noqa: F401
from firmware.ocpp import txq
from firmware.ocpp.txq import TxQueue
from tests.common.test_storage_support import Sandbox


def _fill(q):
    q.add(txq.START, 1, {"idTag": "A", "meterStart": 10})
    q.add(txq.METER, 1, {"transactionId": 0, "v": 1})
    q.add(txq.STOP, 1, {"transactionId": 0, "meterStop": 20})
    q.add(txq.START, 2, {"idTag": "B", "meterStart": 20})


def _drain(q, first_tx=500, limit=100):
    out = []
    while q.head() is not None and limit:
        m, action, local, p = q.head()
        out.append((action, local, q.remote_id(local)))
        q.done(m, local, first_tx + local if action == txq.START else -1)
        limit -= 1
    return out


def test_in_order_with_mapping_and_open_transactions():
    with Sandbox("txq") as sb:
        q = TxQueue(sb.path("tx.log"))
        _fill(q)
        assert len(q) == 4 and q.open == [2] and q.last_started == 2
        assert q.head()[1:] == (txq.START, 1, {"idTag": "A", "meterStart": 10})
        got = _drain(q)
        assert got == [(txq.START, 1, None), (txq.METER, 1, 501), (txq.STOP, 1, 501),
                       (txq.START, 2, None)]
        assert q.remote_id(2) == 502 and len(q) == 0


def test_survives_reboots_at_every_step():
    with Sandbox("txq") as sb:
        path = sb.path("tx.log")
        q = TxQueue(path)
        _fill(q)
        got = []
        while True:
            q = TxQueue(path)  # a reboot before each message
            h = q.head()
            if h is None:
                break
            got.append((h[1], h[2], q.remote_id(h[2])))
            q.done(h[0], h[2], 700 + h[2] if h[1] == txq.START else -1)
        assert got == [(txq.START, 1, None), (txq.METER, 1, 701), (txq.STOP, 1, 701),
                       (txq.START, 2, None)]
        q = TxQueue(path)
        assert q.open == [2] and q.remote_id(2) == 702 and q.last_started == 2


def test_compaction_keeps_pending_messages_and_needed_ids():
    with Sandbox("txq") as sb:
        path = sb.path("tx.log")
        q = TxQueue(path, max_bytes=1024)
        for sid in range(1, 30):  # many finished transactions, all delivered
            q.add(txq.START, sid, {"n": sid})
            _drain(q, 1000)
            q.add(txq.STOP, sid, {"transactionId": 0})
            _drain(q, 1000)
        q.add(txq.START, 30, {"n": 30})
        _drain(q, 1000)
        q.add(txq.METER, 30, {"transactionId": 0, "x": "y" * 50})
        assert q.j.compactions > 0 and q.j.size < 1400
        q2 = TxQueue(path)
        assert len(q2) == 1 and q2.head()[1:3] == (txq.METER, 30)
        assert q2.remote_id(30) == 1030 and q2.open == [30] and q2.last_started == 30
        assert q2.remote_id(3) is None  # finished long ago: forgotten


def test_meter_values_dropped_beyond_the_bound_but_never_start_or_stop():
    with Sandbox("txq") as sb:
        q = TxQueue(sb.path("tx.log"), max_pending=3)
        q.add(txq.START, 1, {})
        q.add(txq.METER, 1, {})
        q.add(txq.METER, 1, {})
        assert q.add(txq.METER, 1, {}) is None and q.dropped == 1
        assert q.add(txq.STOP, 1, {}) is not None and len(q) == 4


def test_cut_at_every_byte_loses_nothing_acknowledged():
    """A power cut at any byte of the file: what was journaled before stays, in order,
    and a message is pending unless its done record survived."""
    with Sandbox("txq") as sb:
        path = sb.path("tx.log")
        q = TxQueue(path)
        _fill(q)
        first = q.head()
        q.done(first[0], 1, 901)
        with open(path, "rb") as f:
            data = f.read()
        full = TxQueue(path)
        assert full.pending == [1, 2, 3]
        for cut in range(len(data) + 1):
            sb.clear()
            with open(path, "wb") as f:
                f.write(data[:cut])
            r = TxQueue(path)
            ids = r.pending[:]
            # always a prefix of the messages in order; done ones never come back unless
            # their done record is what was cut
            assert ids == [0, 1, 2, 3][:len(ids)] or ids == [1, 2, 3], (cut, ids)
            if cut == len(data):
                assert ids == [1, 2, 3] and r.remote_id(1) == 901
            nxt = r.add(txq.METER, 2, {})  # appends go on after whatever survived
            assert nxt not in ids
            assert TxQueue(path).pending == ids + [nxt]
        assert os.stat(path)[6] > 0
