"""The UpdateFirmware job (imported by ``firmware`` when there is one: its state,
persistence and work), and the status notifications of both FirmwareManagement
transfers.

Phases: wait for retrieveDate, download into ``fw.bin`` (Downloading, then Downloaded
or DownloadFailed), wait until no transaction runs, Installing and the board's
``install_firmware(path)``: True, the charge point reboots ("Installed" after it);
False, InstallationFailed. Notifications go out while the backend is registered and
reachable; one that finds it unreachable is skipped (a TriggerMessage asks for the
status again), except Installed, which waits for the backend. https:// is verified
against the charge point's CA (``cp.ca_der``); without one https is refused.
"""
import asyncio

from micropython import const

from lib import clock, log
from firmware.ocpp import timefmt
from firmware.ocpp.rpc import RpcError
from firmware.storage import fs

_TAG = "ocpp.fw"
_RETRIES = const(2)  # further attempts when UpdateFirmware names none
_RETRY_S = const(60)
_SLICE_MS = const(10000)  # the backend clock may be set while waiting: look again
_NOTIFY_RETRY_MS = const(30000)
_TIMEOUT_MS = const(30000)  # a transfer with no progress for this long fails
_MAX_BYTES = const(2097152)  # unless the board says ``firmware_max_bytes``
_IDLE_POLL_MS = const(1000)
_CHUNK = const(512)  # the transfer buffer: small blocks are what a used heap has
_REGISTER_WAIT_S = const(60)


# Phases of a persisted job.
_WAIT = "wait"  # for retrieveDate
_DOWNLOAD = "dl"
_INSTALL = "inst"  # downloaded, waiting for the transaction to end
_BOOT = "boot"  # handed to the board; after the reboot "Installed" is reported
_KEYS = ("url", "at", "left", "iv", "p")


def path(fw):
    """Where the image is downloaded to."""
    return fs.join(fw.cp.app.board.fs_root, "fw.bin")


def resume(fw):
    """At boot: take the persisted job if it has the right shape."""
    job = fw.cp.cfg.state("fw")
    if type(job) is dict and all(k in job for k in _KEYS) and type(job["url"]) is str \
            and job["p"] in (_WAIT, _DOWNLOAD, _INSTALL, _BOOT) \
            and type(job["at"]) is int and type(job["left"]) is int and type(job["iv"]) is int:
        fw.job = job
        log.info(_TAG, "pending update, phase %s", job["p"])
        if job["p"] == _BOOT:
            fw.status = "Installing"


def new(fw, p):
    """UpdateFirmware: the job it asks for (persisted) replaces any other."""
    retries = p.get("retries")
    fw.job = {"url": p["location"], "at": timefmt.parse(p["retrieveDate"]),
              "left": 1 + (_RETRIES if retries is None else retries),
              "iv": p.get("retryInterval", _RETRY_S), "p": _WAIT}
    save(fw)
    log.info(_TAG, "update from %s at %s", p["location"][:60], p["retrieveDate"])


def save(fw):
    try:
        fw.cp.cfg.set_state("fw", fw.job)
    except (OSError, ValueError) as e:  # full flash, document too large
        log.error(_TAG, "cannot persist the update: %s", e)


async def guard(fw, job, done):
    """Run ``work`` as the job's task: cancelled by a newer UpdateFirmware or when the
    charge point stops; a failure ends the job instead of leaving it spinning."""
    try:
        await work(fw, job)
    except asyncio.CancelledError:
        pass
    except Exception as e:  # noqa: BLE001
        log.error(_TAG, "update failed: %s: %s", type(e).__name__, e)
        if fw.job is job:
            end(fw)
    done.set()


async def notify(cp, action, status, must=False):
    """Send a Firmware/DiagnosticsStatusNotification. Skipped while the backend is not
    reachable, unless ``must``: then it waits for it and retries until delivered."""
    while True:
        if must:
            await cp.wait_registered()
        elif not (cp.registered.is_set() and cp.rpc.connected):
            log.info(_TAG, "%s %s not sent (offline)", action, status)
            return False
        try:
            await cp.rpc.call(action, {"status": status}, schema={})
            return True
        except RpcError as e:
            log.warn(_TAG, "%s %s failed: %s", action, status, e)
        if not must:
            return False
        await clock.sleep_ms(_NOTIFY_RETRY_MS)


