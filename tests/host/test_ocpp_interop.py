"""The firmware's WebSocket + RPC client against a real OCPP 1.6J central system: the
`ocpp` library (PyPI) on `websockets`, schema validation on (plus date-time formats),
over real loopback sockets, ws:// and wss:// with a CA and server certificate made by
the openssl CLI, HTTP Basic auth checked by the server.

CPython only: the central system is a CPython library, the certificates come from a
subprocess, and the MicroPython runs start the unix port as a subprocess.
"""
import asyncio
import base64
import json
import os
import sys

import pytest

ocpp_routing = pytest.importorskip("ocpp.routing")
websockets = pytest.importorskip("websockets")

import tools  # noqa: E402,F401
from tests.host.ocpp_rig import pki, server_ctx  # noqa: E402,F401  (pki: a fixture)
from firmware.ocpp import rpc, ws  # noqa: E402
from ocpp.routing import on  # noqa: E402
from ocpp.v16 import ChargePoint as _CpBase  # noqa: E402
from ocpp.v16 import call, call_result  # noqa: E402
from ocpp.v16.enums import Action, MessageTrigger, RegistrationStatus  # noqa: E402

ROOT = tools.ROOT
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
# The MicroPython client compiles from source at start (ws + rpc + script); env to vary.
MP_HEAP = os.environ.get("OCPP_MP_HEAP", "128K")
CP_ID = "CP_1"
AUTH_KEY = "0123456789abcdef0123"  # 20 characters: sent as they are
HEX_KEY = "00112233445566778899aabbccddeeff00ff7f80"  # 40 hex digits: sent as 20 bytes


@pytest.fixture(autouse=True, scope="module")
def strict_formats():
    """Date-time format checks for this module's central systems (tools.csms's), and the
    library put back afterwards."""
    from tools.csms import strict_formats as strict

    undo = strict()
    yield
    undo()


