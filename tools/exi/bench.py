"""EXI codec figures: ns per decode and per encode of the agreed vector messages
(../shared/corpus/vectors) for the C core alone, the CPython extension, the natmod under
the MicroPython unix port and (--jar) the reference EXICodec.jar through py4j; plus the
natmod sizes. Prints numbers, asserts nothing.

  python -m tools.exi.bench [--jar] [--iters N]
Needs: make -C native host bench natmod ARCH=x64 (and ARCH=armv7emsp for its size).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "vectors", "exi_vectors.jsonl")
NS = {"apphand": "urn:iso:15118:2:2010:AppProtocol", "din": "urn:din:70121:2012:MsgDef",
      "iso2": "urn:iso:15118:2:2013:MsgDef"}

MPY_SCRIPT = """
import sys, time
sys.path.insert(0, %r)
import exi
msgs = %r
n = %d
for schema, name, data in msgs:
    doc = exi.decode(schema, data)
    t = time.ticks_us()
    for _ in range(n):
        exi.decode(schema, data)
    d = time.ticks_diff(time.ticks_us(), t)
    buf = bytearray(512)
    t = time.ticks_us()
    for _ in range(n):
        exi.encode_into(schema, doc, buf)
    e = time.ticks_diff(time.ticks_us(), t)
    print(schema, name, d * 1000 // n, e * 1000 // n)
"""


def vectors():
    with open(VECTORS) as f:
        return [json.loads(line) for line in f]


def c_core(vs, iters):
    exe = os.path.join(ROOT, "native", "build", "exi_bench")
    if not os.path.exists(exe):
        return {}
    inp = "".join("%s %s %s\n" % (v["schema"], v["exi_hex"], v["name"]) for v in vs)
    out = subprocess.run([exe, str(iters)], input=inp, capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4:
            res[(p[0], p[1])] = (float(p[2]), float(p[3]))
    return res


def cpython(vs, iters):
    sys.path.insert(0, os.path.join(ROOT, "native", "build"))
    try:
        import exi
    except ImportError:
        return {}
    res = {}
    buf = bytearray(512)
    for v in vs:
        data = bytes.fromhex(v["exi_hex"])
        doc = exi.decode(v["schema"], data)
        t = time.perf_counter_ns()
        for _ in range(iters):
            exi.decode(v["schema"], data)
        d = (time.perf_counter_ns() - t) / iters
        t = time.perf_counter_ns()
        for _ in range(iters):
            exi.encode_into(v["schema"], doc, buf)
        e = (time.perf_counter_ns() - t) / iters
        res[(v["schema"], v["name"])] = (d, e)
    return res


def natmod(vs, iters):
    path = os.path.join(ROOT, "native", "build", "x64")
    mpy = os.path.join(ROOT, ".venv", "bin", "micropython")
    if not os.path.exists(os.path.join(path, "exi.mpy")) or not os.path.exists(mpy):
        return {}
    msgs = [(v["schema"], v["name"], bytes.fromhex(v["exi_hex"])) for v in vs]
    r = subprocess.run([mpy, "-X", "heapsize=512K", "-c", MPY_SCRIPT % (path, msgs, iters)],
                       capture_output=True, text=True)
    res = {}
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) == 4:
            res[(p[0], p[1])] = (float(p[2]), float(p[3]))
    if r.returncode:
        print(r.stderr[-500:], file=sys.stderr)
    return res


def jar(vs, iters):
    jars = sorted(glob.glob(os.path.join(ROOT, ".deps", "iso15118", "iso15118", "shared", "EXICodec.jar")) +
                  glob.glob(os.path.join(ROOT, ".deps", "*", "lib", "python3*", "site-packages",
                                         "iso15118", "shared", "EXICodec.jar")))
    if not jars:
        print("EXICodec.jar not found under .deps (make peers)", file=sys.stderr)
        return {}
    from py4j.java_gateway import JavaGateway
    gw = JavaGateway.launch_gateway(classpath=jars[0], die_on_exit=True,
                                    javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"])
    codec = gw.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
    res = {}
    for v in vs:
        data = bytes.fromhex(v["exi_hex"])
        js = json.dumps(v["json"])
        for _ in range(5):      # warm up the JIT
            codec.decode(data, NS[v["schema"]])
            codec.encode(js, NS[v["schema"]])
        ds, es = [], []
        for _ in range(iters):
            t = time.perf_counter_ns()
            codec.decode(data, NS[v["schema"]])
            ds.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            codec.encode(js, NS[v["schema"]])
            es.append(time.perf_counter_ns() - t)
        res[(v["schema"], v["name"])] = (sorted(ds)[len(ds) // 2], sorted(es)[len(es) // 2])
    gw.shutdown()
    return res


def geomean(xs):
    xs = [x for x in xs if x > 0]
    if not xs:
        return 0.0
    p = 1.0
    for x in xs:
        p *= x ** (1.0 / len(xs))
    return p


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.exi.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=20000)
    ap.add_argument("--jar", action="store_true", help="also time EXICodec.jar (py4j, slow)")
    a = ap.parse_args(argv)
    vs = vectors()
    cols = [("C core", c_core(vs, a.iters)), ("CPython", cpython(vs, max(1, a.iters // 4))),
            ("natmod", natmod(vs, max(1, a.iters // 10)))]
    if a.jar:
        cols.append(("jar", jar(vs, 50)))
    head = "%-34s" % "message (ns decode / encode)" + "".join("%22s" % c for c, _ in cols)
    print(head)
    for v in vs:
        k = (v["schema"], v["name"])
        row = "%-34s" % ("%s %s" % k)
        for _c, res in cols:
            row += "%22s" % ("%.0f / %.0f" % res[k] if k in res else "-")
        print(row)
    row = "%-34s" % "geomean"
    for _c, res in cols:
        row += "%22s" % ("%.0f / %.0f" % (geomean([x[0] for x in res.values()]),
                                          geomean([x[1] for x in res.values()])) if res else "-")
    print(row)
    base = cols[0][1]
    if base:
        for c, res in cols[1:]:
            if res:
                print("%s / C core: decode x%.1f, encode x%.1f" % (
                    c, geomean([res[k][0] / base[k][0] for k in res if k in base]),
                    geomean([res[k][1] / base[k][1] for k in res if k in base])))
    nm = dict(cols)["natmod"]
    k1, k2 = ("din", "CurrentDemandReq"), ("din", "CurrentDemandRes")
    if k1 in nm and k2 in nm:
        print("natmod: DIN CurrentDemandReq decode + CurrentDemandRes encode: %.1f us"
              % ((nm[k1][0] + nm[k2][1]) / 1000.0))
    for arch in ("x64", "armv7emsp"):
        p = os.path.join(ROOT, "native", "build", arch, "exi.mpy")
        if os.path.exists(p):
            print("natmod %s: %d bytes (all three schemas)" % (arch, os.path.getsize(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
