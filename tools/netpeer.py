"""The firmware's V2G network stack on a Linux interface, and the kernel-side peer for tests.

Firmware side (CPython or the MicroPython unix port, run inside the firmware's netns):
    netpeer.py serve IFACE [--mac MAC|iface] [--port 61851] [--seconds S] [--stop-file F] [--promisc]
        IPv6 stack + SDP server + a V2GTP echo service (each message is sent back with
        the same payload type; ``--app record`` prints "V2GTP <type> <hex>" instead and
        answers nothing). Prints "READY <addr> <port>", and "STATS <json>" on exit.
Kernel side (CPython only, ordinary sockets, run inside the peer's netns):
    netpeer.py client IFACE [--sizes 0,1,100,...] [--rtt N] [--port P --addr A]
        SDP to ff02::1%IFACE, TCP to the announced address, V2GTP echo of each size;
        prints "RESULT <json>".
    netpeer.py kserve IFACE [--port P]   kernel V2GTP echo server (the benchmark's baseline)
    netpeer.py impair IF_A IF_B [--loss 0.08] [--dup 0.05] [--reorder 0.25] [--seed 1]
        userspace stand-in for tc netem (where the kernel lacks sch_netem): relays frames
        between two interfaces, dropping, duplicating and reordering them at random.
The namespace helpers (``Netns``) are used by tests/host/test_net_kernel.py and tools/bench_net.py.
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

SDP_REQ = b"\x01\xfe\x90\x00\x00\x00\x00\x02\x10\x00"
DEFAULT_PORT = 61851  # EVs insist on the dynamic port range
DEFAULT_MAC = "02:00:00:00:0f:01"


def _exists(path):
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False


# ---- firmware side -------------------------------------------------------------------
async def _echo(vc, record):
    import binascii
    while True:
        m = await vc.recv()
        if m is None:
            break
        ptype, payload = m
        if record:
            # Report what arrived, answer nothing (the SECC is not there yet).
            print("V2GTP 0x%04x %s" % (ptype, binascii.hexlify(payload).decode()))
            if hasattr(sys.stdout, "flush"):
                sys.stdout.flush()
            continue
        try:
            await vc.send(payload, ptype)
        except OSError:
            break
    vc.close()


async def serve(iface, opts):
    import asyncio
    from lib import clock, log
    from boards.linux.rawlink import RawLink
    from firmware.net.stack import Stack
    from firmware.net import eth, ipv6
    from firmware.v2g.sdp import SdpServer
    from firmware.v2g.v2gtp import V2gtpServer, V2gtpConnection

    if opts.get("quiet"):
        log.level = log.WARN
    port = int(opts.get("port", DEFAULT_PORT))
    mac_opt = opts.get("mac", DEFAULT_MAC)
    if mac_opt == "iface":
        from boards.linux.rawlink import if_mac
        mac = if_mac(iface)  # a real NIC: its own address, no promiscuous mode needed
    else:
        mac = eth.parse_mac(mac_opt)
    link = RawLink(iface, promisc=bool(opts.get("promisc")))
    st = Stack(mac, link.send, tcp_slots=int(opts.get("slots", 2)),
               idle_ms=int(opts.get("idle-ms", 60000)))
    SdpServer(st, port)
    srv = V2gtpServer(st, port)
    st.start()
    tasks = [asyncio.create_task(link.run(st.input)), asyncio.create_task(st.run_timers(10))]

    async def acceptor():
        while True:
            conn = await srv.listener.accept()
            asyncio.create_task(_echo(V2gtpConnection(conn), opts.get("app") == "record"))

    tasks.append(asyncio.create_task(acceptor()))
    print("READY %s %d" % (ipv6.addr_str(st.ip), port))
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()
    seconds = float(opts.get("seconds", 0))
    stop = opts.get("stop-file")
    t0 = clock.ticks_ms()
    try:
        while True:
            await asyncio.sleep_ms(50) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(0.05)
            if stop and _exists(stop):
                break
            if seconds and clock.ticks_diff(clock.ticks_ms(), t0) >= seconds * 1000:
                break
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    for t in tasks:
        t.cancel()
    stats = dict(st.stats)
    stats["link_sent"] = link.sent
    stats["link_received"] = link.received
    stats["link_tx_errors"] = link.tx_errors
    stats["ram_bytes"] = st.ram() + len(srv.rxbuf)
    stats["runtime"] = sys.implementation.name
    print("STATS " + json.dumps(stats))
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()
    link.close()


# ---- kernel side (CPython) -------------------------------------------------------------
def _ifindex(iface):
    import socket
    return socket.if_nametoindex(iface)


def sdp_discover(iface, tries=20, timeout=0.25):
    """(address text, port, security, transport) from the first SDP response."""
    import socket
    import struct
    idx = _ifindex(iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    s.settimeout(timeout)
    try:
        for _ in range(tries):
            s.sendto(SDP_REQ, ("ff02::1", 15118, 0, idx))
            try:
                data, _src = s.recvfrom(100)
            except socket.timeout:
                continue
            if len(data) != 28 or data[:8] != b"\x01\xfe\x90\x01\x00\x00\x00\x14":
                raise AssertionError("bad SDP response %s" % data.hex())
            addr = socket.inet_ntop(socket.AF_INET6, data[8:24])
            port, sec, tr = struct.unpack("!HBB", data[24:28])
            return addr, port, sec, tr
    finally:
        s.close()
    raise AssertionError("no SDP response")


def v2g_connect(iface, addr, port, timeout=5.0):
    import socket
    c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((addr, port, 0, _ifindex(iface)))
    return c


def _recv_exact(c, n):
    out = bytearray()
    while len(out) < n:
        d = c.recv(n - len(out))
        if not d:
            raise AssertionError("connection closed after %d of %d bytes" % (len(out), n))
        out += d
    return bytes(out)


def v2g_msg(payload, ptype=0x8001):
    import struct
    return b"\x01\xfe" + struct.pack("!HI", ptype, len(payload)) + payload


def v2g_roundtrip(c, payload, ptype=0x8001):
    import struct
    c.sendall(v2g_msg(payload, ptype))
    hdr = _recv_exact(c, 8)
    pt, ln = struct.unpack("!HI", hdr[2:8])
    body = _recv_exact(c, ln)
    return hdr[:2] == b"\x01\xfe" and pt == ptype and body == payload


def client(iface, opts):
    import os
    import time
    res = {}
    if opts.get("addr"):
        addr, port = opts["addr"], int(opts.get("port", DEFAULT_PORT))
    else:
        t0 = time.perf_counter()
        addr, port, sec, tr = sdp_discover(iface)
        res["sdp_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        res["sdp"] = [addr, port, sec, tr]
    c = v2g_connect(iface, addr, port, float(opts.get("timeout", 5)))
    sizes = [int(x) for x in opts.get("sizes", "0,1,7,100,1000,1439,1440,1441,3000,5000,8000").split(",") if x]
    ok = []
    for n in sizes:
        ok.append([n, v2g_roundtrip(c, os.urandom(n))])
    res["echo"] = ok
    if opts.get("batch"):
        # Several messages in one send, and one message dribbled out in small pieces.
        msgs = [os.urandom(k) for k in (10, 200, 30)]
        c.sendall(b"".join(v2g_msg(m) for m in msgs))
        got = []
        for m in msgs:
            hdr = _recv_exact(c, 8)
            got.append(_recv_exact(c, int.from_bytes(hdr[4:8], "big")) == m)
        raw = v2g_msg(os.urandom(300))
        for i in range(0, len(raw), 37):
            c.sendall(raw[i:i + 37])
            time.sleep(0.005)
        hdr = _recv_exact(c, 8)
        got.append(_recv_exact(c, int.from_bytes(hdr[4:8], "big")) == raw[8:])
        res["batch"] = got
    n = int(opts.get("rtt", 0))
    if n:
        payload = os.urandom(100)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            if not v2g_roundtrip(c, payload):
                raise AssertionError("echo mismatch")
            times.append(time.perf_counter() - t0)
        times.sort()
        res["rtt_us"] = {"median": round(times[len(times) // 2] * 1e6, 1),
                         "p90": round(times[int(len(times) * 0.9)] * 1e6, 1),
                         "min": round(times[0] * 1e6, 1), "n": n}
    c.close()
    print("RESULT " + json.dumps(res))
    sys.stdout.flush()


def kserve(iface, opts):
    """Kernel V2GTP echo server (baseline): one connection after another."""
    import socket
    import struct
    port = int(opts.get("port", DEFAULT_PORT))
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port, 0, 0))
    s.listen(1)
    print("READY kernel %d" % port)
    sys.stdout.flush()
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                hdr = _recv_exact(c, 8)
                ln = struct.unpack("!I", hdr[4:8])[0]
                c.sendall(hdr + _recv_exact(c, ln))
        except (AssertionError, OSError):
            c.close()


def impair(if_a, if_b, opts):
    """Relay frames between two interfaces with random loss, duplication and reordering."""
    import random
    import select
    import socket
    import time
    rnd = random.Random(int(opts.get("seed", 1)))
    loss = float(opts.get("loss", 0.08))
    dup = float(opts.get("dup", 0.05))
    reorder = float(opts.get("reorder", 0.25))
    hold_ms = float(opts.get("hold-ms", 5))
    socks = []
    for ifn in (if_a, if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.bind((ifn, 0))
        s.setsockopt(263, 23, 1)  # PACKET_IGNORE_OUTGOING
        socks.append(s)
    held = [None, None]  # per direction: (frame, release time)
    counts = {"fwd": 0, "lost": 0, "dup": 0, "reordered": 0}
    print("READY impair %s %s" % (if_a, if_b))
    sys.stdout.flush()
    while True:
        r, _, _ = select.select(socks, [], [], hold_ms / 1000)
        now = time.monotonic()
        for d in (0, 1):
            if held[d] and now >= held[d][1]:
                socks[1 - d].send(held[d][0])
                held[d] = None
        for s in r:
            d = socks.index(s)
            frame = s.recv(70000)
            if rnd.random() < loss:
                counts["lost"] += 1
                continue
            out = socks[1 - d]
            if held[d] is None and rnd.random() < reorder:
                held[d] = (frame, now + hold_ms / 1000)  # overtaken by the next frame
                counts["reordered"] += 1
                continue
            out.send(frame)
            counts["fwd"] += 1
            if held[d]:
                out.send(held[d][0])
                held[d] = None
            if rnd.random() < dup:
                out.send(frame)
                counts["dup"] += 1


class Netns:
    """Two namespaces joined by a veth pair, as PEERS.md section 2 (FW_RAW style), own names.

    ``impaired=True`` puts a third namespace in the middle (two veth pairs) where
    ``netpeer.py impair`` relays the frames with loss, duplication and reordering.
    """

    def __init__(self, tag, fw_raw=True, impaired=False):
        self.ev_ns = "n6ev" + tag
        self.fw_ns = "n6fw" + tag
        self.mid_ns = "n6mi" + tag
        self.ev_if = "v6ev" + tag
        self.fw_if = "v6fw" + tag
        self.mid_ev_if = "v6me" + tag
        self.mid_fw_if = "v6mf" + tag
        self.fw_raw = fw_raw
        self.impaired = impaired

    @staticmethod
    def _run(*cmd):
        import subprocess
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up(self):
        r = self._run
        self.down()
        r("ip", "netns", "add", self.ev_ns)
        r("ip", "netns", "add", self.fw_ns)
        ends = [(self.ev_ns, self.ev_if, "02:00:00:00:00:e1"), (self.fw_ns, self.fw_if, "02:00:00:00:00:5c")]
        if self.impaired:
            r("ip", "netns", "add", self.mid_ns)
            r("ip", "link", "add", self.ev_if, "type", "veth", "peer", "name", self.mid_ev_if)
            r("ip", "link", "add", self.fw_if, "type", "veth", "peer", "name", self.mid_fw_if)
            r("ip", "link", "set", self.mid_ev_if, "netns", self.mid_ns)
            r("ip", "link", "set", self.mid_fw_if, "netns", self.mid_ns)
            ends += [(self.mid_ns, self.mid_ev_if, "02:00:00:00:00:a1"),
                     (self.mid_ns, self.mid_fw_if, "02:00:00:00:00:a2")]
        else:
            r("ip", "link", "add", self.ev_if, "type", "veth", "peer", "name", self.fw_if)
        r("ip", "link", "set", self.ev_if, "netns", self.ev_ns)
        r("ip", "link", "set", self.fw_if, "netns", self.fw_ns)
        for ns, ifn, mac in ends:
            r("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            r("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.%s.accept_dad=0" % ifn)
            if (ns == self.fw_ns and self.fw_raw) or ns == self.mid_ns:
                r("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % ifn)
            r("ip", "netns", "exec", ns, "ip", "link", "set", ifn, "address", mac)
            r("ip", "netns", "exec", ns, "ethtool", "-K", ifn, "tx", "off", "tso", "off", "gso", "off")
            r("ip", "netns", "exec", ns, "ip", "link", "set", ifn, "up")
        return self

    def set_fw_kernel_ipv6(self, on):
        self._run("ip", "netns", "exec", self.fw_ns, "sysctl", "-qw",
                  "net.ipv6.conf.%s.disable_ipv6=%d" % (self.fw_if, 0 if on else 1))

    def down(self):
        import subprocess
        for ns in (self.ev_ns, self.fw_ns, self.mid_ns):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ev(self, *cmd):
        return ["ip", "netns", "exec", self.ev_ns] + list(cmd)

    def fw(self, *cmd):
        return ["ip", "netns", "exec", self.fw_ns] + list(cmd)

    def mid(self, *cmd):
        return ["ip", "netns", "exec", self.mid_ns] + list(cmd)


def main(argv):
    pos, opts = argv_split(argv[1:])
    if len(pos) < 2:
        print(__doc__)
        return 2
    mode, iface = pos[0], pos[1]
    if mode == "serve":
        import asyncio
        asyncio.run(serve(iface, opts))
    elif mode == "client":
        client(iface, opts)
    elif mode == "kserve":
        kserve(iface, opts)
    elif mode == "impair" and len(pos) == 3:
        impair(iface, pos[2], opts)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
