"""FirmwareManagement end to end: the firmware App on the simulated board (real time,
real loopback WebSocket) against the embedded central system (tools.csms: the `ocpp`
library with schema validation), with firmware images and diagnostics uploads served
by Python's own http.server in a thread (http:// and https:// with a test CA made by
the openssl CLI). UpdateFirmware with a download cut mid-file and retried, the install
hook, the reboot and "Installed"; a refused certificate; GetDiagnostics uploaded as a
tar (opened with tarfile) and a failing upload; and the same wallbox under the
MicroPython unix port at 256 KB of heap.

CPython only: the central system and the HTTP server are CPython libraries, the
MicroPython run is a subprocess.
"""
import asyncio
import datetime
import email.parser
import http.server
import io
import shutil
import tarfile
import threading

import pytest

pytest.importorskip("ocpp.routing")
pytest.importorskip("websockets")

import tools  # noqa: E402,F401
from tests.host.ocpp_rig import pki, server_ctx  # noqa: E402,F401  (pki: a fixture)
from ocpp.v16 import call  # noqa: E402
from tests.host import ocpp_rig  # noqa: E402
from tests.host.ocpp_rig import Csms, until  # noqa: E402

OCPP = {"MeterValueSampleInterval": 1, "HeartbeatInterval": 300}
IMAGE = b"SIMFW 3.1 (test image)\n" + bytes(range(256)) * 200  # 51 KB


