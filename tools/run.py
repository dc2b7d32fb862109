"""Run the firmware on a host board until stopped.

    python -m tools.run --board linux --iface IFNAME [--runtime cpython|micropython]
                        [--config FILE] [--no-slac] [--mac 02:00:00:00:0f:01|iface]
                        [--port 61851] [--heap 1024] [--seconds S] [--promisc] [--app charger|echo]

``--board linux`` (boards/linux): the charger application (``firmware.main.App``) on the
linux board, whose control pilot shows a configured state (default: a car in B; SLAC is
told the pilot carries 5 %), plus SLAC (charger side), the IPv6 stack, SDP and the V2GTP
server on IFNAME through an AF_PACKET socket (``firmware.hlc.link``). IPv6 opens once SLAC
matched, or at once with ``--no-slac``. Until the SECC exists, every V2GTP message is
printed (``V2GTP <type> <hex>``) and left unanswered. ``--app echo`` runs the earlier
network-only service instead (tools/netpeer.py ``serve``: V2GTP echo, no charger, no SLAC).

``--config FILE``: JSON; ``"board"`` holds the board's keys (boards/linux/board.py: cp,
diode, slac_duty, pp_ohms, data_dir), ``"evse_id"`` the ID sent in CM_SLAC_MATCH.CNF, every
other key is a firmware setting (firmware/config.py; a bad one stops the run, exit 2).
The firmware runs in the project root: a relative ``data_dir`` (default build/linux-data)
is taken from there.

This CPython supervisor runs the firmware in a child process of the chosen runtime. The
MicroPython unix port runs it from source: measured 223 KB of heap live once started and
230 KB after a SLAC match, SDP and a TCP connection (``heap_*`` in STATS); a 384 KB heap
is enough for that, 320 KB fails compiling the modules at import; the default is 1 MB.
SIGTERM/SIGINT end it cleanly (exit 0): the supervisor asks the child to stop
(a stop file the unix port can watch), and the child prints ``STATS <json>``. A board
``reboot()`` ends the child with exit code 3 and the supervisor starts it again.
"""
import sys

if sys.implementation.name == "micropython":
    _here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    sys.path.insert(0, _here + "/..")
else:
    import os as _os
    sys.path.insert(0, _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))
import tools  # noqa: F401,E402  (CPython: MicroPython shims on sys.path)

import json  # noqa: E402

from tools.argv import split as argv_split  # noqa: E402

EXIT_REBOOT = 3
EXIT_CONFIG = 2
DEFAULT_EVSE_ID = "DE*LNX*E0001"


# ---- the firmware process (CPython or the MicroPython unix port) ------------------------

def _flush():
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def _heap():
    import gc
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    return -1


def _print_v2gtp(ptype, payload):
    import binascii
    # Until the SECC exists the message is only shown (the tests compare it with the EV's).
    print("V2GTP 0x%04x %s" % (ptype, binascii.hexlify(payload).decode()))
    _flush()


async def _watch(app, opts, peak):
    from lib import clock
    from firmware.storage import fs
    stop = opts.get("stop-file")
    parent = "/proc/%s" % opts["parent"] if "parent" in opts else None
    seconds = float(opts.get("seconds", 0))
    t0 = clock.ticks_ms()
    while True:
        await clock.sleep_ms(100)
        h = _heap()
        if h > peak[0]:
            peak[0] = h
        if stop and fs.exists(stop):
            break
        if parent and not fs.exists(parent):
            break  # the supervisor is gone: do not linger
        if seconds and clock.ticks_diff(clock.ticks_ms(), t0) >= seconds * 1000:
            break
    app.stop()


def _load_doc(path):
    if not path:
        return {}
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError("%s: not a JSON object" % path)
    return doc


async def _child(iface, opts):
    import asyncio
    import gc
    from lib import log
    from boards.linux import board as lboard
    from boards.linux.rawlink import RawLink, if_mac
    from firmware import config as fwconfig
    from firmware.main import App, load_config
    from firmware.hlc.link import Hlc
    from firmware.net import eth, ipv6

    try:
        doc = _load_doc(opts.get("config"))
        bcfg = doc.pop("board", None)
        evse_id = doc.pop("evse_id", DEFAULT_EVSE_ID)
        if not isinstance(evse_id, str) or not 0 < len(evse_id) <= 17:
            raise ValueError("evse_id must be a text of 1..17 characters")
        fwconfig.make(doc)
        board = lboard.create(bcfg)
    except (OSError, ValueError) as e:
        print("config: %s" % e)
        _flush()
        return EXIT_CONFIG
    if opts.get("quiet"):
        log.level = log.WARN
    app = App(board, load_config(board, doc))
    gc.collect()
    link = RawLink(iface, promisc=bool(opts.get("promisc")))
    mac_opt = opts.get("mac", "02:00:00:00:0f:01")
    mac = if_mac(iface) if mac_opt == "iface" else eth.parse_mac(mac_opt)
    port = int(opts.get("port", 61851))
    hlc = Hlc(link, mac, evse_id=evse_id.encode(), slac=not opts.get("no-slac"), port=port,
              on_message=_print_v2gtp)
    if board.source.slac_duty is None:
        hlc.follow(app.bus)
    board.on_reboot = app.stop
    peak = [0]
    tasks = [asyncio.create_task(link.run(hlc.router.on_mv))]
    tasks += hlc.start(board.source)
    tasks.append(asyncio.create_task(_watch(app, opts, peak)))
    gc.collect()
    ready_heap = _heap()
    print("READY %s %d slac=%s runtime=%s" % (ipv6.addr_str(hlc.stack.ip), port,
                                              "off" if hlc.slac is None else "on",
                                              sys.implementation.name))
    _flush()
    try:
        await app.run()
    except KeyboardInterrupt:
        pass
    hlc.stop()
    for t in tasks:
        t.cancel()
    st = hlc.stats()
    st["link_sent"] = link.sent
    st["link_received"] = link.received
    st["charger_state"] = app.charger.state
    st["charger_errors"] = app.errors
    st["runtime"] = sys.implementation.name
    gc.collect()
    st["heap_ready"] = ready_heap
    st["heap_peak_seen"] = peak[0]
    st["heap_end"] = _heap()
    link.close()
    print("STATS " + json.dumps(st))
    _flush()
    return EXIT_REBOOT if board.reboot_requested else 0


