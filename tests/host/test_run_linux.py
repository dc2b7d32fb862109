"""``python -m tools.run --board linux`` (charger App + SLAC + IPv6/SDP/V2GTP on a raw
interface) against independent peers over a veth pair between two namespaces:

(a) QCA ``pev`` (open-plc-utils, Debian ``plc-utils-extra``) matches against the run's
    SLAC, with the two modems' local replies played by tests/host/test_slac_peers.py's
    fake-modem fixture (PEERS.md section 4.4);
(b) with ``--no-slac`` the Josev EVCC gets through SDP and TCP and its first V2GTP message
    (supportedAppProtocolReq) is printed by the run, equal to what the EVCC logged as sent;
(c) SIGTERM / SIGINT end the run with exit code 0 and a STATS line;
(d) the whole path: ``pev`` matches, IPv6 opens, then the Josev EVCC's supportedAppProtocolReq
    arrives over the same link.
Each under CPython and under the MicroPython unix port (run from source, 1 MB heap).

CPython-only and root: network namespaces, raw sockets, subprocesses, third-party peers.
Skips with the reason when not root or a tool / peer is missing.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from tools.netpeer import Netns  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
FAKE_MODEM = os.path.join(ROOT, "tests", "host", "test_slac_peers.py")
JOSEV_PY = os.environ.get("JOSEV_PYTHON", "/tmp/peers/josev/bin/python")

if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces, raw sockets)", allow_module_level=True)
_MISSING = [t for t in ("ip", "ethtool") if shutil.which(t) is None]
if _MISSING:
    pytest.skip("missing tools: %s (Debian: iproute2 ethtool)" % " ".join(_MISSING),
                allow_module_level=True)

RUNTIMES = ["cpython", "micropython"]


@pytest.fixture(scope="module")
def link():
    ns = Netns("rl%d" % (os.getpid() % 1000))
    try:
        ns.up()
    except subprocess.CalledProcessError as e:
        ns.down()
        pytest.skip("cannot create namespaces: %s" % e.stderr.decode(errors="replace").strip())
    yield ns
    ns.down()


class Run:
    """``tools.run`` in the firmware's namespace; its output is collected line by line."""

    def __init__(self, ns, runtime, tmp_path, *extra):
        self.data = str(tmp_path / ("data-" + runtime))
        cfg = str(tmp_path / ("run-%s.json" % runtime))
        with open(cfg, "w") as f:
            json.dump({"board": {"data_dir": self.data}}, f)
        cmd = ns.fw(PY, "-m", "tools.run", "--board", "linux", "--iface", ns.fw_if,
                    "--runtime", runtime, "--config", cfg, *extra)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        assert self.wait_for("READY ", 30) is not None, self.text()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self):
        return "\n".join(self.lines[-80:])

    def wait_for(self, pattern, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for ln in list(self.lines):
                if re.search(pattern, ln):
                    return ln
            if self.proc.poll() is not None and not self._t.is_alive():
                break
            time.sleep(0.1)
        return None

    def stop(self, sig=signal.SIGTERM):
        """Signal the supervisor; returns (exit code, STATS dict)."""
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._t.join(5)
        stats = None
        for ln in self.lines:
            if ln.startswith("STATS "):
                stats = json.loads(ln[6:])
        return rc, stats


def _bg(cmd, log_path=None, **kw):
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, **kw)


def _pev_ini(tmp_path):
    ini = str(tmp_path / "pev.ini")
    txt = subprocess.run(["pev", "-c"], capture_output=True, text=True).stdout
    with open(ini, "w") as f:
        f.write(txt.replace("settle time = 10", "settle time = 1"))
    return ini


@pytest.mark.skipif(shutil.which("pev") is None, reason="QCA pev not installed (Debian: plc-utils-extra)")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_qca_pev_matches_the_run(link, tmp_path, runtime):
    ini = _pev_ini(tmp_path)
    env = dict(os.environ, PYTHONPATH=ROOT)
    fakes = [_bg(link.ev(PY, FAKE_MODEM, "fake-modem", link.ev_if, "--seconds", "40"), env=env),
             _bg(link.fw(PY, FAKE_MODEM, "fake-modem", link.fw_if, "--no-sounds", "--seconds", "40"), env=env)]
    time.sleep(1.0)
    run = Run(link, runtime, tmp_path)
    try:
        pev = subprocess.run(link.ev("timeout", "30", "pev", "-i", link.ev_if, "-p", ini),
                             capture_output=True, text=True)
        matched = run.wait_for(r"slac: matched 02:00:00:00:00:e1", 5)
    finally:
        rc, stats = run.stop()
        for f in fakes:
            f.kill()
            f.wait()
    said = pev.stdout + pev.stderr  # pev reports on stderr
    report = "\n--- pev\n%s\n--- run\n%s" % (said[-3000:], run.text())
    assert pev.returncode == 0, report
    assert "<-- CM_SLAC_MATCH.CNF" in said and "MatchedState" in said, report
    assert matched is not None, report
    assert rc == 0 and stats is not None, report
    assert stats["slac_matched"] >= 1 and stats["slac_setkey_ok"] >= 1, stats
    assert stats["link_slac"] > 0 and stats["charger_errors"] == 0, stats


