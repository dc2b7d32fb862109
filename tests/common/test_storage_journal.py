import struct
from binascii import crc32

from firmware.storage import fs, salvage
from firmware.storage.journal import Journal, JournalError
from tests.common.support import raises
from tests.common.test_storage_support import NoFsync, Patch, Sandbox, get, put

_FHDR = 16
_HDR = 12
# Varied sizes: empty, tiny, around the 256-byte copy chunk, and one holding the record
# magic (0xFE 0xA5) so a resync has something to trip over.
_SIZES = (0, 1, 2, 5, 11, 30, 64, 3, 120, 7, 0, 50, 255, 256, 257, 17, 90, 1, 33, 9)


def _payload(i, n):
    if n >= 4 and i % 4 == 1:
        return (b"\xfe\xa5" * n)[:n]
    return bytes((i * 37 + j * 11) & 0xFF for j in range(n))


def _payloads():
    return [_payload(i, n) for i, n in enumerate(_SIZES)]


def _reference(sb):
    """Build a journal of 20 records; returns (file bytes, payloads, end offset of each)."""
    path = sb.path("ref.j")
    j = Journal(path)
    ends = []
    for p in _payloads():
        j.append(p)
        ends.append(j.size)
    data = get(path)
    assert len(data) == ends[-1]
    fs.remove_if_exists(path)
    return data, _payloads(), ends


def _items(j):
    return list(j.records())


def _fresh(sb, data, name="j"):
    sb.clear()
    path = sb.path(name)
    put(path, data)
    return path


def test_append_reopen_iterate():
    with Sandbox("jr") as sb:
        path = sb.path("sub", "log.j")  # parent created on open
        j = Journal(path)
        assert len(j) == 0 and j.next_seq == 0 and _items(j) == []
        want = []
        for i, p in enumerate(_payloads()):
            assert j.append(p) == i
            want.append((i, p))
        assert _items(j) == want and len(j) == 20 and j.next_seq == 20
        assert fs.size(path) == j.size
        j2 = Journal(path)
        assert _items(j2) == want and len(j2) == 20 and j2.next_seq == 20
        st = j2.stats()
        for k in ("torn_tails", "bad_records", "lost_bytes", "lost_records", "repairs"):
            assert st[k] == 0, k
        assert not fs.exists(path + ".lost") and not fs.exists(path + ".tmp")
        assert sb.logs == []


def test_payload_types_and_limits():
    with Sandbox("jl") as sb:
        path = sb.path("j")
        j = Journal(path, max_record=300)
        j.append(bytearray(b"ba"))
        j.append(memoryview(b"xmvx")[1:3])
        j.append(b"z" * 300)
        size = j.size
        raises(JournalError, j.append, b"z" * 301)
        assert j.size == size and fs.size(path) == size and j.next_seq == 3
        raises(JournalError, Journal, sb.path("k"), 1024, 70000)
        assert _items(Journal(path, max_record=300)) == [(0, b"ba"), (1, b"mv"), (2, b"z" * 300)]
        # A reader with a smaller max_record treats the long record as damage.
        small = Journal(sb.path("j2"), max_record=300)
        small.append(b"ok")
        small.append(b"q" * 200)
        assert _items(Journal(sb.path("j2"), max_record=100)) == [(0, b"ok")]


def test_records_view_mode_reuses_one_buffer():
    with Sandbox("jv") as sb:
        j = Journal(sb.path("j"))
        for p in _payloads():
            j.append(p)
        got = []
        for seq, mv in j.records(view=True):
            assert isinstance(mv, memoryview)
            got.append((seq, bytes(mv)))
        assert got == list(enumerate(_payloads()))