def child(argv):
    import asyncio
    pos, opts = argv_split(argv)
    if not pos:
        print("tools/run.py --child IFACE [options]")
        return 2
    try:
        return asyncio.run(_child(pos[0], opts))
    except KeyboardInterrupt:
        return 0


# ---- the supervisor (CPython) ---------------------------------------------------------------

def _opts(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m tools.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="linux", choices=["linux"])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--runtime", default="cpython", choices=["cpython", "micropython"])
    ap.add_argument("--app", default="charger", choices=["charger", "echo"],
                    help="charger: App + SLAC + HLC (default); echo: network stack with a V2GTP echo")
    ap.add_argument("--mac", default="02:00:00:00:0f:01",
                    help="the firmware's own MAC, or 'iface' for the interface's (then no --promisc needed)")
    ap.add_argument("--port", type=int, default=61851)
    ap.add_argument("--heap", type=int, default=1024, help="MicroPython heap in KB")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until signalled)")
    ap.add_argument("--promisc", action="store_true", help="a real NIC: receive frames for our MAC too")
    ap.add_argument("--config", help="JSON: firmware settings, 'board' keys, 'evse_id'")
    ap.add_argument("--no-slac", action="store_true", help="IPv6/SDP serve at once, no SLAC")
    ap.add_argument("--quiet", action="store_true", help="warnings and errors only")
    return ap.parse_args(argv)


def _command(a, stop):
    import os
    root = tools.ROOT
    if a.runtime == "micropython":
        cmd = [os.path.join(root, ".venv", "bin", "micropython"), "-X", "heapsize=%dK" % a.heap]
    else:
        cmd = [sys.executable, "-u"]
    if a.app == "echo":
        cmd += [os.path.join(root, "tools", "netpeer.py"), "serve", a.iface, "--mac", a.mac,
                "--port", str(a.port), "--stop-file", stop]
    else:
        cmd += [os.path.join(root, "tools", "run.py"), "--child", a.iface, "--mac", a.mac,
                "--port", str(a.port), "--stop-file", stop, "--parent", str(os.getpid())]
        if a.config:
            cmd += ["--config", os.path.abspath(a.config)]
        if a.no_slac:
            cmd += ["--no-slac"]
        if a.quiet:
            cmd += ["--quiet"]
    if a.seconds:
        cmd += ["--seconds", str(a.seconds)]
    if a.promisc:
        cmd += ["--promisc"]
    return cmd


def _wait(proc, stopping, grace_s=20):
    """The child's exit code; killed (exit 1) if it ignores a stop for ``grace_s``."""
    import subprocess
    import time
    since = None
    while True:
        try:
            return proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if stopping[0]:
            if since is None:
                since = time.monotonic()
            elif time.monotonic() - since > grace_s:
                print("firmware did not stop within %d s: killed" % grace_s, file=sys.stderr)
                proc.kill()
                proc.wait()
                return 1


def main(argv=None):
    import os
    import signal
    import subprocess
    import tempfile
    a = _opts(sys.argv[1:] if argv is None else argv)
    if not os.path.exists("/sys/class/net/%s" % a.iface):
        print("no interface %s here" % a.iface, file=sys.stderr)
        return 2
    stop = os.path.join(tempfile.gettempdir(), "evse-run-%d.stop" % os.getpid())
    stopping = [False]

    def _stop(signum, frame):
        stopping[0] = True
        open(stop, "w").close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    cmd = _command(a, stop)
    try:
        while True:
            # Own session: a terminal's Ctrl-C reaches only us; the child hears the stop file.
            child_proc = subprocess.Popen(cmd, cwd=tools.ROOT, start_new_session=True)
            rc = _wait(child_proc, stopping)
            if rc == EXIT_REBOOT and a.app == "charger" and not stopping[0]:
                print("firmware asked for a reboot: starting it again", flush=True)
                continue
            return rc
    finally:
        if os.path.exists(stop):
            os.unlink(stop)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
