"""The charge point: OCPP 1.6 Core on top of ``rpc``, wired to the firmware's App.

It listens on the App's event bus (connector status, sessions, faults) and drives the
SessionController (authorisation, stop requests); each message or group of messages is
one small module (``boot``, ``status``, ``tx``, ``deliver``, ``admin``, ``trigger``)
that registers its handlers here. ``attach(app, url)`` builds one for an App;
``await cp.run()`` is its task.
"""
import asyncio

from micropython import const

from lib import clock, log
from firmware.ocpp import admin, boot, deliver, status, timefmt, trigger, tx
from firmware.ocpp import sampling
from firmware.ocpp import smart
from firmware.ocpp import auth, reserve
from firmware.ocpp import firmware as fwupdate
from firmware.ocpp.backoff import Backoff
from firmware.ocpp.config import Config
from firmware.ocpp.rpc import Rpc
from firmware.ocpp.txq import TxQueue
from firmware.storage import fs

_TAG = "ocpp"
_OFFSET_SAVE_S = const(5)  # a heartbeat's jitter must not write the flash each time


class ChargePoint:
    """OCPP 1.6J Core for one App (one connector).

    ``connect``: async callable returning a connection (``send``/``recv``/``close``);
    None: a WebSocket to ``url`` (``ca_der`` for wss://, the AuthorizationKey key for
    Basic auth). ``reset_hook(kind)`` restarts the firmware ("Soft"/"Hard"); default
    ``app.board.reboot``. ``info``: extra BootNotification fields.
    """

    def __init__(self, app, url=None, cp_id=None, connect=None, vendor="OpenWallbox",
                 model="MP-1", info=None, ca_der=None, reset_hook=None, cfg_overrides=None,
                 timeout_ms=30000):
        self.app = app
        self.session = app.session
        self.url = url
        self.cp_id = cp_id or (url.rstrip("/").rsplit("/", 1)[-1] if url else "CP")
        self.ca_der = ca_der
        self._connect = connect
        root = app.board.fs_root
        self.cfg = Config(fs.join(root, "ocpp_config.json"), cfg_overrides)
        self.rpc = Rpc(timeout_ms=timeout_ms)
        self.txq = TxQueue(fs.join(root, "ocpp_tx.log"))
        self.clock_offset_s = 0
        # The offset the session log's timestamps were written with (persisted when it
        # moves): a session a power cut ended is reported on the backend's clock.
        self.saved_offset_s = self.cfg.state("clock_offset", 0)
        # Until the backend answers again (a boot while offline): the offset last learnt,
        # the one recover() applies, so a transaction begun now is not stamped hours
        # away from the StopTransaction of one that a power loss cut.
        self.clock_offset_s = self.saved_offset_s
        self.registered = asyncio.Event()  # BootNotification accepted
        self.kick = asyncio.Event()  # the transaction queue has work
        self.reset_hook = reset_hook or (lambda kind: app.board.reboot())
        self.ws = None
        self.vendor_hook = None  # DataTransfer from the backend (see admin.data_transfer)
        self.boot = boot.Registration(self, vendor, model, info)
        self.status = status.Status(self)
        self.sampling = sampling.Sampling(self)  # before tx: its recover() needs it
        self.tx = tx.Transactions(self)
        self.auth = auth.Auth(self)  # local list, cache (LocalAuthListManagement)
        self.reserve = reserve.Reservations(self)
        admin.install(self)
        trigger.install(self)
        self.smart = smart.install(self)
        fwupdate.install(self)  # FirmwareManagement: self.fw, self.diag
        self.txq.on_add = self.kick.set
        self.cfg.on_change = self._on_config
        self.tx.recover(app.recovered)

    def time_s(self):
        """Unix seconds on the backend's clock (synchronised at boot and heartbeat)."""
        return clock.time_s() + self.clock_offset_s

    def now(self):
        """The time as the backend sees it, as an OCPP dateTime."""
        return timefmt.iso(self.time_s())

    def poke(self):
        """Wake the senders (registration, reconnect, a setting changed)."""
        self.kick.set()
        self.status.kick.set()

    def sync_clock(self, text):
        try:
            self.clock_offset_s = timefmt.parse(text) - clock.time_s()
            if abs(self.clock_offset_s - self.saved_offset_s) > _OFFSET_SAVE_S:
                self.saved_offset_s = self.clock_offset_s
                self.cfg.set_state("clock_offset", self.clock_offset_s)
            self.smart.changed.set()  # absolute schedules move with the clock
        except ValueError:
            log.warn(_TAG, "bad currentTime %s", text[:40])

    def _on_config(self, name):
        if name == "WebSocketPingInterval" and self.ws is not None:
            self.ws.set_ping_interval(self.cfg.get(name) * 1000)
        self.poke()

    def _websocket(self):
        # One WebSocket (and its 8 KB message buffer) for the charge point's life, made
        # before the other tasks run: a reconnect on a fragmented heap could not find
        # 8 KB in one piece again.
        from firmware.ocpp import ws

        key = self.cfg.get("AuthorizationKey")
        auth = (self.cp_id, ws.basic_password(key)) if key else None
        ping_ms = self.cfg.get("WebSocketPingInterval") * 1000
        c = self.ws
        if c is None:
            ctx = ws.tls_context(self.ca_der) if self.ca_der else None
            c = ws.WebSocket(self.url, auth=auth, ssl=ctx, max_message=8192,
                             ping_interval_ms=ping_ms)
            self.ws = c
        else:
            c.auth = auth  # the AuthorizationKey may have changed
            c.ping_interval_ms = ping_ms
        return c

    async def _ws_connect(self):
        return await self._websocket().connect()

    async def run(self, backoff=None):
        """Keep the backend connection and run every OCPP task (until cancelled)."""
        if self._connect is None:
            self._websocket()
        tasks = [asyncio.create_task(c) for c in (
            self.boot.heartbeat(), self.status.run(), self.sampling.run(), deliver.run(self),
            self.smart.run(), self.reserve.run(), self.fw.run())]
        try:
            await self._link(self._connect or self._ws_connect, backoff or Backoff())
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except BaseException:
                    pass

    async def _link(self, connect, backoff):
        # Rpc.run's loop, without importing the WebSocket code for other transports.
        while True:
            try:
                conn = await connect()
            except Exception as e:  # OSError, TimeoutError, WsError
                delay = backoff.next_ms()
                log.warn(_TAG, "connect failed (%s: %s), retry in %d ms", type(e).__name__, e, delay)
                await clock.sleep_ms(delay)
                continue
            backoff.reset()
            asyncio.create_task(self.boot.on_connect())
            self.poke()
            try:
                await self.rpc.serve(conn)
            finally:
                await conn.close()
            await clock.sleep_ms(backoff.next_ms())

    async def data_transfer(self, vendor_id, message_id=None, data=None):
        """DataTransfer to the backend: its (status, data)."""
        return await admin.data_transfer(self, vendor_id, message_id, data)

    async def wait_registered(self):
        if not self.registered.is_set():
            await self.registered.wait()


def attach(app, url, **kw):
    """An OCPP charge point for ``app`` (its task: ``app.ocpp.run()``); see ChargePoint."""
    cp = ChargePoint(app, url, **kw)
    app.ocpp = cp
    return cp
