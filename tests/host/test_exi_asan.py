"""The C core under AddressSanitizer and UBSan: the corpus, truncations and bit flips through
the plain-C fuzz driver and through the CPython extension (decode -> encode -> decode).

CPython only: builds with gcc (make -C native asan) and runs subprocesses with libasan
preloaded."""
import itertools
import os
import random
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "exi"))
import fuzz_seeds  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or not os.path.isdir(fuzz_seeds.CORPUS),
                                reason="needs gcc and ../shared/corpus")
NAMES = ("apphand", "din", "iso2")


def _inputs():
    """Every unique corpus payload, plus for a sample: truncations and single bit flips."""
    rnd = random.Random(70121)
    out = []
    for i, (schema, data) in enumerate(itertools.chain(fuzz_seeds.seeds(), fuzz_seeds.rich_seeds())):
        out.append((schema, data))
        if i % 8 == 0:
            out.append((schema, data[:rnd.randrange(len(data))]))
            for _ in range(4):
                bad = bytearray(data)
                b = rnd.randrange(len(bad) * 8)
                bad[b >> 3] ^= 0x80 >> (b & 7)
                out.append((schema, bytes(bad)))
    return out


def _build():
    r = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "native"), "asan",
                        "PY=" + sys.executable], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_c_driver_under_asan():
    _build()
    lines = "".join("%d %s\n" % (s, d.hex()) for s, d in _inputs())
    r = subprocess.run([os.path.join(ROOT, "native", "build", "exi_asan")], input=lines,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ok, err = map(int, r.stdout.split())
    print("asan driver: %d decoded, %d rejected" % (ok, err))
    assert ok > 4400 and ok + err == lines.count("\n")


SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import exi
names = ("apphand", "din", "iso2")
ok = err = 0
for line in sys.stdin:
    s, h = line.rstrip("\n").split(" ")
    schema, data = names[int(s)], bytes.fromhex(h)
    try:
        doc = exi.decode(schema, data)
    except ValueError:
        err += 1
        continue
    again = exi.encode(schema, doc, exi.LENIENT)
    assert exi.decode(schema, again) == doc
    exi.encode(schema, doc, exi.COMPAT | exi.LENIENT)
    buf = bytearray(len(again) // 2)
    try:
        exi.encode_into(schema, doc, buf, exi.LENIENT)
    except ValueError:
        pass
    ok += 1
print(ok, err)
"""


def test_cpython_extension_under_asan():
    _build()
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    libubsan = subprocess.run(["gcc", "-print-file-name=libubsan.so"], capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, LD_PRELOAD="%s %s" % (libasan, libubsan),
               ASAN_OPTIONS="detect_leaks=0", PYTHONDONTWRITEBYTECODE="1")
    lines = "".join("%d %s\n" % (s, d.hex()) for s, d in _inputs())
    r = subprocess.run([sys.executable, "-c", SCRIPT, os.path.join(ROOT, "native", "build", "asan")],
                       input=lines, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    ok, err = map(int, r.stdout.split())
    print("asan extension: %d round trips, %d rejected" % (ok, err))
    assert ok > 4400
