"""The rig of the host OCPP tests (no tests here): the firmware App with its OCPP client on
the simulated board, in real time over a real loopback WebSocket, against the embedded
central system (tools.csms: the `ocpp` library with schema validation and date-time
checks). CPython only, as the central system is."""
import asyncio
import shutil
import ssl
import subprocess
import tempfile

import pytest

import tools  # noqa: F401
from boards.sim.board import World
from firmware import config
from firmware.iec61851 import charger as chg
from firmware.main import App
from firmware.ocpp import chargepoint
from firmware.ocpp.backoff import Backoff
from lib import log
from tools.csms import Csms

CFG = {"auth": "external", "rcd_self_test": False, "checkpoint_s": 1}
OCPP = {"MeterValueSampleInterval": 1, "HeartbeatInterval": 300}


async def until(pred, what, limit_s=20):
    for _ in range(int(limit_s * 50)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


async def stop_tasks(tasks):
    """Cancel the firmware's tasks and wait for their end, bounded: a task that ignores its
    cancellation fails the test instead of hanging it; one that crashed raises here."""
    for t in tasks:
        t.cancel()
    _done, pending = await asyncio.wait(tasks, timeout=30)
    assert not pending, "a firmware task ignored its cancellation: %r" % (pending,)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()


class Wallbox:
    """The firmware with OCPP on a simulated board; ``power_cut()``/``boot()`` (or
    ``reboot()``) restart it from its persisted state, as a reboot would. ``ocpp``: the
    client's configuration overrides (default OCPP); ``ca_der``: the CA for https/wss."""

    def __init__(self, url, root, ocpp=None, ca_der=None):
        self.url = url
        self.ocpp = OCPP if ocpp is None else ocpp
        self.ca_der = ca_der
        self.world = World(root, ev={"target_wh": 100000, "react_ms": 200})
        self.board = self.world.board
        self.board.pp.cable_ohms = 220  # a 32 A cable
        self.app = None
        self.cp = None
        self._tasks = []
        self._world = None

    def boot(self):
        self.board.power_on()
        self.board.reboot_requested = False
        self.app = App(self.board, config.make(CFG))
        self.cp = chargepoint.attach(self.app, self.url, cfg_overrides=self.ocpp, timeout_ms=5000,
                                     ca_der=self.ca_der)
        self._tasks = [asyncio.create_task(self.app.run()),
                       asyncio.create_task(self.cp.run(Backoff(first_ms=100, max_ms=400)))]
        if self._world is None:
            self._world = asyncio.create_task(self.world.run())

    async def power_cut(self):
        await stop_tasks(self._tasks)
        self.board.power_off()

    async def reboot(self):
        await self.power_cut()
        self.boot()

    async def shutdown(self):
        await self.power_cut()
        self._world.cancel()

    async def plug(self):
        # (the session controller begins a session only when authorised after the plug)
        self.world.ev.plug()
        await until(lambda: self.app.session.plugged, "plugged")

    async def charging(self):
        await until(lambda: self.app.charger.state == chg.CHARGING, "charging")

    async def unplug(self):
        self.world.ev.unplug()
        await until(lambda: self.app.charger.state == chg.IDLE, "idle")


def run(body, ocpp=None, ca_der=None, reject_tags=("BADTAG",)):
    """``await body(cs, wb)`` with the central system up and the wallbox booted and
    registered; returns its result."""
    root = tempfile.mkdtemp(prefix="evse-ocpp-")
    log.set_sink(lambda *a: None)

    async def main():
        async with Csms(port=0, reject_tags=reject_tags) as cs:
            wb = Wallbox(cs.url("CP_1"), root, ocpp, ca_der)
            wb.boot()
            try:
                await until(lambda: "CP_1" in cs.connected and len(cs.actions("StatusNotification")) >= 2,
                            "boot and status")
                return await body(cs, wb)
            finally:
                await wb.shutdown()
    try:
        return asyncio.run(main())
    finally:
        log.set_sink(None)
        shutil.rmtree(root, ignore_errors=True)


def check_complete(cs, n=1):
    """``n`` transactions at the backend, each started and stopped once."""
    assert cs.duplicates == [] and cs.unknown == []
    assert len(cs.transactions) == n
    for tx, t in cs.transactions.items():
        assert t["stop"] is not None, tx
        assert t["stop"]["meter_stop"] >= t["meter_start"]


# ---- a test PKI (openssl) for wss:// and https:// ---------------------------------------

def _openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for localhost/127.0.0.1 it signed, and a second CA."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI missing")
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other_ca"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
                 "-subj", "/CN=Test %s" % ca, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        _openssl("x509", "-in", ca + ".pem", "-outform", "DER", "-out", ca + ".der", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n"
                               "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


def server_ctx(pki):
    """A TLS server context with the certificate ``pki`` made for localhost."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    return ctx
