"""The firmware's IPv6 stack against the Linux kernel's, over a veth pair between namespaces.

CPython only (and root): it creates network namespaces, runs the firmware (tools/netpeer.py,
under CPython and under the MicroPython unix port) on an AF_PACKET socket in one of them,
with the kernel's IPv6 disabled on that end (PEERS.md section 2, FW_RAW), and ordinary
kernel sockets, ping and tc netem in the other. Skips when not root or tools are missing.
"""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from tools.netpeer import Netns  # noqa: E402

_MISSING = [t for t in ("ip", "ethtool", "ping", "tc") if shutil.which(t) is None]
if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces)", allow_module_level=True)
if _MISSING:
    pytest.skip("missing tools: %s (Debian: iproute2 ethtool iputils-ping)" % " ".join(_MISSING),
                allow_module_level=True)

PY = os.path.join(ROOT, ".venv", "bin", "python")
MPY = os.path.join(ROOT, ".venv", "bin", "micropython")
RUNTIMES = {"cpython": [PY], "micropython": [MPY, "-X", "heapsize=512K"]}
FW_ADDR = "fe80::ff:fe00:f01"
# Kernel counters that must not move: the kernel never saw a malformed packet from us.
BAD_COUNTERS = ("Ip6InHdrErrors", "Ip6InTruncatedPkts", "Ip6InAddrErrors", "Icmp6InErrors",
                "Icmp6InCsumErrors", "Udp6InErrors", "Udp6InCsumErrors")


@pytest.fixture(scope="module")
def link():
    ns = Netns(str(os.getpid() % 100000))
    try:
        ns.up()
    except subprocess.CalledProcessError as e:
        ns.down()
        pytest.skip("cannot create namespaces: %s" % e.stderr.decode(errors="replace").strip())
    yield ns
    ns.down()


class Firmware:
    def __init__(self, ns, runtime, tmp_path, *extra):
        self.stop_file = str(tmp_path / ("stop-%s" % runtime))
        cmd = ns.fw(*(RUNTIMES[runtime] + [os.path.join(ROOT, "tools", "netpeer.py"), "serve",
                                            ns.fw_if, "--stop-file", self.stop_file, "--quiet",
                                            "--seconds", "120"] + list(extra)))
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise AssertionError("firmware did not start: %r %s" % (line, self.proc.stdout.read()))
        self.stats = None

    def stop(self):
        open(self.stop_file, "w").close()
        out, _ = self.proc.communicate(timeout=20)
        for line in out.splitlines():
            if line.startswith("STATS "):
                import json
                self.stats = json.loads(line[6:])
        assert self.stats is not None, out
        return self.stats


