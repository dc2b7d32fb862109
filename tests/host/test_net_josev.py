"""The Josev EVCC (PyPI ``iso15118``, an EV written by others) against the firmware's stack.

CPython only and root: network namespaces, a Java-backed EVCC in a separate venv
(PEERS.md section 3). The EVCC must get through SDP, neighbour discovery and the TCP
handshake, and its first V2GTP message (supportedAppProtocolReq) must reach the layer
above the firmware's V2GTP intact (compared with the EXI the EVCC logs as sent). Nothing
answers it yet (that is the SECC's job), so the EVCC times out afterwards and is stopped.

Skips unless Josev is installed: $JOSEV_PYTHON, or /tmp/peers/josev/bin/python
(``python3 -m venv /tmp/peers/josev && /tmp/peers/josev/bin/pip install iso15118==0.31.2 aiofile``).
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
from tools.netpeer import Netns  # noqa: E402

JOSEV_PY = os.environ.get("JOSEV_PYTHON", "/tmp/peers/josev/bin/python")
if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces)", allow_module_level=True)
if not os.path.exists(JOSEV_PY) or shutil.which("java") is None or shutil.which("ethtool") is None:
    pytest.skip("Josev EVCC not installed (see module docstring) or java/ethtool missing",
                allow_module_level=True)

RUNTIMES = {"cpython": [os.path.join(ROOT, ".venv", "bin", "python")],
            "micropython": [os.path.join(ROOT, ".venv", "bin", "micropython"), "-X", "heapsize=512K"]}


@pytest.fixture(scope="module")
def link():
    ns = Netns(str(os.getpid() % 100000 + 2))
    ns.up()
    yield ns
    ns.down()


def _lines_until(proc, prefix, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if line.startswith(prefix):
                return line
    return None


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_josev_evcc_delivers_supported_app_protocol_req(link, runtime, tmp_path):
    pkg = subprocess.run([JOSEV_PY, "-c", "import iso15118,os;print(os.path.dirname(iso15118.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    cfg = os.path.join(pkg, "shared", "examples", "evcc", "DIN", "evcc_config.json")
    stop = str(tmp_path / "stop")
    fw = subprocess.Popen(link.fw(*(RUNTIMES[runtime] + [os.path.join(ROOT, "tools", "netpeer.py"), "serve",
                                                         link.fw_if, "--app", "record", "--quiet",
                                                         "--stop-file", stop, "--seconds", "90"])),
                          cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert fw.stdout.readline().startswith("READY")
    log_path = tmp_path / "evcc.log"
    env = dict(os.environ, NETWORK_INTERFACE=link.ev_if, LOG_LEVEL="INFO", MESSAGE_LOG_EXI="True",
               EVCC_CONFIG_PATH=cfg)
    with open(log_path, "w") as logf:
        ev = subprocess.Popen(link.ev(JOSEV_PY, "-m", "iso15118.evcc.main"), cwd=str(tmp_path), env=env,
                              stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        got = _lines_until(fw, "V2GTP ", 60)
        assert got is not None, open(log_path).read()[-3000:]
        _, ptype, payload = got.split()
        # The EVCC names what it sent once its 2 s wait for the answer is over.
        sent = None
        end = time.monotonic() + 15
        while time.monotonic() < end and sent is None:
            m = re.search(r"Header = \[0x1, 0xfe, 0x8001, (\d+)\], Payload = ([0-9a-f]+)", open(log_path).read())
            if m:
                sent = m.group(2)
            time.sleep(0.2)
        log = open(log_path).read()
    finally:
        os.killpg(ev.pid, signal.SIGKILL)
        ev.wait()
        open(stop, "w").close()
        fw.communicate(timeout=20)
    assert "SDPResponse received" in log and "TCP client connected" in log
    assert "Sent supportedAppProtocolReq" in log
    assert ptype == "0x8001"
    assert sent is not None, log[-2000:]
    assert payload == sent
