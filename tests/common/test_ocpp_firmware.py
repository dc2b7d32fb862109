"""FirmwareManagement through the ChargePoint on a fake App (scripted central system) with
a loopback HTTP server: UpdateFirmware (download with retries, install hook, reboot,
Installed once, a reboot while waiting for retrieveDate, waiting for the transaction to
end) and GetDiagnostics (tar upload by POST and PUT, retries, UploadFailed, FTP)."""
# the App, the whole OCPP client, the HTTP client and server and this module in one
# MicroPython heap: 256 KB holds the client (tests/host/test_ocpp_firmware.py runs the
# wallbox there), the test server and code on top need more
MPTEST_HEAP_KB = 320
from tests.common.test_ocpp_fake import FITS

if FITS:
    import asyncio

    from firmware.ocpp import status as chg
    from firmware.ocpp import timefmt
    from firmware.storage import fs
    from tests.common.test_ocpp_fake import Rig
    from tests.common.test_ocpp_http_loopback import HttpServer
    from binascii import crc32

    from tests.common.test_storage_support import Sandbox

    IMAGE = b"SIMFW 2.0\n" + bytes(range(256)) * 6
    IMAGE_SUM = (len(IMAGE), crc32(IMAGE))

    def _crc_file(path, offset=0, n=-1):
        """(size, CRC-32) of a file range, read in small pieces: after a while a
        MicroPython heap holds no large block, so the tests allocate none either."""
        c = 0
        got = 0
        with open(path, "rb") as f:
            f.seek(offset)
            while n < 0 or got < n:
                d = f.read(256 if n < 0 else min(256, n - got))
                if not d:
                    break
                c = crc32(d, c)
                got += len(d)
        return got, c

    def _boots(root, script, *bodies, install=None, spool=None):
        """Run ``await body(rig, srv)`` for each body, each one a boot of the charge point
        on the same filesystem, all against one HTTP server running ``script``. The
        board's install hook records (size, CRC) of the image unless ``install``."""
        async def main():
            srv = await HttpServer(script, spool).start()
            out = []
            try:
                for body in bodies:
                    rig = Rig(root)
                    rig.installed = []
                    hook = install or (lambda path: rig.installed.append(_crc_file(path)) is None)
                    rig.app.board.install_firmware = hook
                    rig.start()
                    try:
                        await rig.until(lambda: rig.cp.registered.is_set(), "registered")
                        out.append(await body(rig, srv))
                    finally:
                        await rig.stop()
            finally:
                await srv.stop()
            return out
        return asyncio.run(main())

    def _fw(rig):
        return [p["status"] for p in rig.csms.actions("FirmwareStatusNotification")]

    def _diag(rig):
        return [p["status"] for p in rig.csms.actions("DiagnosticsStatusNotification")]

    def _at(rig, s):
        """The backend's time ``s`` seconds from now."""
        return timefmt.iso(timefmt.parse(rig.cp.now()) + s)

    async def _update(rig, srv, path="/fw.bin", retries=None, interval=0, at=-3600):
        p = {"location": srv.url(path), "retrieveDate": _at(rig, at), "retryInterval": interval}
        if retries is not None:
            p["retries"] = retries
        r = await rig.call("UpdateFirmware", p)
        assert r[0] == 3 and r[2] == {}, r

    async def _image(req):
        await req.answer(IMAGE)

    def test_update_downloads_installs_reboots_and_reports_installed_once():
        async def first(rig, srv):
            await _update(rig, srv)
            await rig.until(lambda: rig.resets, "reboot into the new firmware")
            r = await rig.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
            assert r[2] == {"status": "Accepted"}
            await rig.until(lambda: len(_fw(rig)) == 4, "triggered status")
            return _fw(rig), rig.resets, rig.installed, rig.cp.cfg.state("fw")

        async def second(rig, srv):
            await rig.until(lambda: _fw(rig), "Installed")
            await asyncio.sleep(0.05)
            return _fw(rig), rig.cp.fw.status

        async def third(rig, srv):
            await asyncio.sleep(0.1)
            return _fw(rig), rig.cp.fw.status

        with Sandbox("fw") as sb:
            (s1, resets, installed, state), s2, s3 = _boots(sb.dir, _image, first, second, third)
            assert not fs.exists(sb.path("fw.bin"))  # removed once installed
        assert s1 == ["Downloading", "Downloaded", "Installing", "Installing"], s1
        assert resets == ["Hard"] and installed == [IMAGE_SUM]
        assert state["p"] == "boot"
        assert s2 == (["Installed"], "Idle")
        assert s3 == ([], "Idle")  # once only

    def test_download_cut_mid_file_is_retried_until_complete():
        async def script(req):
            if len(srv_requests) < 2:  # the first two attempts: the server dies mid-body
                srv_requests.append(1)
                await req.send(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                                % len(IMAGE)).encode() + IMAGE[:700])
            else:
                await req.answer(IMAGE)
        srv_requests = []

        async def body(rig, srv):
            await _update(rig, srv, retries=3)
            await rig.until(lambda: rig.resets, "installed")
            return _fw(rig), rig.installed, len(srv.requests), rig.cp.fw.attempts
        with Sandbox("fw") as sb:
            (st, installed, n, attempts), = _boots(sb.dir, script, body)
        assert st == ["Downloading", "Downloaded", "Installing"], st
        assert installed == [IMAGE_SUM] and n == 3 and attempts == 3

    def test_all_attempts_fail_then_download_failed_and_idle():
        async def script(req):
            await req.answer(b"gone", 404, "Not Found")

        async def body(rig, srv):
            await _update(rig, srv, retries=2)
            await rig.until(lambda: "DownloadFailed" in _fw(rig), "failure")
            r = await rig.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
            assert r[2] == {"status": "Accepted"}
            await rig.until(lambda: len(_fw(rig)) == 3, "triggered status")
            return _fw(rig), len(srv.requests), rig.resets, rig.cp.cfg.state("fw")
        with Sandbox("fw") as sb:
            (st, n, resets, state), = _boots(sb.dir, script, body)
            assert not fs.exists(sb.path("fw.bin")) and not fs.exists(sb.path("fw.bin.part"))
        assert st == ["Downloading", "DownloadFailed", "Idle"], st
        assert n == 3 and resets == [] and state is None

    def test_reboot_while_waiting_for_the_retrieve_date_keeps_the_job():
        async def first(rig, srv):
            await _update(rig, srv, at=2)
            await asyncio.sleep(0.3)
            return rig.cp.cfg.state("fw"), len(srv.requests), _fw(rig)

        async def second(rig, srv):
            assert not srv.requests  # not before retrieveDate
            await rig.until(lambda: rig.resets, "installed after the date")
            return _fw(rig), rig.installed, len(srv.requests)
        with Sandbox("fw") as sb:
            (state, n1, st1), (st2, installed, n2) = _boots(sb.dir, _image, first, second)
        assert state["p"] == "wait" and n1 == 0 and st1 == []
        assert st2 == ["Downloading", "Downloaded", "Installing"] and installed == [IMAGE_SUM]
        assert n2 == 1

    def test_install_waits_for_the_transaction_to_end():
        async def body(rig, srv):
            app = rig.app
            app.plug()
            assert await rig.cp.tx.authorize("TAG1") == "Accepted"
            app.charger.enter(chg.CHARGING)
            await rig.until(lambda: rig.csms.actions("StartTransaction"), "transaction")
            await _update(rig, srv)
            await rig.until(lambda: "Downloaded" in _fw(rig), "downloaded")
            await asyncio.sleep(0.3)
            during = list(_fw(rig)), list(rig.installed)
            app.unplug()
            await rig.until(lambda: rig.resets, "installed after the session")
            return during, _fw(rig), rig.csms.actions()
        with Sandbox("fw") as sb:
            (during, st, acts), = _boots(sb.dir, _image, body)
        assert during == (["Downloading", "Downloaded"], [])
        assert st == ["Downloading", "Downloaded", "Installing"]
        assert acts.index("StopTransaction") < len(acts) - 1 - acts[::-1].index(
            "FirmwareStatusNotification")

    def test_board_refusing_the_image_reports_installation_failed():
        async def body(rig, srv):
            await _update(rig, srv)
            await rig.until(lambda: "InstallationFailed" in _fw(rig), "refused")
            await rig.until(lambda: rig.cp.fw.job is None, "job ended")
            return _fw(rig), rig.resets, rig.cp.fw.status, rig.cp.cfg.state("fw")
        with Sandbox("fw") as sb:
            (st, resets, status, state), = _boots(sb.dir, _image, body,
                                                  install=lambda path: False)
        assert st == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
        assert resets == [] and status == "Idle" and state is None

    def test_a_new_update_replaces_the_waiting_one():
        async def body(rig, srv):
            await _update(rig, srv, path="/old.bin", at=3600)
            await asyncio.sleep(0.1)
            await _update(rig, srv, path="/new.bin")
            await rig.until(lambda: rig.resets, "installed")
            return [r.path for r in srv.requests]
        with Sandbox("fw") as sb:
            paths, = _boots(sb.dir, _image, body)
        assert paths == ["/new.bin"]

    # --- GetDiagnostics ---------------------------------------------------------------

    def _untar(path, offset=0, stop=None):
        """{name: (offset, size)} of the ustar archive in ``path`` from ``offset``, with
        the header checksums and the end blocks checked (written independently of the
        module under test)."""
        out = {}
        n = fs.size(path) if stop is None else stop
        with open(path, "rb") as f:
            i = offset
            while True:
                f.seek(i)
                h = f.read(512)
                if h == bytes(512):
                    break
                name = h[:100].split(b"\x00")[0].decode()
                size = int(h[124:135], 8)
                assert int(h[148:154], 8) == sum(h[:148]) + 8 * 32 + sum(h[156:]), name
                assert h[257:263] == b"ustar\x00", name
                out[name] = (i + 512, size)
                i += 512 + (size + 511) // 512 * 512
            assert f.read(512) == bytes(512), "two end blocks"
        assert i + 1024 == n, (i, n)
        return out

    def _text(path, member):
        """The lines of a text member (read line by line)."""
        off, size = member
        out = []
        with open(path, "rb") as f:
            f.seek(off)
            got = 0
            while got < size:
                line = f.readline()
                got += len(line)
                out.append(line.decode().rstrip("\n"))
        return out

    def _contains(path, needle):
        """Whether ``needle`` occurs in the file (read in overlapping windows)."""
        with open(path, "rb") as f:
            tail = b""
            while True:
                d = f.read(256)
                if not d:
                    return False
                if needle in tail + d:
                    return True
                tail = d[-len(needle):]

    def _multipart_tar(path, req):
        """(part head, start, end) of the file inside a multipart body; checks its
        framing."""
        boundary = req.headers["content-type"].split("boundary=")[1].encode()
        end = b"\r\n--" + boundary + b"--\r\n"
        with open(path, "rb") as f:
            head = f.read(400)
            f.seek(req.size - len(end))
            assert f.read() == end
        assert head.startswith(b"--" + boundary + b"\r\n")
        i = head.index(b"\r\n\r\n") + 4
        return head[:i], i, req.size - len(end)

    async def _ok(req):
        await req.answer(b"")

    def test_diagnostics_uploaded_as_a_tar_by_post_without_secrets():
        async def body(rig, srv):
            r = await rig.call("ChangeConfiguration", {"key": "AuthorizationKey",
                                                       "value": "0123456789abcdef0123456789abcdef"})
            assert r[2]["status"] in ("Accepted", "RebootRequired"), r
            r = await rig.call("GetDiagnostics", {"location": srv.url("/diag/upload"),
                                                  "startTime": "2026-11-20T00:00:00Z"})
            await rig.until(lambda: "Uploaded" in _diag(rig), "uploaded")
            await rig.until(lambda: rig.cp.diag.status == "Idle", "idle")
            return r[2], _diag(rig), srv.requests[0]
        with Sandbox("diag") as sb:
            spool = sb.path("upload")
            (ans, st, req), = _boots(sb.dir, _ok, body, spool=spool)
            name = ans["fileName"]
            head, off, stop = _multipart_tar(spool, req)
            files = _untar(spool, off, stop)
            conf = _text(spool, files["ocpp_config.txt"])
            info = _text(spool, files["info.txt"])
            leaked = _contains(spool, b"0123456789abcdef")
            log_sum = _crc_file(spool, *files["sessions.log"])
            want_sum = _crc_file(sb.path("sessions.log"))
        assert name.startswith("diag-CP-") and name.endswith(".tar"), name
        assert st == ["Uploading", "Uploaded"]
        assert req.method == "POST" and req.path == "/diag/upload"
        assert ('filename="%s"' % name).encode() in head
        assert {"info.txt", "ocpp_config.txt", "sessions.log", "ocpp_tx.log"} <= set(files), files
        assert "HeartbeatInterval=300" in conf and "AuthorizationKey=(secret)" in conf, conf
        assert not leaked
        assert any("2026-11-20T00:00:00Z" in ln for ln in info), info
        assert log_sum == want_sum

    def test_diagnostics_put_into_a_directory_location():
        async def body(rig, srv):
            r = await rig.call("GetDiagnostics", {"location": srv.url("/dir/")})
            await rig.until(lambda: "Uploaded" in _diag(rig), "uploaded")
            return r[2]["fileName"], srv.requests[0]
        with Sandbox("diag") as sb:
            spool = sb.path("upload")
            (name, req), = _boots(sb.dir, _ok, body, spool=spool)
            files = _untar(spool)
            got = _crc_file(spool, *files["ocpp_tx.log"])
            want = _crc_file(sb.path("ocpp_tx.log"))
        assert req.method == "PUT" and req.path == "/dir/" + name
        assert req.headers["content-type"] == "application/x-tar"
        assert got == want and got[0] > 0

    def test_diagnostics_upload_failing_reports_upload_failed():
        async def script(req):
            await req.answer(b"no", 503, "Busy")

        async def body(rig, srv):
            r = await rig.call("GetDiagnostics", {"location": srv.url("/up"), "retries": 2,
                                                  "retryInterval": 0})
            await rig.until(lambda: "UploadFailed" in _diag(rig), "failed")
            await asyncio.sleep(0.05)
            return r[2], _diag(rig), len(srv.requests), rig.cp.diag.uploads, srv.errors
        with Sandbox("diag") as sb:
            (ans, st, n, uploads, errors), = _boots(sb.dir, script, body, spool=sb.path("up"))
        assert "fileName" in ans and st == ["Uploading", "UploadFailed"]
        assert n == 3 and uploads == 3 and errors == [], errors

    def test_diagnostics_to_ftp_not_supported():
        async def body(rig, srv):
            r = await rig.call("GetDiagnostics", {"location": "ftp://u:p@host/dir/"})
            await rig.until(lambda: _diag(rig), "status")
            r2 = await rig.call("TriggerMessage",
                                {"requestedMessage": "DiagnosticsStatusNotification"})
            assert r2[2] == {"status": "Accepted"}
            await rig.until(lambda: len(_diag(rig)) == 2, "triggered")
            return r[2], _diag(rig)
        with Sandbox("diag") as sb:
            (ans, st), = _boots(sb.dir, _ok, body)
        assert ans == {} and st == ["UploadFailed", "Idle"]