def _now():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CentralSystemCp(_CpBase):
    """The central system's view of one charge point: answers Boot and Heartbeat and,
    after the boot, calls GetConfiguration, TriggerMessage and an unsupported action."""

    def __init__(self, cp_id, connection, record):
        super().__init__(cp_id, connection, response_timeout=10)
        self.record = record

    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor, charge_point_model, **kw):
        self.record.setdefault("boots", []).append((charge_point_vendor, charge_point_model))
        asyncio.get_running_loop().call_soon(asyncio.ensure_future, self.after_boot())
        return call_result.BootNotification(current_time=_now(), interval=300,
                                            status=RegistrationStatus.accepted)

    @on(Action.status_notification)
    async def on_status(self, connector_id, error_code, status, **kw):
        self.record.setdefault("status", []).append((connector_id, status, kw.get("timestamp")))
        return call_result.StatusNotification()

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        self.record["heartbeats"] = self.record.get("heartbeats", 0) + 1
        return call_result.Heartbeat(current_time=_now())

    async def after_boot(self):
        if self.record.get("asked"):
            return
        self.record["asked"] = True
        try:
            r = await self.call(call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
            self.record["get_configuration"] = (r.configuration_key, r.unknown_key)
            r = await self.call(call.TriggerMessage(requested_message=MessageTrigger.heartbeat))
            self.record["trigger"] = r.status
            try:
                await self.call(call.UnlockConnector(connector_id=1), suppress=False)
            except Exception as e:  # the library raises the CALLERROR as an exception
                self.record["unlock_error"] = getattr(e, "code", type(e).__name__)
        except Exception as e:  # e.g. an answer that failed the schema
            self.record["csms_error"] = "%s: %s" % (type(e).__name__, e)


class CentralSystem:
    """websockets server with the ocpp library behind it; ``record`` collects what
    happened, ``auth`` is the Authorization header value it demands (None: none)."""

    def __init__(self, ssl_ctx=None, auth=None, port=0):
        self.ssl_ctx = ssl_ctx
        self.auth = auth
        self.record = {"auth_headers": [], "subprotocols": []}
        self.server = None
        self.port = port

    def url(self, host="127.0.0.1"):
        return "%s://%s:%d/ocpp/%s" % ("wss" if self.ssl_ctx else "ws", host, self.port, CP_ID)

    async def _process_request(self, connection, request):
        from http import HTTPStatus

        got = request.headers.get("Authorization")
        self.record["auth_headers"].append(got)
        if self.auth is not None and got != self.auth:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        return None

    async def _handler(self, connection):
        self.record["subprotocols"].append(connection.subprotocol)
        self.record["path"] = connection.request.path
        cp = CentralSystemCp(connection.request.path.rsplit("/", 1)[-1], connection, self.record)
        try:
            await cp.start()
        except websockets.exceptions.ConnectionClosed as e:
            self.record["close"] = (e.rcvd.code if e.rcvd else None)

    async def __aenter__(self):
        self.server = await websockets.serve(
            self._handler, "127.0.0.1", self.port, subprotocols=["ocpp1.6"], ssl=self.ssl_ctx,
            process_request=self._process_request, ping_interval=0.2, ping_timeout=2)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


# The charge point side, in the common subset: run in-process under CPython and as a
# subprocess under both runtimes. argv: url [ca_der_path|-] [user password]
CLIENT = r'''
import sys, gc
ROOT = %(root)r
sys.path.insert(0, ROOT)
if sys.implementation.name != "micropython":
    sys.path.insert(0, ROOT + "/lib/cpython")
import asyncio, json
from lib import log
log.level = 40
gc.collect()
heap0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
from firmware.ocpp import rpc, ws
gc.collect()
heap_code = (gc.mem_alloc() - heap0) if heap0 else 0

GET_CONFIGURATION = {"key": ("a", ("s", 50))}
TRIGGER = {"requestedMessage": ("e!", ("BootNotification", "DiagnosticsStatusNotification",
           "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StatusNotification")),
           "connectorId": ("i", 0)}
BOOT_CONF = {"status": ("e!", ("Accepted", "Pending", "Rejected")),
             "currentTime": ("t!",), "interval": ("i!",)}
HB_CONF = {"currentTime": ("t!",)}
CONFIG = {"HeartbeatInterval": "300", "WebSocketPingInterval": "1"}


async def charge_point(url, ca=None, auth=None, out=None, name="localhost"):
    out = {} if out is None else out
    if heap0:
        gc.collect()
        heap1 = gc.mem_alloc()
    r = rpc.Rpc(timeout_ms=10000)

    def get_configuration(p):
        keys = p.get("key") or list(CONFIG)
        known = [{"key": k, "readonly": False, "value": CONFIG[k]} for k in keys if k in CONFIG]
        return {"configurationKey": known, "unknownKey": [k for k in keys if k not in CONFIG]}

    def trigger(p):
        async def heartbeat():
            out["triggered"] = await r.call("Heartbeat", {}, schema=HB_CONF)
        return {"status": "Accepted"}, heartbeat

    r.on("GetConfiguration", get_configuration, GET_CONFIGURATION)
    r.on("TriggerMessage", trigger, TRIGGER)
    ctx = ws.tls_context(ca) if ca else None
    c = ws.WebSocket(url, auth=auth, ssl=ctx, server_hostname=name if ca else None,
                     max_message=4096, ping_interval_ms=1000, pong_timeout_ms=10000)
    await c.connect()
    serve = asyncio.create_task(r.serve(c))
    out["boot"] = await r.call("BootNotification", {"chargePointVendor": "OpenWallbox",
                                                    "chargePointModel": "MP-1"}, schema=BOOT_CONF)
    out["heartbeat"] = await r.call("Heartbeat", {}, schema=HB_CONF)
    try:
        await r.call("BootNotification", {"chargePointVendor": "OpenWallbox"})
    except rpc.CallError as e:
        out["bad_boot"] = e.code
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available",
              "timestamp": "2026-11-21T07:00:00Z"}
    out["status"] = await r.call("StatusNotification", status)
    status["timestamp"] = "yesterday"
    try:
        await r.call("StatusNotification", status)
    except rpc.CallError as e:
        out["bad_status"] = e.code
    for _ in range(1000):  # until the central system's three calls are through
        if "triggered" in out and r.errors_sent >= 1:
            break
        await asyncio.sleep(0.01)
    if heap0:
        gc.collect()
        out["heap_connected"] = gc.mem_alloc() - heap0
        out["heap_client"] = gc.mem_alloc() - heap1
        out["heap_code"] = heap_code
    out["subprotocol"] = c.subprotocol
    await c.close()
    await serve
    out["errors_sent"] = r.errors_sent
    out["dropped"] = r.dropped
    return out


if __name__ == "__main__":
    a = sys.argv[1:]
    ca = None
    if len(a) > 1 and a[1] != "-":
        with open(a[1], "rb") as f:
            ca = f.read()
    auth = (a[2], a[3]) if len(a) > 3 and a[2] != "-" else None
    name = a[4] if len(a) > 4 else "localhost"
    try:
        res = asyncio.run(charge_point(a[0], ca, auth, name=name))
    except Exception as e:
        res = {"exception": "%%s: %%s" %% (type(e).__name__, e)}
    print("RESULT " + json.dumps(res))
'''


def _client_script(tmp_path):
    p = tmp_path / "cp_client.py"
    p.write_text(CLIENT % {"root": ROOT})
    return str(p)


def _client_module(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("cp_client_mod", _client_script(tmp_path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_round(out, record):
    assert "exception" not in out, out
    assert out["boot"]["status"] == "Accepted" and out["boot"]["interval"] == 300
    assert rpc.is_datetime(out["heartbeat"]["currentTime"])
    # the library's answer to a BootNotification without chargePointModel
    assert out["bad_boot"] == "ProtocolError"
    # date-time formats are checked too ("FormatViolation" is this library's spelling)
    assert out["status"] == {} and out["bad_status"] == "FormatViolation"
    assert record["status"] == [(1, "Available", "2026-11-21T07:00:00Z")]
    assert out["subprotocol"] == "ocpp1.6"
    assert "triggered" in out and rpc.is_datetime(out["triggered"]["currentTime"])
    assert record["boots"][0] == ("OpenWallbox", "MP-1")
    assert record["heartbeats"] >= 2
    assert "csms_error" not in record, record["csms_error"]
    keys, unknown = record["get_configuration"]
    assert keys == [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    assert unknown == ["NoSuchKey"]
    assert record["trigger"] == "Accepted"
    assert record["unlock_error"] == "NotSupported"
    assert record["subprotocols"] == ["ocpp1.6"] and record["path"] == "/ocpp/" + CP_ID
    assert out["errors_sent"] == 1 and out["dropped"] == 0


def _basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def test_boot_heartbeat_and_calls_from_the_central_system(tmp_path):
    mod = _client_module(tmp_path)

    async def main():
        async with CentralSystem() as cs:
            out = await mod.charge_point(cs.url())
            await asyncio.sleep(0.05)
            return out, cs.record
    out, record = asyncio.run(main())
    _check_round(out, record)
    assert record["auth_headers"] == [None]


def test_basic_auth_checked_by_the_server(tmp_path):
    mod = _client_module(tmp_path)
    want = "Basic " + base64.b64encode(CP_ID.encode() + b":" + bytes.fromhex(HEX_KEY)).decode()

    async def main():
        async with CentralSystem(auth=want) as cs:
            out = await mod.charge_point(cs.url(), auth=(CP_ID, ws.basic_password(HEX_KEY)))
            try:
                await mod.charge_point(cs.url(), auth=(CP_ID, HEX_KEY))  # not decoded
                refused = None
            except ws.HandshakeError as e:
                refused = e.status
            return out, refused, cs.record
    out, refused, record = asyncio.run(main())
    _check_round(out, record)
    assert refused == 401
    assert record["auth_headers"] == [want, _basic(CP_ID, HEX_KEY)]


def test_wss_verified_against_the_configured_ca(tmp_path, pki):
    mod = _client_module(tmp_path)
    ca = (pki / "ca.der").read_bytes()
    assert ws.pem_to_der((pki / "ca.pem").read_text()) == ca

    async def main():
        async with CentralSystem(ssl_ctx=server_ctx(pki), auth=_basic(CP_ID, AUTH_KEY)) as cs:
            out = await mod.charge_point(cs.url(), ca=ca, auth=(CP_ID, AUTH_KEY))
            wrong = None
            try:
                await mod.charge_point(cs.url(), ca=(pki / "other_ca.der").read_bytes(),
                                       auth=(CP_ID, AUTH_KEY))
            except (OSError, ws.WsError) as e:
                wrong = e
            return out, wrong, cs.record
    out, wrong, record = asyncio.run(main())
    _check_round(out, record)
    assert isinstance(wrong, ws.TlsError) and "verif" in str(wrong), repr(wrong)
    assert len(record["auth_headers"]) == 1  # the refused one never got to HTTP


def test_server_ping_answered_and_wrong_subprotocol_refused(tmp_path):
    async def main():
        async with CentralSystem() as cs:
            c = ws.WebSocket(cs.url(), max_message=4096)
            await c.connect()
            r = rpc.Rpc()
            serve = asyncio.create_task(r.serve(c))
            await asyncio.sleep(1)  # the server pings every 0.2 s and drops a silent peer
            alive = c.open
            await c.close()
            await serve
            bad = ws.WebSocket(cs.url(), subprotocols=("ocpp2.0.1",))
            try:
                await bad.connect()
                status = None
            except ws.HandshakeError as e:
                status = e.status
            return alive, status
    alive, status = asyncio.run(main())
    assert alive and status == 400


async def _run_subprocess(argv):
    p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.STDOUT, cwd=ROOT)
    out, _ = await asyncio.wait_for(p.communicate(), 60)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:]), text
    raise AssertionError("no result from %s:\n%s" % (argv[0], text))


def _exe(runtime):
    if runtime == "cpython":
        return [sys.executable]
    return [MICROPYTHON, "-X", "heapsize=%s" % MP_HEAP]


def _runtimes():
    yield "cpython"
    if os.path.exists(MICROPYTHON):
        yield "micropython"


@pytest.mark.parametrize("runtime", list(_runtimes()))
@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_client_process_against_the_central_system(tmp_path, pki, runtime, secure):
    """The same charge-point script as a separate process, under each runtime."""
    script = _client_script(tmp_path)
    exe = _exe(runtime)

    async def main():
        ctx = server_ctx(pki) if secure else None
        async with CentralSystem(ssl_ctx=ctx, auth=_basic(CP_ID, AUTH_KEY)) as cs:
            ca = str(pki / "ca.der") if secure else "-"
            res = await _run_subprocess(exe + [script, cs.url(), ca, CP_ID, AUTH_KEY])
            await asyncio.sleep(0.05)
            return res, cs.record
    (out, text), record = asyncio.run(main())
    _check_round(out, record)
    if runtime == "micropython":
        print("MicroPython %s heap: code %d B, client idle connected %d B, total %d B" % (
            "wss" if secure else "ws", out["heap_code"], out["heap_client"],
            out["heap_connected"]))


@pytest.mark.parametrize("runtime", list(_runtimes()))
@pytest.mark.parametrize("case", ["other_ca", "wrong_name"])
def test_client_process_refuses_a_server_it_cannot_verify(tmp_path, pki, runtime, case):
    """Signed by another CA, or a certificate not issued for the name we expect."""
    script = _client_script(tmp_path)
    exe = _exe(runtime)
    ca = str(pki / ("other_ca.der" if case == "other_ca" else "ca.der"))
    name = "localhost" if case == "other_ca" else "backend.example.com"

    async def main():
        async with CentralSystem(ssl_ctx=server_ctx(pki)) as cs:
            res = await _run_subprocess(exe + [script, cs.url(), ca, "-", "-", name])
            return res, cs.record
    (out, text), record = asyncio.run(main())
    assert out.get("exception", "").startswith("TlsError") and "boot" not in out, out
    assert "boots" not in record and record["auth_headers"] == []
    print("%s %s: %s" % (runtime, case, out["exception"]))


def test_reconnect_after_the_central_system_restarts():
    """Rpc.run keeps the link: the central system goes away (closing with 1001) and
    comes back on the same port; the client backs off, reconnects and boots again.
    Prints the time from the restart to the new BootNotification (back-off 100-800 ms)."""
    async def until(pred, limit_s=20):
        for _ in range(int(limit_s * 100)):
            if pred():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def main():
        loop = asyncio.get_running_loop()
        r = rpc.Rpc(timeout_ms=5000)
        boots = []
        delays = []

        async def on_connect():
            boots.append(await r.call("BootNotification", {"chargePointVendor": "OpenWallbox",
                                                           "chargePointModel": "MP-1"}))

        async def sleep_ms(ms):
            delays.append(ms)
            await asyncio.sleep(ms / 1000)

        cs = await CentralSystem().__aenter__()
        url = cs.url()

        async def connect():
            return await ws.WebSocket(url, max_message=4096).connect()

        task = asyncio.create_task(r.run(connect, ws.Backoff(first_ms=100, max_ms=800),
                                         on_connect, sleep_ms=sleep_ms))
        try:
            await until(lambda: len(boots) == 1)
            await cs.__aexit__()
            await until(lambda: not r.connected)
            await until(lambda: len(delays) >= 3)  # refused a few times while it is down
            cs = await CentralSystem(port=cs.port).__aenter__()
            up = loop.time()
            await until(lambda: len(boots) == 2)
            return loop.time() - up, delays, cs.record
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await cs.__aexit__()
    took, delays, record = asyncio.run(main())
    assert record["boots"] == [("OpenWallbox", "MP-1")]
    assert all(0 < d <= 800 for d in delays) and max(delays) > min(delays)
    print("reconnect after the central system returned: %.0f ms (back-off delays %s)"
          % (took * 1000, delays))
