"""pcapng of a simulated SLAC matching: our reader reads back what the writer wrote, and
tshark (when installed; Debian package tshark) dissects every frame as HomePlug AV.

CPython-only: runs tshark as a subprocess (the writer itself is common-subset code).
"""
import io
import os
import shutil
import subprocess

import pytest

from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, match_all
from firmware.slac import mme
from tools import pcap
from tools.sim import vtime

EVSE = b"\x02\x00\x00\x00\x00\x5c"
EV = b"\x02\x00\x00\x00\x00\xe1"
NAMES = ["CM_SLAC_PARM.REQ", "CM_SLAC_PARM.CNF"] + ["CM_START_ATTEN_CHAR.IND"] * 3 + \
    ["CM_MNBC_SOUND.IND"] * 10 + ["CM_ATTEN_CHAR.IND", "CM_ATTEN_CHAR.RSP",
                                  "CM_SLAC_MATCH.REQ", "CM_SLAC_MATCH.CNF"]


def _capture(path):
    med = PlcMedium()
    with open(path, "wb") as f:
        cs = Station.charger(med, EVSE)
        car = Station.car(med, EV)
        w = pcap.tap(med, f, {cs.modem: "evse", car.modem: "ev"})
        assert vtime.run(match_all([cs], [car])) == [True]
    return w


def test_writer_reader_round_trip(tmp_path):
    path = str(tmp_path / "slac.pcapng")
    w = _capture(path)
    frames = pcap.read_frames(open(path, "rb").read())
    assert len(frames) == w.count == len(NAMES)
    names = [mme.NAMES[mme.mmtype_of(f, len(f))] for _t, f in frames]
    assert [n.replace("PARAM", "PARM") for n in names] == NAMES
    ts = [t for t, _f in frames]
    assert ts == sorted(ts) and ts[-1] - ts[0] > 300000  # virtual time, microseconds
    buf = io.BytesIO()
    pcap.PcapngWriter(buf).add(b"\x01" * 61, 5, comment="x")
    (t, f), = pcap.read_frames(buf.getvalue())
    assert t == 5 and f == b"\x01" * 61


def test_local_modem_frames_can_be_captured(tmp_path):
    med = PlcMedium()
    with open(str(tmp_path / "l.pcapng"), "wb") as f:
        cs = Station.charger(med, EVSE)
        car = Station.car(med, EV)
        pcap.tap(med, f, local=(cs.local, car.local))
        assert vtime.run(match_all([cs], [car])) == [True]
    frames = pcap.read_frames(open(str(tmp_path / "l.pcapng"), "rb").read())
    kinds = [mme.mmtype_of(fr, len(fr)) for _t, fr in frames]
    assert kinds.count(mme.CM_ATTEN_PROFILE_IND) == 10
    assert kinds.count(mme.CM_SET_KEY_REQ) == 2 and kinds.count(mme.CM_SET_KEY_CNF) == 2


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (Debian: tshark)")
def test_tshark_dissects_homeplug(tmp_path):
    path = str(tmp_path / "slac.pcapng")
    _capture(path)
    r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.protocols",
                        "-e", "_ws.col.Info"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    rows = [ln.split("\t") for ln in r.stdout.splitlines() if ln.strip()]
    assert len(rows) == len(NAMES)
    for (protos, info), want in zip(rows, NAMES):
        assert protos == "eth:ethertype:homeplug-av", protos
        assert info.startswith(want), (info, want)
    bad = subprocess.run(["tshark", "-r", path, "-Y", "_ws.malformed || _ws.expert.severity >= warning"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))
    assert bad.stdout.strip() == "", bad.stdout