def test_cut_at_every_byte():
    with Sandbox("jc") as sb, NoFsync():
        data, payloads, ends = _reference(sb)
        for cut in range(len(data) + 1):
            path = _fresh(sb, data[:cut])
            j = Journal(path)
            k = 0
            while k < len(ends) and ends[k] <= cut:
                k += 1
            want = [(i, payloads[i]) for i in range(k)]
            assert _items(j) == want, cut
            at_boundary = cut == (ends[k - 1] if k else _FHDR)
            st = j.stats()
            if at_boundary:
                assert st["torn_tails"] + st["bad_records"] + st["repairs"] == 0, cut
                assert not fs.exists(path + ".lost")
            else:
                assert st["torn_tails"] + st["bad_records"] == 1, cut
                assert st["repairs"] == 1, cut
                if cut > _FHDR:
                    lost = cut - (ends[k - 1] if k else _FHDR)
                    assert st["lost_bytes"] == lost, cut
                    assert get(path + ".lost") == data[cut - lost:cut], cut
            assert fs.size(path) == j.size
            seq = j.append(b"after")
            assert seq >= k
            again = Journal(path)
            assert _items(again) == want + [(seq, b"after")], cut
            assert again.stats()["repairs"] == 0
            assert again.append(b"more") == seq + 1


def test_garbage_after_the_last_record():
    with Sandbox("jg") as sb, NoFsync():
        data, payloads, _ends = _reference(sb)
        want = list(enumerate(payloads))
        # a header claiming a payload longer than max_record, random-looking bytes, zeros
        # (what some filesystems show after a cut), a bare magic
        huge = struct.pack("<HHII", 0xA5FE, 0xFFFF, 20, 0)
        for junk in (b"\x00" * 40, bytes(range(7, 250, 3)), huge + b"x" * 30, b"\xfe\xa5", b"Z"):
            path = _fresh(sb, data + junk)
            j = Journal(path)
            assert _items(j) == want
            assert j.lost_bytes == len(junk) and j.repairs == 1
            assert j.torn_tails + j.bad_records == 1
            assert get(path + ".lost") == junk
            assert fs.size(path) == len(data)
            assert j.append(b"new") == 20
            assert _items(Journal(path)) == want + [(20, b"new")]


def test_stale_copy_of_an_old_record_is_not_taken_for_a_new_one():
    with Sandbox("js") as sb:
        data, payloads, ends = _reference(sb)
        stale = data[ends[2]:ends[3]]  # record 3, intact CRC, old sequence number
        path = _fresh(sb, data + stale)
        j = Journal(path)
        assert _items(j) == list(enumerate(payloads))
        assert j.bad_records == 1 and j.lost_records == 1 and j.next_seq == 20


def test_flipped_bit_in_the_middle_record_stops_there_and_keeps_the_rest_aside():
    with Sandbox("jf") as sb:
        data, payloads, ends = _reference(sb)
        mid = 8
        start = ends[mid - 1]
        pos = start + _HDR + 1  # inside record 8's payload
        bad = bytearray(data)
        bad[pos] ^= 0x04
        path = _fresh(sb, bytes(bad))
        j = Journal(path)
        # Policy: the valid prefix stays, everything from the bad record on is dropped.
        assert _items(j) == [(i, payloads[i]) for i in range(mid)]
        assert j.bad_records == 1 and j.torn_tails == 0
        assert j.lost_bytes == len(data) - start
        assert j.lost_records == len(payloads) - mid - 1  # all intact ones after it
        assert get(path + ".lost") == bytes(bad[start:])
        # Numbers handed out before are not handed out again.
        assert j.next_seq == 20
        assert j.append(b"x") == 20
        assert _items(Journal(path)) == [(i, payloads[i]) for i in range(mid)] + [(20, b"x")]
        # The intact records after the damage can be read back from the .lost file.
        rescued = list(salvage.scan(path + ".lost"))
        assert rescued == [(i, payloads[i]) for i in range(mid + 1, 20)]


def test_any_single_flipped_bit_yields_a_correct_prefix():
    with Sandbox("jb") as sb, NoFsync():
        data, payloads, _ends = _reference(sb)
        want = list(enumerate(payloads))
        for pos in range(0, len(data), 7):
            bad = bytearray(data)
            bad[pos] ^= 1 << (pos % 8)
            path = _fresh(sb, bytes(bad))
            j = Journal(path)
            got = _items(j)
            assert got == want[:len(got)], pos
            if pos >= _FHDR:
                assert len(got) < 20 and j.bad_records + j.torn_tails >= 1, pos
            seq = j.append(b"z")
            assert seq >= len(got)
            assert _items(Journal(path)) == got + [(seq, b"z")], pos