@pytest.mark.skipif(not os.path.exists(JOSEV_PY) or shutil.which("java") is None,
                    reason="Josev EVCC not installed ($JOSEV_PYTHON or /tmp/peers/josev; make peers) or no java")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_josev_evcc_reaches_the_run_without_slac(link, tmp_path, runtime):
    pkg = subprocess.run([JOSEV_PY, "-c", "import iso15118,os;print(os.path.dirname(iso15118.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    cfg = os.path.join(pkg, "shared", "examples", "evcc", "DIN", "evcc_config.json")
    run = Run(link, runtime, tmp_path, "--no-slac")
    log_path = str(tmp_path / "evcc.log")
    env = dict(os.environ, NETWORK_INTERFACE=link.ev_if, LOG_LEVEL="INFO", MESSAGE_LOG_EXI="True",
               EVCC_CONFIG_PATH=cfg)
    ev = _bg(link.ev(JOSEV_PY, "-m", "iso15118.evcc.main"), log_path, env=env, start_new_session=True)
    try:
        got = run.wait_for(r"^V2GTP 0x", 60)
        sent = None
        end = time.monotonic() + 15
        while got is not None and sent is None and time.monotonic() < end:
            m = re.search(r"Header = \[0x1, 0xfe, 0x8001, (\d+)\], Payload = ([0-9a-f]+)", open(log_path).read())
            sent = m.group(2) if m else None
            time.sleep(0.2)
    finally:
        os.killpg(ev.pid, signal.SIGKILL)
        ev.wait()
        rc, stats = run.stop()
    log = open(log_path).read()
    report = "\n--- evcc\n%s\n--- run\n%s" % (log[-3000:], run.text())
    assert got is not None, report
    assert "SDPResponse received" in log and "TCP client connected" in log, report
    assert "Sent supportedAppProtocolReq" in log, report
    _, ptype, payload = got.split()
    assert ptype == "0x8001" and sent is not None and payload == sent, report
    assert rc == 0 and stats is not None, report
    assert stats["sdp_requests"] >= 1 and stats["v2gtp_connections"] >= 1, stats
    assert stats["link_slac"] == 0 and "slac_state" not in stats, stats


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_run_cleanly(link, tmp_path, runtime, sig):
    run = Run(link, runtime, tmp_path)
    # the charger got going on the board's source (car in B): it offers current
    assert run.wait_for(r"iec: connected -> ready", 20) is not None, run.text()
    rc, stats = run.stop(sig)
    assert rc == 0, run.text()
    assert stats is not None and stats["runtime"] == runtime, run.text()
    assert stats["charger_state"] == 2 and stats["slac_state"] == "waiting", stats
    assert stats["link_slac"] == 0  # nobody answered our CM_SET_KEY.REQ here
    # Nothing lingers in the namespace after the supervisor returned.
    left = subprocess.run(["ip", "netns", "pids", link.fw_ns], capture_output=True, text=True).stdout.split()
    assert left == [], left


@pytest.mark.skipif(shutil.which("pev") is None or not os.path.exists(JOSEV_PY) or shutil.which("java") is None,
                    reason="needs QCA pev and the Josev EVCC (make peers)")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pev_match_then_josev_over_the_same_link(link, tmp_path, runtime):
    """The whole path: IPv6 stays shut until SLAC matched, then the EV's V2G traffic flows."""
    ini = _pev_ini(tmp_path)
    env = dict(os.environ, PYTHONPATH=ROOT)
    fakes = [_bg(link.ev(PY, FAKE_MODEM, "fake-modem", link.ev_if, "--seconds", "60"), env=env),
             _bg(link.fw(PY, FAKE_MODEM, "fake-modem", link.fw_if, "--no-sounds", "--seconds", "60"), env=env)]
    time.sleep(1.0)
    run = Run(link, runtime, tmp_path)
    pkg = subprocess.run([JOSEV_PY, "-c", "import iso15118,os;print(os.path.dirname(iso15118.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    cfg = os.path.join(pkg, "shared", "examples", "evcc", "DIN", "evcc_config.json")
    log_path = str(tmp_path / "evcc.log")
    jenv = dict(os.environ, NETWORK_INTERFACE=link.ev_if, LOG_LEVEL="INFO", EVCC_CONFIG_PATH=cfg)
    pev = _bg(link.ev("timeout", "30", "pev", "-i", link.ev_if, "-p", ini))
    ev = got = None
    try:
        matched = run.wait_for(r"slac: matched 02:00:00:00:00:e1", 30)
        if matched is not None:
            ev = _bg(link.ev(JOSEV_PY, "-m", "iso15118.evcc.main"), log_path, env=jenv, start_new_session=True)
            got = run.wait_for(r"^V2GTP 0x8001 ", 60)
    finally:
        if ev is not None:
            os.killpg(ev.pid, signal.SIGKILL)
            ev.wait()
        pev.wait(timeout=40)
        rc, stats = run.stop()
        for f in fakes:
            f.kill()
            f.wait()
    log = open(log_path).read() if os.path.exists(log_path) else ""
    report = "\n--- evcc\n%s\n--- run\n%s" % (log[-2000:], run.text())
    assert matched is not None and got is not None, report
    assert run.wait_for(r"hlc: link up: IPv6 open", 1) is not None, report
    assert rc == 0 and stats["slac_matched"] >= 1 and stats["sdp_requests"] >= 1, stats
    assert stats["v2gtp_messages"] >= 1, stats


@pytest.mark.parametrize("doc", [{"max_current_a": 500}, {"board": {"cp": "X"}}, [1, 2],
                                 {"evse_id": "DE*TOO*LONG*FOR*SLAC"}])
def test_bad_config_stops_the_run_with_exit_2(link, tmp_path, doc):
    cfg = str(tmp_path / "bad.json")
    with open(cfg, "w") as f:
        json.dump(doc, f)
    r = subprocess.run(link.fw(PY, "-m", "tools.run", "--board", "linux", "--iface", link.fw_if,
                               "--config", cfg), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout.startswith("config: ") and "READY" not in r.stdout, r.stdout
