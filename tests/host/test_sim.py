"""The simulator end to end under CPython: every scenario passes in-process, the command
line does what it says, and a scenario that goes wrong fails loudly.

CPython only: it runs subprocesses and pytest parametrisation; ``make test`` runs the
same scenarios under MicroPython through ``python -m tools.sim --all --runtime
micropython``.
"""
import json
import os
import subprocess
import sys

import pytest

import tools
from firmware.iec61851 import charger as chg
from tools.sim import runner, scenarios


@pytest.mark.parametrize("name", scenarios.NAMES)
def test_scenario_passes(name, tmp_path):
    sim = runner.run(name, scenarios.find(name), str(tmp_path / "fs"), quiet=True)
    assert sim.failures == []


def test_at_least_the_faults_the_issue_names():
    need = {"no_diode", "cp_short", "state_d_no_ventilation", "rcd_trip", "welded", "pp_open",
            "pp_invalid", "pp_changed", "overcurrent", "unplug_while_charging", "cp_noise",
            "adc_out_of_range", "pause_below_6a", "power_loss"}
    assert need <= set(scenarios.NAMES)


def test_a_broken_expectation_fails_the_scenario(tmp_path):
    async def script(sim):
        await sim.sleep(1)
        sim.ev.plug()
        await sim.until(lambda: sim.charger.state == chg.CHARGING, 0.2, "charging in 0.2 s")

    sim = runner.run("broken", ("too impatient", {}, script), str(tmp_path / "fs"), quiet=True)
    assert sim.failures and "timeout" in sim.failures[0]


def test_invariant_catches_contactor_opened_under_load(tmp_path):
    async def script(sim):
        await sim.sleep(1)
        sim.ev.plug()
        await sim.until(lambda: sim.ev.current_ma > 0, 10, "current")
        sim.board.contactor.set(False)  # behind the firmware's back
        await sim.sleep(1)

    sim = runner.run("hostile", ("", {"ev": {"target_wh": 10 ** 6}}, script), str(tmp_path / "fs"), quiet=True)
    assert any("under load" in f for f in sim.failures)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tools.sim", *args], cwd=tools.ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_lists_and_runs_with_a_json_log(tmp_path):
    r = _cli("--list-scenarios")
    assert r.returncode == 0 and "basic_ac" in r.stdout and "power_loss" in r.stdout
    out = tmp_path / "log.json"
    r = _cli("--scenario", "rcd_trip", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fault rcd" in r.stdout  # the timeline is printed
    log = json.loads(out.read_text())
    assert log["passed"] is True and log["scenario"] == "rcd_trip"
    kinds = [row["event"] for row in log["rows"]]
    assert "fault" in kinds and "contactor" in kinds
    assert set(log["rows"][0]) >= {"t", "cp", "duty", "contactor", "current_a", "energy_wh", "fault"}


def test_cli_unknown_scenario_fails():
    r = _cli("--scenario", "no_such_thing")
    assert r.returncode != 0


def test_runs_are_repeatable(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for p in (a, b):
        assert _cli("--scenario", "cp_noise", "--quiet", "--json", str(p)).returncode == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.skipif(not os.path.exists(os.path.join(os.path.dirname(sys.executable), "micropython")),
                    reason="the MicroPython unix port is installed by make setup")
def test_micropython_run_of_the_default_scenario(tmp_path):
    out = tmp_path / "mp.json"
    r = _cli("--scenario", "basic_ac", "--runtime", "micropython", "--heap", "144", "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "micropython: scenario basic_ac" in r.stdout
    assert json.loads(out.read_text())["passed"] is True


def test_plot_of_a_session(tmp_path):
    png = tmp_path / "s.png"
    r = _cli("--scenario", "pause_below_6a", "--quiet", "--plot", str(png))
    assert r.returncode == 0, r.stdout + r.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000


def test_plot_has_an_ocpp_lane_when_the_log_has_ocpp_messages(tmp_path):
    import matplotlib.image

    from tools import plot

    def row(t, event, value=None):
        return {"t": t, "event": event, "value": value, "cp": "B", "duty": 266,
                "charger": "ready", "contactor": False, "current_a": 0.0, "energy_wh": 0,
                "fault": "none"}
    rows = [row(0, "boot"), row(1, "cp"), row(2, "duty"), row(3, "cp")]
    with_ocpp = rows + [row(1.5, "ocpp", "> StartTransaction idTag=T"),
                        row(1.6, "ocpp", "< StartTransaction.conf transactionId=1"),
                        row(2.5, "ocpp", "< RemoteStopTransaction transactionId=1")]
    plain = plot.plot({"scenario": "x", "rows": rows}, str(tmp_path / "a.png"))
    lane = plot.plot({"scenario": "x", "rows": with_ocpp}, str(tmp_path / "b.png"))
    h_plain = matplotlib.image.imread(plain).shape[0]
    h_lane = matplotlib.image.imread(lane).shape[0]
    assert h_lane > h_plain  # one more panel


def test_slac_scenario_writes_a_pcapng(tmp_path):
    cap = tmp_path / "slac.pcapng"
    r = _cli("--scenario", "slac", "--quiet", "--pcap", str(cap))
    assert r.returncode == 0, r.stdout + r.stderr
    from tools import pcap

    data = cap.read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng section header block
    frames = list(pcap.read_frames(data))
    assert len(frames) >= 15  # set-key, param, start-atten x3, sounds x10, atten-char, match
