from firmware.storage import fs
from tests.common.support import raises
from tests.common.test_storage_support import Sandbox, get, put


def test_join_and_dirname():
    assert fs.join("a", "b", "c") == "a/b/c"
    assert fs.join("/a/", "b") == "/a/b"
    assert fs.join("a", "", "b") == "a/b"
    assert fs.join("a", "/abs") == "/abs"
    assert fs.join("", "b") == "b"
    assert fs.dirname("/a/b/c.bin") == "/a/b"
    assert fs.dirname("/c.bin") == "/"
    assert fs.dirname("c.bin") == ""


def test_makedirs_exists_isdir_size():
    with Sandbox("fs") as sb:
        deep = sb.path("x", "y", "z")
        assert not fs.exists(deep)
        fs.makedirs(deep)
        fs.makedirs(deep)  # again: no error
        assert fs.isdir(deep) and fs.exists(deep)
        f = fs.join(deep, "f.bin")
        assert fs.size(f) == -1 and not fs.exists(f)
        put(f, b"12345")
        assert fs.size(f) == 5 and fs.exists(f) and not fs.isdir(f)
        raises(OSError, fs.makedirs, fs.join(f, "below_a_file"))


def test_remove_if_exists_and_remove_tree():
    with Sandbox("fs") as sb:
        f = sb.path("f")
        put(f, b"x")
        assert fs.remove_if_exists(f) is True
        assert fs.remove_if_exists(f) is False
        fs.makedirs(sb.path("t", "u"))
        put(sb.path("t", "u", "v"), b"1")
        put(sb.path("t", "w"), b"2")
        fs.remove_tree(sb.path("t"))
        assert not fs.exists(sb.path("t"))
        fs.remove_tree(sb.path("t"))  # missing: no error


def test_replace_over_existing_and_missing_source():
    with Sandbox("fs") as sb:
        a, b = sb.path("a"), sb.path("b")
        put(a, b"new")
        put(b, b"old")
        fs.replace(a, b)
        assert get(b) == b"new" and not fs.exists(a)
        raises(OSError, fs.replace, a, b)
        assert get(b) == b"new"


def test_read_file_with_limit():
    with Sandbox("fs") as sb:
        p = sb.path("d")
        assert fs.read_file(p) is None
        put(p, b"hello")
        assert fs.read_file(p) == b"hello"
        assert fs.read_file(p, 5) == b"hello"
        assert fs.read_file(p, 4) is None
        put(p, b"")
        assert fs.read_file(p) == b""


def test_sync_helpers_accept_real_files():
    with Sandbox("fs") as sb:
        p = sb.path("s")
        with open(p, "wb") as f:
            f.write(b"abc")
            fs.sync_file(f)
        fs.sync_dir(p)
        fs.sync_dir("no-such-dir/x")  # best effort: never raises
        assert get(p) == b"abc"
