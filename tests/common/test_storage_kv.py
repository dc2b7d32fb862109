from binascii import crc32

from firmware.storage import fs, kv
from firmware.storage.kv import Store, StoreError
from tests.common.support import raises
from tests.common.test_storage_support import NoFsync, Patch, Sandbox, get, put

OLD = {"HeartbeatInterval": 300, "AuthorizeRemoteTxRequests": True, "list": ["A1", "B2"]}
NEW = {"HeartbeatInterval": 60, "AuthorizeRemoteTxRequests": False, "list": ["A1", "B2", "C3"],
       "name": "Wallbox \u00fc", "nested": {"x": None, "y": 1.5}}


def _state(sb, main=None, tmp=None, bak=None):
    """Lay out the three files of a store as a power cut could leave them."""
    sb.clear()
    path = sb.path("cfg.json")
    for suffix, data in (("", main), (".tmp", tmp), (".bak", bak)):
        if data is not None:
            put(path + suffix, data)
    return path


def test_load_default_when_nothing_saved():
    with Sandbox("kd") as sb:
        path = sb.path("a", "cfg.json")
        s = Store(path)
        d = {"x": 1}
        assert s.load(d) is d and s.generation == 0
        assert s.load() is None
        assert not fs.exists(path)


def test_save_load_roundtrip_and_previous_generation():
    with Sandbox("kr") as sb:
        path = sb.path("cfg.json")
        s = Store(path)
        assert s.save(OLD) == 1
        assert s.save(NEW) == 2
        assert Store(path).load() == NEW
        assert kv.decode(get(path + ".bak")) == (1, OLD)
        assert kv.decode(get(path)) == (2, NEW)
        assert not fs.exists(path + ".tmp")
        s2 = Store(path)
        assert s2.load() == NEW and s2.generation == 2
        assert s2.save({}) == 3 and Store(path).load() == {}
        assert get(path).startswith(b"#kv1 3 2 ")  # readable header line


def test_save_rejects_what_it_cannot_load_back():
    with Sandbox("kx") as sb:
        path = sb.path("cfg.json")
        s = Store(path, max_bytes=200)
        s.save(OLD)
        before = get(path)
        raises(StoreError, s.save, [1, 2])
        raises(StoreError, s.save, {"big": "x" * 300})
        try:
            s.save({"o": object()})
            raise AssertionError("saved an object")
        except (TypeError, ValueError):
            pass
        assert get(path) == before and not fs.exists(path + ".tmp")
        assert Store(path).load() == OLD


def test_cut_while_writing_the_new_file_at_every_byte():
    with Sandbox("kc") as sb, NoFsync():
        old1 = kv.encode({"v": 1}, 1)
        old2 = kv.encode(OLD, 2)
        new = kv.encode(NEW, 3)
        for cut in range(len(new) + 1):
            path = _state(sb, main=old2, tmp=new[:cut], bak=old1)
            s = Store(path)
            got = s.load()
            if cut < len(new):
                assert got == OLD and s.generation == 2, cut
                assert not fs.exists(path + ".tmp")  # the torn file is cleaned up
            else:
                assert got == NEW and s.generation == 3
                # finished on load: published, and the old main became .bak
                assert get(path) == new and get(path + ".bak") == old2
            s.save({"after": cut})
            assert Store(path).load() == {"after": cut}


def test_main_file_cut_at_every_byte_falls_back_to_previous_generation():
    # What a filesystem without atomic rename, or a cut inside FAT's remove+rename,
    # can leave: the main file partial, the previous generation intact.
    with Sandbox("km") as sb, NoFsync():
        old = kv.encode(OLD, 4)
        new = kv.encode(NEW, 5)
        for cut in range(len(new) + 1):
            path = _state(sb, main=new[:cut], bak=old)
            s = Store(path)
            got = s.load({"default": True})
            if cut < len(new):
                assert got == OLD, cut
                assert s.fallbacks == 1 and s.bad_files == 1, cut
            else:
                assert got == NEW and s.fallbacks == 0
            # The next save must not push the good .bak out with a broken main.
            s.save({"g": cut})
            assert Store(path).load() == {"g": cut}
            if cut < len(new):
                assert kv.decode(get(path + ".bak")) == (4, OLD), cut


