"""Property tests of firmware/storage: random record lists, cut points, bit flips and
operation sequences checked against a plain-list model.

CPython only: hypothesis does not exist for MicroPython (the fixed cases of the same
properties run on both runtimes in tests/common/test_storage_*.py).
"""
import json
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.storage import kv
from firmware.storage.journal import Journal
from lib import log
from tests.common.test_storage_support import NoFsync

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])

payloads = st.lists(st.binary(max_size=300), max_size=25)


class _Dir:
    """A temp directory, logs muted, fsync skipped (hundreds of examples, busy host)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="evse-props-", dir="/tmp")
        log.set_sink(lambda *a: None)
        self.nosync = NoFsync().__enter__()
        return self.path

    def __exit__(self, *exc):
        self.nosync.__exit__()
        log.set_sink(None)
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def _build(d, items):
    path = d + "/j"
    j = Journal(path)
    ends = []
    for p in items:
        j.append(p)
        ends.append(j.size)
    with open(path, "rb") as f:
        return path, f.read(), ends


def _put(path, data):
    with open(path, "wb") as f:
        f.write(data)


@_SETTINGS
@given(payloads, st.data(), st.binary(max_size=40))
def test_cut_anywhere_plus_junk_gives_a_prefix(items, data, junk):
    with _Dir() as d:
        path, raw, ends = _build(d, items)
        cut = data.draw(st.integers(0, len(raw)), label="cut")
        _put(path, raw[:cut] + junk)
        j = Journal(path)
        got = list(j.records())
        want = list(enumerate(items))
        whole = sum(1 for e in ends if e <= cut)
        assert got == want[:len(got)]
        assert len(got) >= whole
        if not junk:
            assert len(got) == whole
        seq = j.append(b"tail")
        assert seq >= len(got)
        assert list(Journal(path).records()) == got + [(seq, b"tail")]


@_SETTINGS
@given(payloads.filter(bool), st.data())
def test_one_flipped_bit_gives_a_prefix_and_no_reuse(items, data):
    with _Dir() as d:
        path, raw, _ends = _build(d, items)
        pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
        bit = data.draw(st.integers(0, 7), label="bit")
        bad = bytearray(raw)
        bad[pos] ^= 1 << bit
        _put(path, bytes(bad))
        j = Journal(path)
        got = list(j.records())
        assert got == list(enumerate(items))[:len(got)]
        if pos >= 16:
            assert len(got) < len(items)
        # Everything intact after the damage is counted, and its numbers stay used.
        assert j.next_seq >= len(got)
        seq = j.append(b"x")
        assert list(Journal(path).records()) == got + [(seq, b"x")]


ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.binary(max_size=80)),
    st.tuples(st.just("compact"), st.integers(0, 2 ** 16)),
    st.tuples(st.just("rewrite"), st.lists(st.binary(max_size=40), max_size=4)),
    st.tuples(st.just("reopen"), st.none()),
), max_size=30)


@_SETTINGS
@given(ops)
def test_operations_match_a_list_model(seq_ops):
    with _Dir() as d:
        path = d + "/j"
        j = Journal(path, max_bytes=512)
        model = []
        nxt = 0
        for op, arg in seq_ops:
            if op == "append":
                assert j.append(arg) == nxt
                model.append((nxt, arg))
                nxt += 1
            elif op == "compact":
                def keep(s, p, mask=arg):
                    return (mask >> (s % 16)) & 1 == 1
                assert j.compact(keep) == sum(1 for s, p in model if keep(s, p))
                model = [(s, p) for s, p in model if keep(s, p)]
            elif op == "rewrite":
                assert j.rewrite(arg) == nxt
                model = [(nxt + i, p) for i, p in enumerate(arg)]
                nxt += len(arg)
            else:
                j = Journal(path, max_bytes=512)
                assert j.bad_records == 0 and j.torn_tails == 0
            assert list(j.records()) == model
            assert j.next_seq == nxt and len(j) == len(model)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 31, 2 ** 31) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
docs = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@_SETTINGS
@given(docs, docs, st.data())
def test_kv_cut_new_file_anywhere_gives_old_or_new(old, new, data):
    with _Dir() as d:
        path = d + "/cfg.json"
        s = kv.Store(path)
        s.save(old)
        s.save(old)
        enc = kv.encode(new, s.generation + 1)
        cut = data.draw(st.integers(0, len(enc)), label="cut")
        where = data.draw(st.sampled_from([".tmp", ""]), label="file")
        if where == "":
            # a filesystem that writes in place: main partial, previous generation kept
            shutil.copy(path, path + ".bak")
        _put(path + where, enc[:cut])
        got = kv.Store(path).load({"default": 1})
        expect_new = cut == len(enc)
        assert json.dumps(got, sort_keys=True) == json.dumps(new if expect_new else old,
                                                            sort_keys=True)
