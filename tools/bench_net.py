"""Round-trip time of a 100-byte V2GTP request/response through the firmware's IPv6 stack.

Two namespaces joined by a veth pair (root needed). The kernel's client sends a 108-byte
V2GTP message (TCP_NODELAY) and waits for the echo; measured N times:
  * firmware stack (tools/netpeer.py serve, AF_PACKET) under CPython and MicroPython,
  * the kernel on both ends (baseline: kernel IPv6 re-enabled on the firmware's end).
Prints median / p90 / min in microseconds, the ratio to the kernel, and the stack's
preallocated RAM.   Usage: python tools/bench_net.py [N=500]
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tools.netpeer import Netns  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
MPY = os.path.join(ROOT, ".venv", "bin", "micropython")
NETPEER = os.path.join(ROOT, "tools", "netpeer.py")


def _client(ns, *args):
    r = subprocess.run(ns.ev(PY, NETPEER, "client", ns.ev_if, "--sizes", "", *args),
                       capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise SystemExit(r.stdout + r.stderr)
    return json.loads([x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1][7:])


def _firmware(ns, cmd, n):
    stop = "/tmp/bench_net_stop_%d" % os.getpid()
    if os.path.exists(stop):
        os.unlink(stop)
    p = subprocess.Popen(ns.fw(*(cmd + [NETPEER, "serve", ns.fw_if, "--quiet", "--stop-file", stop])),
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("READY")
    try:
        _client(ns, "--rtt", "50")  # warm-up (neighbour caches, first connection)
        res = _client(ns, "--rtt", str(n))
    finally:
        open(stop, "w").close()
        out, _ = p.communicate(timeout=20)
        os.unlink(stop)
    stats = json.loads([x for x in out.splitlines() if x.startswith("STATS ")][-1][6:])
    return res["rtt_us"], stats


def _kernel(ns, n):
    ns.set_fw_kernel_ipv6(True)
    time.sleep(0.5)
    p = subprocess.Popen(ns.fw(PY, NETPEER, "kserve", ns.fw_if, "--port", "15119"), stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().startswith("READY")
        _client(ns, "--addr", "fe80::ff:fe00:5c", "--port", "15119", "--rtt", "50")
        return _client(ns, "--addr", "fe80::ff:fe00:5c", "--port", "15119", "--rtt", str(n))["rtt_us"]
    finally:
        p.kill()
        p.wait()
        ns.set_fw_kernel_ipv6(False)


def main(argv):
    if os.geteuid() != 0:
        print("bench_net: needs root (network namespaces)")
        return 1
    n = int(argv[1]) if len(argv) > 1 else 500
    ns = Netns("b%d" % (os.getpid() % 10000)).up()
    try:
        rows = []
        fw_cpy, st_cpy = _firmware(ns, [PY], n)
        fw_mpy, st_mpy = _firmware(ns, [MPY, "-X", "heapsize=512K"], n)
        kern = _kernel(ns, n)
        rows = [("kernel <-> kernel", kern), ("firmware, CPython", fw_cpy), ("firmware, MicroPython", fw_mpy)]
    finally:
        ns.down()
    print("RTT of a 100-byte V2GTP request/response over veth, %d round trips (us)" % n)
    print("%-24s %9s %9s %9s %8s" % ("", "median", "p90", "min", "ratio"))
    for name, r in rows:
        print("%-24s %9.1f %9.1f %9.1f %7.1fx" % (name, r["median"], r["p90"], r["min"],
                                                r["median"] / kern["median"]))
    print("stack RAM (frame buffers, 2 TCP slots x 4 KB rx + 4 KB tx, V2GTP 8 KB): %d bytes"
          % st_cpy["ram_bytes"])
    print("frames: CPython run rx %d tx %d, MicroPython run rx %d tx %d" % (
        st_cpy["rx"], st_cpy["tx"], st_mpy["rx"], st_mpy["tx"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