def test_damaged_file_header_keeps_the_records():
    with Sandbox("jh") as sb:
        data, payloads, _ends = _reference(sb)
        bad = bytearray(data)
        bad[0] ^= 0xFF
        path = _fresh(sb, bytes(bad))
        j = Journal(path)
        assert _items(j) == list(enumerate(payloads))
        assert j.bad_records == 1 and j.repairs == 1 and j.next_seq == 20
        j2 = Journal(path)
        assert j2.bad_records == 0 and _items(j2) == list(enumerate(payloads))


def test_compact_keeps_numbers_and_continues_numbering():
    with Sandbox("jk") as sb:
        path = sb.path("j")
        j = Journal(path)
        for i in range(10):
            j.append(("r" + str(i)).encode())
        assert j.compact(lambda seq, p: seq % 2 == 0) == 5
        evens = [(i, ("r" + str(i)).encode()) for i in range(0, 10, 2)]
        assert _items(j) == evens and len(j) == 5 and j.next_seq == 10
        assert j.append(b"new") == 10
        assert _items(Journal(path)) == evens + [(10, b"new")]
        j = Journal(path)
        assert j.compact(lambda seq, p: False) == 0
        assert _items(j) == [] and j.size == _FHDR and fs.size(path) == _FHDR
        j = Journal(path)
        assert j.next_seq == 11  # carried by the file header through an empty file
        assert j.append(b"n") == 11
        assert j.compactions == 0 and not fs.exists(path + ".tmp")


def test_rewrite_gives_fresh_numbers():
    with Sandbox("jw") as sb:
        path = sb.path("j")
        j = Journal(path)
        for i in range(3):
            j.append(b"old")
        assert j.rewrite([b"a", b"", b"c"]) == 3
        assert _items(j) == [(3, b"a"), (4, b""), (5, b"c")] and j.next_seq == 6
        assert _items(Journal(path)) == [(3, b"a"), (4, b""), (5, b"c")]
        # rewriting from the journal's own records streams from the old file
        j.rewrite(p + b"!" for _s, p in j.records())
        assert _items(Journal(path)) == [(6, b"a!"), (7, b"!"), (8, b"c!")]
        assert j.rewrite(()) == 9 and _items(j) == [] and Journal(path).next_seq == 9


def test_failed_rewrite_leaves_the_journal_untouched():
    with Sandbox("jx") as sb:
        path = sb.path("j")
        j = Journal(path, max_record=10)
        j.append(b"keep")
        before = get(path)
        raises(JournalError, j.rewrite, [b"ok", b"x" * 11])

        def boom(seq, p):
            raise ValueError("caller bug")

        raises(ValueError, j.compact, boom)
        assert get(path) == before and not fs.exists(path + ".tmp")
        assert _items(Journal(path, max_record=10)) == [(0, b"keep")]


def test_over_limit_and_hysteresis():
    with Sandbox("jo") as sb:
        j = Journal(sb.path("j"), max_bytes=400)
        while not j.over_limit():
            j.append(b"x" * 50)
        assert j.size > 400
        j.compact(lambda s, p: True)  # all live: cannot shrink
        assert j.size > 400 and not j.over_limit()
        n = 0
        while not j.over_limit():
            j.append(b"x" * 50)
            n += 1
        assert n == 2  # a quarter of max_bytes (100) more, in 62-byte records
        j.compact(lambda s, p: s >= j.next_seq - 2)
        assert not j.over_limit() and len(j) == 2


def test_cut_during_compaction_and_creation():
    with Sandbox("jt") as sb, NoFsync():
        data, payloads, _ends = _reference(sb)
        path = _fresh(sb, data)
        j = Journal(path)
        j.compact(lambda s, p: s % 3 == 0)
        new = get(path)
        kept = [(i, payloads[i]) for i in range(0, 20, 3)]
        for cut in range(0, len(new) + 1, 7):
            # The temp file cut anywhere while the old journal is still in place.
            path = _fresh(sb, data)
            put(path + ".tmp", new[:cut])
            j = Journal(path)
            assert _items(j) == list(enumerate(payloads)), cut
            assert not fs.exists(path + ".tmp")
        # FAT's remove-then-rename cut in the middle: only the finished temp file is left.
        sb.clear()
        put(path + ".tmp", new)
        assert _items(Journal(path)) == kept and not fs.exists(path + ".tmp")
        # A brand-new journal cut while its first temp file was written.
        for cut in range(_FHDR + 1):
            sb.clear()
            put(path + ".tmp", new[:cut])
            j = Journal(path)
            assert _items(j) == []
            seq = j.append(b"first")
            assert _items(Journal(path))[-1] == (seq, b"first")