def _client(ns, *args, timeout=60):
    r = subprocess.run(ns.ev(PY, os.path.join(ROOT, "tools", "netpeer.py"), "client", ns.ev_if, *args),
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def _kernel_counters(ns):
    out = subprocess.run(ns.ev("cat", "/proc/net/snmp6"), capture_output=True, text=True).stdout
    snmp = subprocess.run(ns.ev("cat", "/proc/net/snmp"), capture_output=True, text=True).stdout
    vals = dict(line.split()[:2] for line in out.splitlines() if line.strip())
    rows = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    tcp = dict(zip(rows[0][1:], rows[1][1:]))
    vals["TcpInErrs"] = tcp["InErrs"]
    vals["TcpInCsumErrors"] = tcp["InCsumErrors"]
    ext = subprocess.run(ns.ev("cat", "/proc/net/netstat"), capture_output=True, text=True).stdout
    rows = [line.split() for line in ext.splitlines() if line.startswith("TcpExt:")]
    vals["TCPSYNChallenge"] = dict(zip(rows[0][1:], rows[1][1:])).get("TCPSYNChallenge", "0")
    return {k: int(v) for k, v in vals.items()}


def _assert_clean(ns, before, stats):
    after = _kernel_counters(ns)
    for k in BAD_COUNTERS + ("TcpInCsumErrors",):
        assert after[k] == before[k], "kernel counter %s moved: %d -> %d" % (k, before[k], after[k])
    # Linux also counts InErrs for a SYN(-ACK) arriving on an established connection (its
    # RFC 5961 challenge ACK): a duplicated or retransmitted SYN-ACK, not a malformed packet.
    errs = after["TcpInErrs"] - before["TcpInErrs"]
    assert errs == after["TCPSYNChallenge"] - before["TCPSYNChallenge"], (errs, after, before)
    assert stats.get("internal_error", 0) == 0 and stats.get("bad_csum", 0) == 0, stats


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_sdp_tcp_echo_and_ping(link, runtime, tmp_path):
    before = _kernel_counters(link)
    fw = Firmware(link, runtime, tmp_path)
    try:
        res = _client(link, "--batch", "1")
        assert res["sdp"] == [FW_ADDR, 61851, 0x10, 0x00]
        assert all(ok for _, ok in res["echo"]), res["echo"]
        assert len(res["echo"]) >= 10 and res["batch"] == [True] * 4
        # A second session on a new connection (the first one was closed by the client).
        res2 = _client(link, "--sizes", "100,2000")
        assert all(ok for _, ok in res2["echo"])
        p = subprocess.run(link.ev("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2",
                                   "%s%%%s" % (FW_ADDR, link.ev_if)), capture_output=True, text=True)
        assert p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout + p.stderr
        big = subprocess.run(link.ev("ping", "-6", "-c", "1", "-s", "1400", "-W", "2",
                                     "%s%%%s" % (FW_ADDR, link.ev_if)), capture_output=True, text=True)
        assert big.returncode == 0, big.stdout
    finally:
        stats = fw.stop()
    assert stats["tcp_syn_in"] >= 2 and stats["echo_in"] >= 4
    _assert_clean(link, before, stats)


def test_closed_port_and_udp_port_unreachable(link, tmp_path):
    import socket
    fw = Firmware(link, "cpython", tmp_path)
    try:
        code = ("import socket,sys\n"
                "i=socket.if_nametoindex(sys.argv[1]); a=('%s',int(sys.argv[2]),0,i)\n"
                "s=socket.socket(socket.AF_INET6,socket.SOCK_STREAM); s.settimeout(3)\n"
                "try:\n s.connect(a); print('connected')\n"
                "except ConnectionRefusedError: print('refused')\n"
                "u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); u.settimeout(2); u.connect(a)\n"
                "u.send(b'x')\n"
                "try:\n u.recv(10); print('answer')\n"
                "except ConnectionRefusedError: print('unreachable')\n" % FW_ADDR)
        r = subprocess.run(link.ev(PY, "-c", code, link.ev_if, "4444"), capture_output=True, text=True,
                           timeout=20)
        assert r.stdout.split() == ["refused", "unreachable"], r.stdout + r.stderr
    finally:
        stats = fw.stop()
    assert stats["rst_out"] >= 1 and stats["icmp_err_out"] >= 1
    del socket


def _netem_available(ns):
    r = subprocess.run(ns.ev("tc", "qdisc", "replace", "dev", ns.ev_if, "root", "netem", "loss", "1%"),
                       capture_output=True)
    if r.returncode:
        return False
    subprocess.run(ns.ev("tc", "qdisc", "del", "dev", ns.ev_if, "root"))
    return True


@pytest.fixture(scope="module")
def impaired():
    """ev <-> mid <-> fw, the middle relaying with loss/duplication/reordering.

    With ``tc netem`` (kernel module sch_netem) the impairment is the kernel's; kernels
    without it (this CI's) use ``netpeer.py impair``, a userspace relay in the middle.
    """
    ns = Netns(str(os.getpid() % 100000 + 1), impaired=True)
    try:
        ns.up()
    except subprocess.CalledProcessError as e:
        ns.down()
        pytest.skip("cannot create namespaces: %s" % e.stderr.decode(errors="replace").strip())
    relay = None
    if _netem_available(ns):
        netem = ["netem", "loss", "8%", "duplicate", "5%", "delay", "3ms", "reorder", "25%", "50%"]
        for ifn in (ns.mid_ev_if, ns.mid_fw_if):
            subprocess.run(ns.mid("tc", "qdisc", "replace", "dev", ifn, "root", *netem), check=True)
        # The kernel forwards nothing between the middle's two ends: bridge them.
        subprocess.run(ns.mid("ip", "link", "add", "br0", "type", "bridge"), check=True)
        for ifn in (ns.mid_ev_if, ns.mid_fw_if):
            subprocess.run(ns.mid("ip", "link", "set", ifn, "master", "br0"), check=True)
        subprocess.run(ns.mid("ip", "link", "set", "br0", "up"), check=True)
        kind = "tc netem"
    else:
        relay = subprocess.Popen(ns.mid(PY, os.path.join(ROOT, "tools", "netpeer.py"), "impair",
                                        ns.mid_ev_if, ns.mid_fw_if, "--loss", "0.08", "--dup", "0.05",
                                        "--reorder", "0.25", "--seed", "7"),
                                 stdout=subprocess.PIPE, text=True)
        assert relay.stdout.readline().startswith("READY")
        kind = "userspace relay (no sch_netem in this kernel)"
    print("impairment:", kind)
    yield ns
    if relay is not None:
        relay.kill()
        relay.wait()
    ns.down()


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_echo_under_loss_reordering_duplication(impaired, runtime, tmp_path):
    link = impaired
    before = _kernel_counters(link)
    fw = Firmware(link, runtime, tmp_path)
    try:
        # Per-read timeout 20 s: a segment lost three times in a row waits out RTO back-off.
        res = _client(link, "--sizes", "10,100,1000,1500,3000,5000,8000,100,3000,8000", "--batch", "1",
                      "--timeout", "20", timeout=150)
        assert all(ok for _, ok in res["echo"]), res["echo"]
        assert res["batch"] == [True] * 4
        p = subprocess.run(link.ev("ping", "-6", "-c", "20", "-i", "0.05", "-W", "1",
                                   "%s%%%s" % (FW_ADDR, link.ev_if)), capture_output=True, text=True)
        assert " 100% packet loss" not in p.stdout
    finally:
        stats = fw.stop()
    _assert_clean(link, before, stats)
    print("impaired %s: %s" % (runtime, {k: v for k, v in stats.items() if k.startswith("tcp_")}))
