"""SLAC against independent peers over a veth pair between two network namespaces
(PEERS.md sections 2 and 4):

- QCA ``pev`` (open-plc-utils, Debian ``plc-utils-extra``), a closed-loop EV, matches
  against the firmware's charger side (boards/sim/slac_rawpeer.py evse) under CPython and
  under the MicroPython unix port;
- the firmware's simulated car side (boards/sim/slac_rawpeer.py ev) matches against
  pyslac's charger side (PyPI pyslac 0.8.3 + marshmallow<4 in .deps/pyslac).

veth has no HomePlug modems, so this module plays their local replies itself (run as a
script in each namespace: ``python test_slac_peers.py fake-modem IFACE [--no-sounds]``):
CM_SET_KEY.CNF with Result=1 (what real QCA modems send) for a CM_SET_KEY.REQ from the far
side, and on the EV side one CM_ATTEN_PROFILE.IND (58 groups) per CM_MNBC_SOUND.IND the
local EV sends, addressed to the charger.

CPython-only and root: namespaces, raw sockets, subprocesses. Skips with the reason when
not root or a peer is missing.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
import tools  # noqa: E402,F401
from firmware.slac import mme  # noqa: E402

PYSLAC = os.path.join(ROOT, ".deps", "pyslac", "bin", "python")
PY = os.path.join(ROOT, ".venv", "bin", "python")
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


# ---- the fake local modems (script mode, stdlib + firmware.slac.mme) -------------------

def fake_modem(iface, sounds=True, seconds=60, aag=30):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.5)
    evse = None
    m = mme.Mme()
    b = bytearray(mme.MAX_MME)
    end = time.time() + seconds
    print("fake modem on %s (profiles %s)" % (iface, sounds), flush=True)
    while time.time() < end:
        try:
            f, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        outgoing = addr[2] == PACKET_OUTGOING
        mt = mme.mmtype_of(f, len(f))
        if mt < 0:
            continue
        try:
            mme.decode(f, len(f), m)
        except mme.MmeError:
            continue
        src = f[6:12]
        if mt == mme.CM_SLAC_PARM_CNF and not outgoing:
            evse = evse or src
        elif mt == mme.CM_SET_KEY_REQ and not outgoing and f[0:6] in (mme.LOCAL_MODEM, mme.BROADCAST):
            if sounds:
                evse = evse or src
            n = mme.set_key_cnf(b, src, mme.LOCAL_MODEM, 1, os.urandom(4),
                                m.field(m.o_my_nonce, 4), m.pid, m.prn, m.pmn)
            s.send(bytes(b[:n]))
            print("SET_KEY.REQ from %s answered" % src.hex(), flush=True)
        elif mt == mme.CM_MNBC_SOUND_IND and outgoing and sounds:
            n = mme.atten_profile_ind(b, evse or mme.BROADCAST, mme.LOCAL_MODEM, src, bytes([aag]) * 58)
            s.send(bytes(b[:n]))
        elif mt in mme.NAMES and not outgoing:
            print("<- %s from %s" % (mme.NAMES[mt], src.hex()), flush=True)


PYSLAC_EVSE = r'''
import asyncio, logging, sys
from pyslac.environment import Config
from pyslac.session import SlacEvseSession, SlacSessionController, STATE_MATCHED
logging.basicConfig(level=logging.INFO)
class H(SlacSessionController):
    async def notify_matching_ongoing(self, evse_id): pass
    async def notify_matching_failed(self, evse_id): print("pyslac: matching failed", flush=True)
    async def enable_hlc_charging(self, evse_id): pass
async def main():
    cfg = Config(); cfg.load_envs()
    h = H(); s = SlacEvseSession("DE*PYS*E1", sys.argv[1], cfg)
    await s.evse_set_key()
    await h.process_cp_state(s, "B")
    await asyncio.sleep(2)
    await h.process_cp_state(s, "C")
    for _ in range(80):
        await asyncio.sleep(0.25)
        if s.state == STATE_MATCHED:
            print("PYSLAC matched pev=%s nid=%s nmk=%s" % (s.pev_mac.hex(), s.nid.hex(), s.nmk.hex()), flush=True)
            break
    else:
        print("PYSLAC not matched state=%s" % s.state, flush=True)
    await h.process_cp_state(s, "A")
asyncio.run(main())
'''


if __name__ == "__main__":
    if sys.argv[1] == "fake-modem":
        fake_modem(sys.argv[2], sounds="--no-sounds" not in sys.argv,
                   seconds=float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 60)
    sys.exit(0)


# ---- the tests ---------------------------------------------------------------------------

import pytest  # noqa: E402
from tools.netpeer import Netns  # noqa: E402
from tools.sim import mpbuild  # noqa: E402

if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces, raw sockets)", allow_module_level=True)
_MISSING = [t for t in ("ip", "ethtool") if shutil.which(t) is None]
if _MISSING:
    pytest.skip("missing tools: %s (Debian: iproute2 ethtool)" % " ".join(_MISSING),
                allow_module_level=True)


@pytest.fixture(scope="module")
def link():
    ns = Netns("sl%d" % (os.getpid() % 10000))
    try:
        ns.up()
    except subprocess.CalledProcessError as e:
        pytest.skip("cannot create namespaces: %s" % e.stderr)
    yield ns
    ns.down()


def _in(ns, *cmd, env=None):
    return subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _fakes(link, seconds):
    me = os.path.abspath(__file__)
    ev_side = _in(link.ev_ns, PY, me, "fake-modem", link.ev_if, "--seconds", str(seconds))
    evse_side = _in(link.fw_ns, PY, me, "fake-modem", link.fw_if, "--no-sounds", "--seconds", str(seconds))
    time.sleep(1.0)
    return ev_side, evse_side


def _finish(*procs):
    out = []
    for p in procs:
        try:
            o, _ = p.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
            o, _ = p.communicate()
        out.append(o)
    return out


def _pev_ini(tmp_path):
    ini = str(tmp_path / "pev.ini")
    txt = subprocess.run(["pev", "-c"], capture_output=True, text=True).stdout
    with open(ini, "w") as f:
        f.write(txt.replace("settle time = 10", "settle time = 1"))
    return ini


def _cpy_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join((os.path.join(ROOT, "lib", "cpython"), ROOT)))


def _evse_cmd(runtime):
    if runtime == "cpython":
        return [PY, "-m", "boards.sim.slac_rawpeer", "evse"], _cpy_env()
    out, errors = mpbuild.build()
    assert not errors, errors
    return [mpbuild.micropython(), "-X", "heapsize=128K", "-m", "boards.sim.slac_rawpeer", "evse"], mpbuild.env(out)


@pytest.mark.skipif(shutil.which("pev") is None, reason="QCA pev not installed (Debian: plc-utils-extra)")
@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_qca_pev_matches_our_evse(link, tmp_path, runtime):
    ini = _pev_ini(tmp_path)
    fakes = _fakes(link, 25)
    cmd, env = _evse_cmd(runtime)
    fw = _in(link.fw_ns, *(cmd + [link.fw_if, "20"]), env=env)
    time.sleep(1.0)
    pev = _in(link.ev_ns, "timeout", "30", "pev", "-i", link.ev_if, "-p", ini)
    pev_out, fw_out = _finish(pev, fw)
    ev_fake, evse_fake = _finish(*fakes)
    report = "\n--- pev\n%s\n--- firmware\n%s\n--- fake EV side\n%s" % (pev_out[-3000:], fw_out[-3000:], ev_fake[-2000:])
    assert "RESULT matched 020000000" in fw_out, report
    assert pev.returncode == 0, report
    assert "CM_SLAC_MATCH" in pev_out or "Matching" in pev_out or "MATCH" in pev_out.upper(), report
    line = [ln for ln in fw_out.splitlines() if ln.startswith("RESULT")][0]
    assert "key_ok=True" in line, report  # our CM_SET_KEY.REQ was confirmed by the fixture


@pytest.mark.skipif(not os.path.exists(PYSLAC),
                    reason="pyslac venv missing: python3 -m venv .deps/pyslac && "
                           ".deps/pyslac/bin/pip install pyslac==0.8.3 'marshmallow<4'")
def test_our_ev_matches_pyslac_evse(link, tmp_path):
    fakes = _fakes(link, 40)
    script = str(tmp_path / "pyslac_evse.py")
    with open(script, "w") as f:
        f.write(PYSLAC_EVSE)
    evse = _in(link.fw_ns, PYSLAC, script, link.fw_if, env=dict(os.environ, LOG_LEVEL="INFO"))
    # pyslac listens only after its fixed 10 s settle time following CM_SET_KEY.CNF
    time.sleep(11.0)
    ev = _in(link.ev_ns, PY, "-m", "boards.sim.slac_rawpeer", "ev", link.ev_if, "16", env=_cpy_env())
    ev_out, evse_out = _finish(ev, evse)
    _finish(*fakes)
    report = "\n--- our EV\n%s\n--- pyslac\n%s" % (ev_out[-3000:], evse_out[-4000:])
    assert "RESULT matched 02000000005c" in ev_out, report
    assert "PYSLAC matched pev=0200000000e1" in evse_out, report
    ours = [ln for ln in ev_out.splitlines() if ln.startswith("RESULT")][0]
    theirs = [ln for ln in evse_out.splitlines() if ln.startswith("PYSLAC")][0]
    assert ours.split("nmk=")[1].split()[0] == theirs.split("nmk=")[1].split()[0], report
