"""FirmwareManagement profile: UpdateFirmware and GetDiagnostics.

Only what must always be in RAM lives here (the App's heap is tight): the handlers'
schemas, the update job's state and the task that waits for one. The work is imported
when there is some: ``fwjob`` (the update: download, install, status notifications)
and ``diagnostics`` (the upload).

UpdateFirmware: at retrieveDate (the backend's clock) the image is downloaded over
HTTP(S) with 1 + ``retries`` attempts ``retryInterval`` seconds apart, handed to the
board (``install_firmware(path)``) once no transaction runs, and the charge point
reboots into it; "Installed" is reported once after that reboot. The job (URL,
retrieveDate, attempts left, phase) is persisted with ``cfg.set_state``, so a reboot
while waiting, downloading or installing carries on. A new UpdateFirmware replaces the
job in progress.
"""
import asyncio

from lib import log

UPDATE_FIRMWARE = {"location": ("s!", 512), "retries": ("i", 0), "retrieveDate": ("t!",),
                   "retryInterval": ("i", 0)}
GET_DIAGNOSTICS = {"location": ("s!", 512), "retries": ("i", 0), "retryInterval": ("i", 0),
                   "startTime": ("t",), "stopTime": ("t",)}


def install(cp):
    """``cp.fw`` (its ``run`` is a charge point task); ``cp.diag`` appears with the first
    GetDiagnostics."""
    fw = Firmware(cp)
    cp.fw = fw
    cp.rpc.on("UpdateFirmware", fw.update, UPDATE_FIRMWARE)
    cp.rpc.on("GetDiagnostics", fw.diagnostics, GET_DIAGNOSTICS)
    return fw


class Firmware:
    """The firmware update of one charge point. ``status``: what a triggered
    FirmwareStatusNotification reports (Idle when nothing is going on); ``job``: the
    pending update (None: none in this boot); ``attempts``: downloads tried in this
    boot."""

    def __init__(self, cp):
        self.cp = cp
        self.status = "Idle"
        self.job = None
        self.attempts = 0
        self._wake = asyncio.Event()
        self._task = None
        if cp.cfg.state("fw") is not None:
            from firmware.ocpp import fwjob

            fwjob.resume(self)

    def update(self, p):
        from firmware.ocpp import fwjob

        fwjob.new(self, p)
        if self._task is not None:
            self._task.cancel()
        self._wake.set()
        return {}

    def diagnostics(self, p):
        from firmware.ocpp import diagnostics

        return diagnostics.get(self.cp, p)

    async def run(self):
        """The task that works on the pending job (until cancelled)."""
        while True:
            job = self.job
            if job is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                from firmware.ocpp import fwjob
            except MemoryError:  # the job stays persisted: the next boot tries again
                log.error("ocpp.fw", "no memory for the update")
                self.job = None
                continue
            done = asyncio.Event()
            self._task = asyncio.create_task(fwjob.guard(self, job, done))
            try:
                await done.wait()
            finally:
                if not done.is_set():  # we are cancelled: so is the job's task
                    self._task.cancel()
                self._task = None