def test_failed_append_leaves_no_hole():
    with Sandbox("ja") as sb:
        path = sb.path("j")
        j = Journal(path)
        j.append(b"one")

        def cut_sync(f):
            raise OSError(28)  # ENOSPC reported after the bytes went out

        with Patch(fs, "sync_file", cut_sync):
            raises(OSError, j.append, b"two")
        # The next append first rewrites the valid prefix, then writes right after it.
        assert j.append(b"three") == 1
        assert _items(j) == [(0, b"one"), (1, b"three")]
        assert _items(Journal(path)) == [(0, b"one"), (1, b"three")]


def test_record_that_goes_bad_after_open_ends_iteration():
    with Sandbox("jd") as sb:
        path = sb.path("j")
        j = Journal(path)
        for p in (b"aaaa", b"bbbb", b"cccc"):
            j.append(p)
        raw = bytearray(get(path))
        raw[_FHDR + (_HDR + 4) + _HDR] ^= 0x01  # first payload byte of record 1
        put(path, bytes(raw))
        assert _items(j) == [(0, b"aaaa")]
        assert j.bad_records == 1 and len(j) == 1
        assert j.append(b"dddd") == 3  # lands right after the good prefix
        assert _items(Journal(path)) == [(0, b"aaaa"), (3, b"dddd")]


def test_record_format_is_as_documented():
    with Sandbox("jm") as sb:
        path = sb.path("j")
        j = Journal(path)
        j.append(b"hi")
        raw = get(path)
        magic, ver, nxt, kept, crc = struct.unpack_from("<HHIII", raw, 0)
        assert (magic, ver, nxt, kept) == (0x4A56, 1, 0, 0) and crc == crc32(raw[0:12])
        magic, n, seq, crc = struct.unpack_from("<HHII", raw, _FHDR)
        assert (magic, n, seq) == (0xA5FE, 2, 0)
        assert crc == crc32(b"hi", crc32(raw[_FHDR:_FHDR + 8]))
        assert raw[_FHDR + _HDR:] == b"hi"


def test_queue_pattern_delivers_each_message_once_across_reboots():
    # The OCPP transaction queue's way of using the journal: messages, then "done"
    # markers; what is pending is rebuilt from the records after every reboot.
    with Sandbox("jq") as sb:
        path = sb.path("txq.j")

        def pending(j):
            msgs = {}
            for seq, p in j.records():
                if p.startswith(b"done "):
                    msgs.pop(int(p[5:]), None)
                else:
                    msgs[seq] = p
            return msgs

        j = Journal(path, max_bytes=600)
        sent = []
        for n in range(40):
            j.append(("MeterValues %d" % n).encode())
            j = Journal(path, max_bytes=600)  # a reboot after every message
            todo = pending(j)
            first = min(todo)
            sent.append(todo[first])
            j.append(("done %d" % first).encode())
            if j.over_limit():
                live = pending(j)
                j.compact(lambda seq, p: seq in live)
                assert j.size <= 600
        assert sent == [("MeterValues %d" % n).encode() for n in range(40)]
        assert pending(Journal(path)) == {}


def test_salvage_finds_intact_records_between_garbage():
    with Sandbox("jy") as sb:
        data, payloads, ends = _reference(sb)
        frames = [data[(ends[i - 1] if i else _FHDR):ends[i]] for i in range(len(ends))]
        junk = (b"", b"\xfe\xa5", b"\x00" * 13, b"\xfe", bytes(range(40)))
        mixed = b"".join(junk[i % len(junk)] + frames[i] for i in range(len(frames)))
        path = sb.path("damaged")
        put(path, mixed + frames[5][:-1])  # and a torn copy at the end
        assert list(salvage.scan(path)) == list(enumerate(payloads))
        put(path, b"short")
        assert list(salvage.scan(path)) == []
