"""Run the firmware on a host board until stopped.

    python -m tools.run --board linux --iface IFNAME [--runtime cpython|micropython]
                        [--mac 02:00:00:00:0f:01] [--port 61851] [--heap 512]

``--board linux``: the firmware's IPv6 stack, SDP server and V2GTP transport on IFNAME
through an AF_PACKET socket (tools/netpeer.py ``serve``; what it does with V2GTP messages
is an echo until the SECC exists). SIGTERM/SIGINT end it cleanly: this CPython supervisor
asks the runtime process to stop (a stop file, which the MicroPython unix port can watch)
and prints its counters. The charger application on the linux board (control-pilot
source, SLAC, session) is not wired yet: see issue 5.
"""
import os
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _opts(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m tools.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="linux", choices=["linux"])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--runtime", default="cpython", choices=["cpython", "micropython"])
    ap.add_argument("--mac", default="02:00:00:00:0f:01",
                    help="the firmware's own MAC, or 'iface' for the interface's (then no --promisc needed)")
    ap.add_argument("--port", type=int, default=61851)
    ap.add_argument("--heap", type=int, default=512, help="MicroPython heap in KB")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until signalled)")
    ap.add_argument("--promisc", action="store_true", help="a real NIC: receive frames for our MAC too")
    ap.add_argument("--config", help="(reserved for the charger application)")
    return ap.parse_args(argv)


def main(argv=None):
    a = _opts(sys.argv[1:] if argv is None else argv)
    if not os.path.exists("/sys/class/net/%s" % a.iface):
        print("no interface %s here" % a.iface, file=sys.stderr)
        return 2
    if a.runtime == "micropython":
        cmd = [os.path.join(ROOT, ".venv", "bin", "micropython"), "-X", "heapsize=%dK" % a.heap]
    else:
        cmd = [sys.executable]
    stop = os.path.join(tempfile.gettempdir(), "evse-run-%d.stop" % os.getpid())
    cmd += [os.path.join(ROOT, "tools", "netpeer.py"), "serve", a.iface, "--mac", a.mac,
            "--port", str(a.port), "--stop-file", stop]
    if a.seconds:
        cmd += ["--seconds", str(a.seconds)]
    if a.promisc:
        cmd += ["--promisc"]
    child = subprocess.Popen(cmd, cwd=ROOT)

    def _stop(signum, frame):
        open(stop, "w").close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        rc = child.wait()
    finally:
        if os.path.exists(stop):
            os.unlink(stop)
    return rc


if __name__ == "__main__":
    sys.exit(main())