def test_cut_between_the_steps_of_save():
    with Sandbox("ks") as sb:
        path = sb.path("cfg.json")
        calls = []

        def flaky(limit):
            def replace(src, dst):
                if len(calls) >= limit:
                    raise OSError(5)
                calls.append((src, dst))
                real(src, dst)
            return replace

        real = fs.replace
        for steps in range(3):
            sb.clear()
            s = Store(path)
            s.save(OLD)
            s.save(OLD)  # so there is a .bak as well
            del calls[:]
            with Patch(fs, "replace", flaky(steps)):
                try:
                    s.save(NEW)
                    assert steps >= 2
                except OSError:
                    assert steps < 2
            # Power back: the new file was complete before any rename, so it wins.
            s2 = Store(path)
            got = s2.load()
            assert got == NEW and s2.generation == 3, steps
            # Another cut, now while writing the next file, must not go back further
            # than what load returned.
            put(path + ".tmp", kv.encode({"z": 1}, s2.generation + 1)[:10])
            assert Store(path).load() == got, steps


def test_corrupt_main_uses_previous_generation_and_keeps_it():
    with Sandbox("kb") as sb:
        path = sb.path("cfg.json")
        s = Store(path)
        s.save(OLD)
        s.save(NEW)
        raw = bytearray(get(path))
        raw[len(raw) // 2] ^= 0x20
        put(path, bytes(raw))
        s2 = Store(path)
        assert s2.load() == OLD and s2.fallbacks == 1 and s2.bad_files == 1
        assert s2.save({"fixed": 1}) == 2
        assert Store(path).load() == {"fixed": 1}
        assert kv.decode(get(path + ".bak")) == (1, OLD)
        assert sb.log_count >= 1


def test_plain_json_file_is_generation_zero():
    with Sandbox("kp") as sb:
        path = _state(sb, main=b'{"HeartbeatInterval": 120}\n')
        s = Store(path)
        assert s.load() == {"HeartbeatInterval": 120} and s.generation == 0
        assert s.save({"HeartbeatInterval": 30}) == 1
        assert get(path).startswith(b"#kv1 1 ")
        assert get(path + ".bak") == b'{"HeartbeatInterval": 120}\n'
        assert Store(path).load() == {"HeartbeatInterval": 30}
        # a cut plain file, or plain JSON that is not an object, is not a document
        assert kv.decode(b'{"a": [1, 2') is None and kv.decode(b"[1]") is None
        assert kv.decode(b'\n  {"a": 1}\n') == (0, {"a": 1})


def test_nothing_valid_gives_default():
    with Sandbox("kn") as sb:
        path = _state(sb, main=b"{\"a\": 1", tmp=b"#kv1 9 2 00000000\n{}", bak=b"\xff" * 30)
        s = Store(path)
        assert s.load({"d": 0}) == {"d": 0} and s.bad_files == 3
        assert s.save({"ok": 1}) == 1 and Store(path).load() == {"ok": 1}


def test_decode_rejects_mixes_and_extra_bytes():
    a = kv.encode({"k": "aaaa"}, 1)
    b = kv.encode({"k": "bbbb"}, 2)
    assert kv.decode(a) == (1, {"k": "aaaa"})
    nl = a.find(b"\n") + 1
    assert kv.decode(b[:nl] + a[nl:]) is None  # header of one, body of the other
    assert kv.decode(a + b"x") is None
    assert kv.decode(a[:-1]) is None
    assert kv.decode(b"") is None
    assert kv.decode(b"#kv1 x y z\n{}") is None
    assert kv.decode(kv.encode([1], 1)) is None  # a valid file, but not a dict
    # correct length and CRC, but the body is not UTF-8 JSON
    body = b"\xff\xfe"
    pre = b"#kv1 1 2 "
    assert kv.decode(pre + ("%08x\n" % crc32(body, crc32(pre))).encode() + body) is None


def test_oversized_file_is_not_read():
    with Sandbox("ko") as sb:
        path = sb.path("cfg.json")
        Store(path).save({"x": "y" * 500})
        small = Store(path, max_bytes=100)
        assert small.load("dflt") == "dflt" and small.bad_files == 1