def _in(s):
    """The backend's time ``s`` seconds from now (tools.csms uses the real clock)."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class FileServer:
    """http.server in a thread: GET serves ``files``, the first ``cuts`` GETs send half
    the body and close; PUT/POST bodies land in ``uploads`` (answered ``upload_status``)."""

    def __init__(self, ssl_ctx=None):
        self.files = {}
        self.cuts = 0
        self.upload_status = 200
        self.gets = []
        self.uploads = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.gets.append(self.path)
                data = outer.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if outer.cuts > 0:
                    outer.cuts -= 1
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def _upload(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.uploads.append((self.command, self.path, dict(self.headers), body))
                self.send_response(outer.upload_status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = _upload
            do_POST = _upload

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if ssl_ctx is not None:
            self.httpd.socket = ssl_ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if ssl_ctx else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path):
        return "%s://%s:%d%s" % (self.scheme, "localhost" if self.scheme == "https"
                                 else "127.0.0.1", self.httpd.server_address[1], path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _run(body, ca_der=None):
    return ocpp_rig.run(body, ocpp=OCPP, ca_der=ca_der)


def _statuses(cs, action):
    return [p["status"] for _c, a, p in cs.messages if a == action]


def test_update_cut_mid_file_retried_installed_after_the_reboot():
    with FileServer() as srv:
        srv.files["/fw/3.1.bin"] = IMAGE
        srv.cuts = 1

        async def body(cs, wb):
            r = await cs.call("CP_1", call.UpdateFirmware(
                location=srv.url("/fw/3.1.bin"), retrieve_date=_in(1), retries=2, retry_interval=1))
            assert r is not None
            await asyncio.sleep(0.3)
            early = list(srv.gets)  # nothing before retrieveDate
            await until(lambda: wb.board.reboot_requested, "reboot after the install")
            installed = list(wb.board.installed)
            before = _statuses(cs, "FirmwareStatusNotification")
            await wb.power_cut()
            wb.boot()  # into the "new" firmware
            await until(lambda: "Installed" in _statuses(cs, "FirmwareStatusNotification"),
                        "Installed")
            r = await cs.call("CP_1", call.TriggerMessage(
                requested_message="FirmwareStatusNotification"))
            assert r.status == "Accepted"
            await until(lambda: len(_statuses(cs, "FirmwareStatusNotification")) == 5, "trigger")
            await wb.power_cut()
            wb.boot()  # a second reboot reports nothing more
            await until(lambda: len(cs.boots) == 3, "third boot")
            await asyncio.sleep(1)
            return early, installed, before, _statuses(cs, "FirmwareStatusNotification")
        early, installed, before, after = _run(body)
    assert early == []
    assert srv.gets == ["/fw/3.1.bin"] * 2  # the cut attempt and the retry
    assert installed == [(len(IMAGE), b"SIMFW 3.1 (test image)")]
    assert before == ["Downloading", "Downloaded", "Installing"]
    assert after == before + ["Installed", "Idle"]


def test_all_attempts_failing_report_download_failed():
    with FileServer() as srv:
        async def body(cs, wb):
            await cs.call("CP_1", call.UpdateFirmware(
                location=srv.url("/missing.bin"), retrieve_date=_in(-60), retries=1,
                retry_interval=1))
            await until(lambda: "DownloadFailed" in _statuses(cs, "FirmwareStatusNotification"),
                        "DownloadFailed")
            return _statuses(cs, "FirmwareStatusNotification"), wb.board.reboot_requested
        st, rebooting = _run(body)
    assert st == ["Downloading", "DownloadFailed"] and not rebooting
    assert srv.gets == ["/missing.bin"] * 2


@pytest.mark.parametrize("ca", ["ca", "other_ca"])
def test_https_download_verified_against_the_configured_ca(pki, ca):
    with FileServer(server_ctx(pki)) as srv:
        srv.files["/fw.bin"] = IMAGE

        async def body(cs, wb):
            await cs.call("CP_1", call.UpdateFirmware(
                location=srv.url("/fw.bin"), retrieve_date=_in(-1), retries=0))
            await until(lambda: {"Installing", "DownloadFailed"} & set(
                _statuses(cs, "FirmwareStatusNotification")), "outcome")
            if "Installing" in _statuses(cs, "FirmwareStatusNotification"):
                # Installing is reported before the board's hook runs
                await until(lambda: getattr(wb.board, "installed", []), "installed")
            return _statuses(cs, "FirmwareStatusNotification"), getattr(wb.board, "installed", [])
        st, installed = _run(body, ca_der=(pki / (ca + ".der")).read_bytes())
    if ca == "ca":
        assert st == ["Downloading", "Downloaded", "Installing"]
        assert installed == [(len(IMAGE), b"SIMFW 3.1 (test image)")]
        assert srv.gets == ["/fw.bin"]
    else:  # the server's certificate is refused: no request ever reaches it
        assert st == ["Downloading", "DownloadFailed"] and installed == []
        assert srv.gets == []


async def _session(wb, cs):
    """A short charging session, so the logs have something in them."""
    from firmware.iec61851 import charger as chg

    wb.world.ev.plug()
    await until(lambda: wb.app.session.plugged, "plugged")
    assert await wb.cp.tx.authorize("TAG1") == "Accepted"
    await until(lambda: wb.app.charger.state == chg.CHARGING, "charging")
    await asyncio.sleep(1.2)
    wb.app.session.request_stop("Local")
    await until(lambda: wb.app.charger.state == chg.FINISHED, "finished")
    wb.world.ev.unplug()
    await until(lambda: cs.actions("StopTransaction") and len(wb.cp.txq) == 0, "stop delivered")


def _tar_of_multipart(headers, body):
    msg = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    (part,) = msg.get_payload()
    return part.get_filename(), part.get_payload(decode=True)


def test_get_diagnostics_uploads_the_logs_as_a_tar():
    with FileServer() as srv:
        async def body(cs, wb):
            await _session(wb, cs)
            r = await cs.call("CP_1", call.GetDiagnostics(
                location=srv.url("/diagnostics"), start_time=_in(-3600), stop_time=_in(0)))
            await until(lambda: "Uploaded" in _statuses(cs, "DiagnosticsStatusNotification"),
                        "uploaded")
            root = wb.board.fs_root
            logs = {}
            for n in ("sessions.log", "ocpp_tx.log"):
                with open("%s/%s" % (root, n), "rb") as f:
                    logs[n] = f.read()
            return r.file_name, _statuses(cs, "DiagnosticsStatusNotification"), logs
        name, st, logs = _run(body)
    assert name.startswith("diag-CP_1-") and name.endswith(".tar")
    assert st == ["Uploading", "Uploaded"]
    (method, path, headers, data), = srv.uploads
    assert method == "POST" and path == "/diagnostics"
    fname, tar = _tar_of_multipart(headers, data)
    assert fname == name
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    want = {"info.txt", "ocpp_config.txt", "sessions.log", "ocpp_tx.log"}
    assert want <= set(files) <= want | {"config.json"}, set(files)
    for n, want in logs.items():
        assert files[n] == want[-16384:], n
    assert b"MeterValueSampleInterval=1\n" in files["ocpp_config.txt"]
    assert b"charge point CP_1" in files["info.txt"]


def test_get_diagnostics_failing_upload_reports_upload_failed():
    with FileServer() as srv:
        srv.upload_status = 500

        async def body(cs, wb):
            r = await cs.call("CP_1", call.GetDiagnostics(
                location=srv.url("/dir/"), retries=1, retry_interval=1))
            await until(lambda: "UploadFailed" in _statuses(cs, "DiagnosticsStatusNotification"),
                        "failed")
            return r.file_name, _statuses(cs, "DiagnosticsStatusNotification")
        name, st = _run(body)
    assert st == ["Uploading", "UploadFailed"]
    assert [(m, p) for m, p, _h, _b in srv.uploads] == [("PUT", "/dir/" + name)] * 2


# The wallbox (App on the simulated board + OCPP over a real WebSocket) as a MicroPython
# process from the compiled tree: it takes a firmware update and uploads diagnostics.
MP_SCRIPT = r'''
import gc, sys, json
import asyncio
from lib import log
log.level = 40
from boards.sim.board import World
from firmware import config
from firmware.main import App
from firmware.ocpp import chargepoint
from firmware.ocpp.backoff import Backoff
gc.collect()
out = {}

async def until(pred, n=3000):
    for _ in range(n):
        if pred():
            return True
        await asyncio.sleep_ms(20)
    return False

async def main(url, root, ca_path):
    w = World(root, ev={"target_wh": 100000, "react_ms": 200})
    w.board.power_on()
    app = App(w.board, config.make({"auth": "external", "rcd_self_test": False}))
    gc.collect()
    ca = None
    if ca_path != "-":
        with open(ca_path, "rb") as f:
            ca = f.read()
    cp = chargepoint.attach(app, url, ca_der=ca)
    tasks = [asyncio.create_task(w.run()), asyncio.create_task(app.run()),
             asyncio.create_task(cp.run(Backoff(first_ms=100, max_ms=400)))]
    ok = await until(lambda: cp.status.sent >= 2)
    await asyncio.sleep_ms(300)
    gc.collect()
    out["heap_idle"] = gc.mem_alloc()
    mods = set(sys.modules)
    out["free_idle"] = gc.mem_free()
    ok = ok and await until(lambda: cp.fw.attempts and cp.fw.job is None)  # done or failed
    out["installed"] = [[n, h.decode()] for n, h in getattr(w.board, "installed", [])]
    ok = ok and await until(lambda: getattr(cp, "diag", None) is not None
                            and cp.diag.uploads >= 1 and cp.diag.status == "Idle")
    await asyncio.sleep_ms(300)
    gc.collect()
    out["heap_after"] = gc.mem_alloc()
    out["loaded"] = sorted(set(sys.modules) - mods)
    out["free_after"] = gc.mem_free()
    out["fw_attempts"] = cp.fw.attempts
    out["ok"] = ok
    for t in tasks:
        t.cancel()

try:
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
except Exception as e:
    sys.print_exception(e)
    out["exception"] = repr(e)
print("RESULT " + json.dumps(out))
'''


@pytest.mark.parametrize("ca", ["ca", "other_ca"])
def test_micropython_wallbox_updates_and_uploads_over_https(tmp_path, pki, ca):
    """The same wallbox under the MicroPython unix port (compiled .mpy tree, as deployed):
    over https with the right CA a firmware download cut once and retried, installed, and
    a diagnostics upload; with another CA both refused. Prints the heap the transfers
    left in use. The unix port holds the code in the heap (a
    device runs it frozen, from flash): the whole client idles at about 230 KB there and
    the transfer modules (fwjob, http, diagnostics) add about 30 KB while in use, so this
    runs with 320 KB (OCPP_MP_HEAP overrides)."""
    import json
    import os

    from tools.sim import mpbuild

    exe = mpbuild.micropython()
    if not os.path.exists(exe) and shutil.which(exe) is None:
        pytest.skip("no micropython")
    out_dir = str(tmp_path / "mpy")
    _o, errors = mpbuild.build(out=out_dir)
    assert not errors, errors
    script = tmp_path / "wallbox.py"
    script.write_text(MP_SCRIPT)
    heap = os.environ.get("OCPP_MP_HEAP", "320K")

    async def main(srv):
        async with Csms(port=0) as cs:
            p = await asyncio.create_subprocess_exec(
                exe, "-X", "heapsize=" + heap, str(script), cs.url("CP_MP"), str(tmp_path / "fs"),
                str(pki / (ca + ".der")),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env=mpbuild.env(out_dir), cwd=str(tmp_path))
            try:
                await until(lambda: len(cs.actions("StatusNotification")) >= 2, "boot", 60)
                await asyncio.sleep(1.5)  # the wallbox takes its idle heap figure
                await cs.call("CP_MP", call.UpdateFirmware(
                    location=srv.url("/fw.bin"), retrieve_date=_in(-1), retries=2,
                    retry_interval=1))
                await until(lambda: {"Installing", "DownloadFailed"} & set(
                    _statuses(cs, "FirmwareStatusNotification")), "download outcome", 60)
                await cs.call("CP_MP", call.GetDiagnostics(location=srv.url("/diag"), retries=0))
                await until(lambda: {"Uploaded", "UploadFailed"} & set(
                    _statuses(cs, "DiagnosticsStatusNotification")), "upload", 60)
            except AssertionError:
                p.kill()
                text = (await p.communicate())[0].decode()
                raise AssertionError("the MicroPython wallbox did not get there:\n" + text[-3000:])
            text = (await asyncio.wait_for(p.communicate(), 120))[0].decode()
            return text, cs
    with FileServer(server_ctx(pki)) as srv:
        srv.files["/fw.bin"] = IMAGE
        srv.cuts = 1
        text, cs = asyncio.run(main(srv))
    res = [json.loads(ln[7:]) for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert res, text
    out = res[0]
    assert "exception" not in out and out["ok"], text
    if ca == "other_ca":  # the server's certificate refused: nothing reached it
        assert out["installed"] == [] and srv.gets == [] and srv.uploads == []
        assert _statuses(cs, "FirmwareStatusNotification") == ["Downloading", "DownloadFailed"]
        assert _statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "UploadFailed"]
        return
    assert out["installed"] == [[len(IMAGE), "SIMFW 3.1 (test image)"]] and out["fw_attempts"] == 2
    assert _statuses(cs, "FirmwareStatusNotification") == [
        "Downloading", "Downloaded", "Installing"]
    assert _statuses(cs, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    (method, _p, headers, data), = srv.uploads
    _name, tar = _tar_of_multipart(headers, data)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        assert "sessions.log" in t.getnames()
    print("MicroPython heap (%s, https): idle connected %d B used (%d B free); after a firmware "
          "download and a diagnostics upload %d B used (%d B free, +%d B kept; modules loaded: "
          "%s)" % (heap, out["heap_idle"], out["free_idle"], out["heap_after"], out["free_after"],
              out["heap_after"] - out["heap_idle"], " ".join(out["loaded"])))