def tls(cp):
    """The TLS context for https:// transfers (None without a CA: https refused)."""
    if not cp.ca_der:
        return None
    from firmware.ocpp.wsproto import tls_context

    return tls_context(cp.ca_der)


async def _say(fw, status, must=False):
    fw.status = status
    log.info(_TAG, "firmware %s", status)
    await notify(fw.cp, "FirmwareStatusNotification", status, must)


def end(fw):
    """The job is over (done or failed): forget it, free the image's space."""
    fw.job = None
    save(fw)
    fw.status = "Idle"
    try:
        fs.remove_if_exists(path(fw))
    except OSError:
        pass


async def work(fw, job):
    """Carry ``job`` on from its phase; on return the job is over or handed on to a
    reboot (``fw.job`` is then no longer ``job``), or its phase changed (run again)."""
    cp = fw.cp
    # retrieveDate is on the backend's clock, set by the BootNotification answer: wait
    # for it a while, but an unreachable backend must not hold the update for ever.
    for _ in range(_REGISTER_WAIT_S):
        if cp.registered.is_set():
            break
        await clock.sleep_ms(1000)
    if job["p"] == _BOOT:  # the reboot after the install: say so once
        await _say(fw, "Installed", must=True)
        end(fw)
        return
    if job["p"] == _WAIT:
        while True:
            left = job["at"] - cp.time_s()
            if left <= 0:
                break
            await clock.sleep_ms(min(left * 1000, _SLICE_MS))
        job["p"] = _DOWNLOAD
        save(fw)
    if job["p"] == _DOWNLOAD:
        if not await _download(fw, job):
            await _say(fw, "DownloadFailed")
            end(fw)
            return
        job["p"] = _INSTALL
        save(fw)
        await _say(fw, "Downloaded")
    if fs.size(path(fw)) <= 0:  # lost since (a reboot before it was synced): again
        log.warn(_TAG, "downloaded image missing")
        job["p"] = _DOWNLOAD
        job["left"] = max(job["left"], 1)
        save(fw)
        return
    while cp.session.current is not None:
        await clock.sleep_ms(_IDLE_POLL_MS)
    await _say(fw, "Installing")
    if not _install(fw):
        await _say(fw, "InstallationFailed")
        end(fw)
        return
    job["p"] = _BOOT
    save(fw)
    fw.job = None  # nothing more to do in this boot
    log.warn(_TAG, "firmware accepted by the board: rebooting")
    cp.reset_hook("Hard")


async def _download(fw, job):
    from firmware.ocpp import http

    board = fw.cp.app.board
    client = http.Client(ssl=tls(fw.cp), chunk=_CHUNK, timeout_ms=_TIMEOUT_MS)
    limit = getattr(board, "firmware_max_bytes", _MAX_BYTES)
    await _say(fw, "Downloading")
    while job["left"] > 0:
        job["left"] -= 1
        save(fw)  # a reboot mid-download counts the attempt
        fw.attempts += 1
        try:
            n = await client.get(job["url"], path(fw), limit)
            log.info(_TAG, "downloaded %d bytes", n)
            return True
        except (http.HttpError, OSError) as e:  # OSError: the filesystem (full?)
            log.warn(_TAG, "download failed (%d left): %s", job["left"], e)
        if job["left"] > 0:
            await clock.sleep_ms(job["iv"] * 1000)
    return False


def _install(fw):
    hook = getattr(fw.cp.app.board, "install_firmware", None)
    if hook is None:
        return False
    try:
        return hook(path(fw)) is True
    except Exception as e:  # noqa: BLE001  (the board's code: report, do not crash)
        log.error(_TAG, "install_firmware failed: %s: %s", type(e).__name__, e)
        return False
