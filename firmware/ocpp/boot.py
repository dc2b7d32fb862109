"""BootNotification (with Pending/Rejected and the retry interval) and Heartbeat, both
setting the clock from the backend's currentTime. Until a BootNotification is accepted
nothing else is sent: every other sender waits for ``cp.registered``."""
from micropython import const

from lib import clock, log
from firmware.ocpp.rpc import RpcError

_TAG = "ocpp.boot"
_RETRY_S = const(30)  # after a failed call, or an interval of 0 with Pending/Rejected
_IDLE_MS = const(1000)

BOOT_CONF = {"status": ("e!", ("Accepted", "Pending", "Rejected")),
             "currentTime": ("t!",), "interval": ("i!", 0)}
HEARTBEAT_CONF = {"currentTime": ("t!",)}


class Registration:
    """The charge point's registration with its backend, and the heartbeat."""

    def __init__(self, cp, vendor, model, info=None):
        self.cp = cp
        self.payload = {"chargePointVendor": vendor[:20], "chargePointModel": model[:20]}
        if info:
            self.payload.update(info)
        self.status = None  # last answer: Accepted / Pending / Rejected
        self.interval = 0
        self.boots = 0
        self._t_sent = clock.ticks_ms()

    def sent(self):
        """Any message went out: the heartbeat may wait a full interval again."""
        self._t_sent = clock.ticks_ms()

    async def on_connect(self):
        """Each new connection: register unless this boot is registered already."""
        cp = self.cp
        while not cp.registered.is_set() and cp.rpc.connected:
            wait_s = _RETRY_S
            try:
                await self.send()
                if cp.registered.is_set():
                    return
                wait_s = self.interval or _RETRY_S
            except RpcError as e:
                log.warn(_TAG, "BootNotification failed: %s", e)
            await clock.sleep_ms(wait_s * 1000)

    async def send(self):
        """One BootNotification; also what TriggerMessage(BootNotification) sends."""
        cp = self.cp
        self.boots += 1
        r = await cp.rpc.call("BootNotification", self.payload, schema=BOOT_CONF)
        self.sent()
        self.status = r["status"]
        self.interval = r["interval"]
        cp.sync_clock(r["currentTime"])
        log.info(_TAG, "BootNotification %s, interval %d s", self.status, self.interval)
        if self.status == "Accepted":
            if self.interval > 0:
                cp.cfg.set("HeartbeatInterval", self.interval)
            cp.registered.set()
            cp.poke()

    async def heartbeat(self):
        """Heartbeat every HeartbeatInterval seconds of silence (0: none)."""
        cp = self.cp
        while True:
            await cp.wait_registered()
            iv = cp.cfg.get("HeartbeatInterval")
            idle = clock.ticks_diff(clock.ticks_ms(), self._t_sent)
            if iv <= 0 or idle < iv * 1000 or not cp.rpc.connected:
                await clock.sleep_ms(_IDLE_MS if iv <= 0 or idle >= iv * 1000
                                     else min(iv * 1000 - idle, 60000))
                continue
            await self.beat()

    async def beat(self):
        try:
            r = await self.cp.rpc.call("Heartbeat", {}, schema=HEARTBEAT_CONF)
            self.cp.sync_clock(r["currentTime"])
        except RpcError as e:
            log.warn(_TAG, "Heartbeat failed: %s", e)
        self.sent()
