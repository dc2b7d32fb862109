"""The simulator's OCPP scenarios, in real time against the embedded central system
(tools.csms): ``ocpp_session`` (the default session of ``make sim``) records a complete
transaction at the backend and prints the OCPP messages in its timeline, on both
runtimes; ``idle`` is a simulated wallbox that answers a central system it is pointed
at, and reboots from its persisted state on a Reset.

CPython only: the central system is a CPython library, the runs are subprocesses.
"""
import asyncio
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("ocpp.routing")

import tools  # noqa: E402
from tools.csms import Csms  # noqa: E402
from tools.sim import ocpplink, runner, scenarios  # noqa: E402
from tools.sim.scenarios import ocpp_session  # noqa: E402

_MP = os.path.join(os.path.dirname(sys.executable), "micropython")
RUNTIMES = ["cpython", pytest.param("micropython", marks=pytest.mark.skipif(
    not os.path.exists(_MP), reason="the MicroPython unix port is installed by make setup"))]


def test_ocpp_session_records_a_complete_transaction_and_shows_the_messages(tmp_path):
    log_path = tmp_path / "s.json"
    sim = runner.run("ocpp_session", scenarios.find("ocpp_session"), str(tmp_path / "fs"), quiet=True,
                     json_path=str(log_path))
    assert sim.failures == []
    from firmware.ocpp import rpc

    assert rpc.observer is None  # the run took its observer away
    txs = sim.link.records["transactions"]
    assert len(txs) == 1 and txs[0]["stop"]["reason"] == "EVDisconnected"
    assert sim.result["wh"] == txs[0]["stop"]["meter_stop"] - txs[0]["meter_start"] > 0
    rows = json.loads(log_path.read_text())["rows"]
    ocpp = [r["value"] for r in rows if r["event"] == "ocpp"]
    for want in ("> BootNotification", "< BootNotification.conf status=Accepted",
                 "< RemoteStartTransaction idTag=%s" % ocpp_session.TAG, "> RemoteStartTransaction.conf",
                 "> Authorize", "> StartTransaction", "< StartTransaction.conf transactionId=1",
                 "> MeterValues transactionId=1", "> StopTransaction", "> StatusNotification status=Charging"):
        assert any(v.startswith(want) for v in ocpp), (want, ocpp)
    # beside the charge point's state: the Charging notification is sent in CP state C
    charging = [r for r in rows if r["event"] == "ocpp" and "status=Charging" in r["value"]]
    assert charging and charging[0]["cp"] == "C" and charging[0]["charger"] == "charging"


def _records(**change):
    rec = {"boots": ["CP"], "duplicates": [], "unknown": [], "status": [],
           "messages": [["CP", "BootNotification", {}], ["CP", "Authorize", {"idTag": ocpp_session.TAG}]],
           "transactions": [{"id": 1, "id_tag": ocpp_session.TAG, "meter_start": 100, "meter_values": [
               [{"sampled_value": [{"value": "100"}]}], [{"sampled_value": [{"value": "105"}]}]],
               "stop": {"meter_stop": 110, "reason": "EVDisconnected"}}]}
    rec.update(change)
    return rec


def test_the_backend_check_can_fail():
    chk = ocpp_session.check_backend
    assert chk(_records(), {"wh": 10}) == []
    assert chk(_records(), {"wh": 9})  # energy not the wallbox's
    assert chk(_records(duplicates=[["StopTransaction", 1]]), {"wh": 10})
    t = _records()["transactions"][0]
    assert chk(_records(transactions=[dict(t, stop=None)]), None)
    assert chk(_records(transactions=[t, dict(t, id=2)]), {"wh": 10})
    mv = [[{"sampled_value": [{"value": "120"}]}], [{"sampled_value": [{"value": "101"}]}]]
    assert chk(_records(transactions=[dict(t, meter_values=mv)]), {"wh": 10})


def test_the_timeline_takes_any_payload():
    for p in (None, [], "x" * 500, {"meterValue": 5}, {"meterValue": [{"sampledValue": [1, {"value": []}]}]},
              {"status": {"a": "b" * 100}, "idTagInfo": []}, {"meterValue": [None, {"sampledValue": "s"}]}):
        assert isinstance(ocpplink.brief(p), str) and len(ocpplink.brief(p)) <= 100


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tools.sim", *args], cwd=tools.ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_lists_the_ocpp_scenarios():
    r = _cli("--list-scenarios")
    assert r.returncode == 0 and "ocpp_session" in r.stdout and "idle" in r.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_idle_wallbox_answers_a_central_system_and_reboots_on_reset(runtime):
    """``--scenario idle --csms URL``: a remote start charges the car plugged at 0.5 s; a
    setting changed before the Reset is still there after the reboot; the transaction the
    Reset ended is complete at the backend, nothing twice."""

    async def main():
        async with Csms(port=0) as cs:
            p = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tools.sim", "--scenario", "idle", "--csms", cs.url("CP_IDLE"),
                "--duration", "8", "--plug-at", "0.5", "--runtime", runtime, cwd=tools.ROOT,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                for _ in range(400):
                    if "CP_IDLE" in cs.connected and any(s[2] == "Preparing" for s in cs.status):
                        break
                    await asyncio.sleep(0.02)
                from ocpp.v16 import call

                r = await cs.call("CP_IDLE", call.ChangeConfiguration(key="ConnectionTimeOut", value="42"))
                assert r.status == "Accepted"
                assert await cs.remote_start("CP_IDLE", "IDLE1") == "Accepted"
                for _ in range(400):
                    if cs.transactions:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(1.5)  # charging
                assert await cs.reset("CP_IDLE", "Soft") == "Accepted"
                for _ in range(400):
                    if len(cs.boots) == 2 and "CP_IDLE" in cs.connected:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)
                r = await cs.call("CP_IDLE", call.GetConfiguration(key=["ConnectionTimeOut"]))
                return cs, r, (await asyncio.wait_for(p.communicate(), 60))[0].decode()
            finally:
                if p.returncode is None:
                    p.kill()
                    await p.wait()

    cs, conf, out = asyncio.run(main())
    assert "scenario idle" in out and " ok " in out and "resets Soft" in out, out
    assert "> Reset.conf status=Accepted" in out and "power_on" in out
    assert cs.boots == ["CP_IDLE", "CP_IDLE"]
    assert conf.configuration_key[0]["value"] == "42"  # persisted across the reboot
    assert cs.duplicates == [] and cs.unknown == []
    t = cs.transactions[1]
    assert len(cs.transactions) == 1 and t["id_tag"] == "IDLE1"
    assert t["stop"]["reason"] == "SoftReset" and t["stop"]["meter_stop"] > t["meter_start"]


def test_idle_without_a_central_system_fails():
    r = _cli("--scenario", "idle", "--csms", "ws://127.0.0.1:9/ocpp/X", "--duration", "1.5", "--quiet")
    assert r.returncode != 0 and "a frame from the central system" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not os.path.exists(_MP), reason="the MicroPython unix port is installed by make setup")
def test_ocpp_session_under_micropython_against_the_embedded_central_system():
    r = _cli("--scenario", "ocpp_session", "--runtime", "micropython")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "micropython: scenario ocpp_session" in r.stdout and "micropython: backend  ocpp_session" in r.stdout
    assert "> StopTransaction" in r.stdout and "RESULT" not in r.stdout
