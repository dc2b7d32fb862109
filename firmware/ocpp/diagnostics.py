"""FirmwareManagement, the diagnostics half: GetDiagnostics and
DiagnosticsStatusNotification.

The diagnostics file is a tar archive (any operator can open it) of what the charge
point keeps under the board's ``fs_root``: the session log (``sessions.log``), the OCPP
transaction journal (``ocpp_tx.log``), the charger configuration (``config.json``),
each the last ``_MAX_FILE`` bytes at most, plus ``ocpp_config.txt`` (the OCPP keys,
secrets left out) and ``info.txt``. It is streamed from the files while it is sent,
never built in RAM or on flash. startTime/stopTime are recorded in ``info.txt`` but do
not filter: the binary logs would have to be decoded record by record for that.

Upload: a location ending in "/" gets an HTTP PUT of ``<location><fileName>``, any
other http(s) location a multipart/form-data POST (field ``file``). Other schemes
(FTP) are not supported: the answer has no fileName and UploadFailed is reported.
1 + ``retries`` attempts, ``retryInterval`` seconds apart; the upload is not resumed
after a reboot. Imported with the first GetDiagnostics (``firmware.install`` registers
the handler).
"""
import asyncio

from micropython import const

from lib import clock, log
from firmware.ocpp import fwjob, timefmt
from firmware.storage import fs

_TAG = "ocpp.diag"
_RETRIES = const(1)
_RETRY_S = const(60)
_TIMEOUT_MS = const(30000)
_CHUNK = const(512)  # the transfer buffer: small blocks are what a used heap has
_MAX_FILE = const(16384)  # the tail of each log: the archive stays below ~52 KB
_FILES = ("sessions.log", "ocpp_tx.log", "config.json")



def get(cp, p):
    """The GetDiagnostics handler (``cp.diag`` is made on first use)."""
    d = getattr(cp, "diag", None)
    if d is None:
        d = cp.diag = Diagnostics(cp)
    return d.get(p)


def tar_header(name, size, mtime):
    """The first 265 bytes of a ustar header of a regular file (the rest is zeros)."""
    h = bytearray(265)
    nb = name.encode()[:99]
    h[0:len(nb)] = nb
    for off, text in ((100, "0000644"), (108, "0000000"), (116, "0000000"),
                      (124, "%011o" % size), (136, "%011o" % mtime)):
        h[off:off + len(text)] = text.encode()
    h[148:156] = b"        "
    h[156] = 48  # "0": a regular file
    h[257:265] = b"ustar\x0000"
    s = 0
    for b in h:
        s += b
    h[148:155] = ("%06o\x00" % s).encode()
    return bytes(h)


class Diagnostics:
    """GetDiagnostics for one charge point; ``status`` is what a triggered
    DiagnosticsStatusNotification reports (Uploading or Idle)."""

    def __init__(self, cp):
        self.cp = cp
        self.status = "Idle"
        self.uploads = 0  # attempts made (all requests)
        self._lock = asyncio.Lock()

    def get(self, p):
        loc = p["location"]
        if not (loc.startswith("http://") or loc.startswith("https://")):
            log.warn(_TAG, "unsupported upload location %s", loc[:40])

            async def refuse():
                await fwjob.notify(self.cp, "DiagnosticsStatusNotification", "UploadFailed")
            return {}, refuse
        name = "diag-%s-%s.tar" % ("".join(c if c.isalpha() or c.isdigit() or c in "-_" else "_"
                                           for c in self.cp.cp_id[:40]),
                                   self.cp.now().replace("-", "").replace(":", ""))
        retries = p.get("retries")
        n = 1 + (_RETRIES if retries is None else retries)
        iv = p.get("retryInterval", _RETRY_S)
        window = (p.get("startTime"), p.get("stopTime"))

        async def go():
            await self._upload(loc, name, n, iv, window)
        return {"fileName": name}, go

    async def _say(self, status):
        self.status = status
        log.info(_TAG, "diagnostics %s", status)
        await fwjob.notify(self.cp, "DiagnosticsStatusNotification", status)

    async def _upload(self, loc, name, attempts, iv, window):
        from firmware.ocpp import http

        async with self._lock:  # one upload at a time; a second request waits
            client = http.Client(ssl=fwjob.tls(self.cp), chunk=_CHUNK, timeout_ms=_TIMEOUT_MS)
            await self._say("Uploading")
            ok = False
            for i in range(attempts):
                self.uploads += 1
                try:
                    parts = self.archive(name, window)  # again: the logs grow
                    if loc.endswith("/"):
                        await client.send(loc + name, parts, "PUT", "application/x-tar")
                    else:
                        parts, ctype = http.multipart(parts, name, ctype="application/x-tar")
                        await client.send(loc, parts, "POST", ctype)
                    ok = True
                    break
                except Exception as e:  # noqa: BLE001  (HttpError, a file error, no memory)
                    log.warn(_TAG, "upload %d of %d failed: %s", i + 1, attempts, e)
                if i + 1 < attempts:
                    await clock.sleep_ms(iv * 1000)
            await self._say("Uploaded" if ok else "UploadFailed")
            self.status = "Idle"

    def archive(self, name, window=(None, None)):
        """The body parts of the diagnostics tar (``http.send`` parts: bytes, file
        ranges, runs of zeros)."""
        from firmware.ocpp import http

        cp = self.cp
        root = cp.app.board.fs_root
        now = cp.time_s()
        parts = []
        info = ("charge point %s\nbackend time %s\nfirmware status %s\n"
                "requested window %s .. %s (not applied: whole log tails)\n"
                "each log: its last %d bytes\n" % (
                    cp.cp_id, timefmt.iso(now), getattr(getattr(cp, "fw", None), "status", "-"),
                    window[0] or "-", window[1] or "-", _MAX_FILE)).encode()
        self._member(parts, "info.txt", [info], len(info), now)
        # One small part per key: a long-running heap may hold no block for all of them.
        lines = [("%s=%s\n" % (k, "(secret)" if v is None else v)).encode()
                 for k, v, _ro in cp.cfg.items()[0]]
        self._member(parts, "ocpp_config.txt", lines, http.body_length(lines), now)
        del lines
        for fname in _FILES:
            path = fs.join(root, fname)
            n = fs.size(path)
            if n < 0:
                continue
            part = http.file_part(path, max(0, n - _MAX_FILE))
            self._member(parts, fname, [part], part[2], now)
        parts.append(1024)  # two empty blocks end the archive
        return parts

    @staticmethod
    def _member(parts, name, body, n, mtime):
        parts.append(tar_header(name, n, mtime))
        parts.append(512 - 265)
        parts.extend(body)
        if n % 512:
            parts.append(512 - n % 512)
