"""python -m tools.csms [--host H] [--port N] [--reject-tag T] [--heartbeat-interval S]
                       [--remote-start-tag T]

The embedded central system: OCPP 1.6J on the `ocpp` library (PyPI) over `websockets`,
schema validation on in both directions (plus date-time formats), logging every
message. Accepts every BootNotification, authorizes every idTag but the rejected ones,
numbers transactions 1, 2, ... and records them (start, meter values, stop); with a
remote-start tag, it answers a connector that turns Preparing (a car plugged, nobody
authorised) with a RemoteStartTransaction of that tag, as an operator's app would. Also a
library for tests: ``async with Csms(port=0) as cs:`` then ``cs.url("CP_1")``,
``cs.transactions``, ``await cs.remote_start(cp, tag)`` / ``remote_stop`` / ``reset``.
Host only (CPython).
"""
import argparse
import asyncio
import datetime
import logging
import sys

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as _CpBase
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

log = logging.getLogger("csms")


def strict_formats():
    """The library checks no "format" on its own: add date-time checks (returns a
    function that puts the library back)."""
    import ocpp.messages as om
    from jsonschema import Draft4Validator, FormatChecker

    plain, cache = om.get_validator, {}
    checker = FormatChecker(formats=["date-time"])

    def strict(*args, **kwargs):
        v = plain(*args, **kwargs)
        if id(v) not in cache:
            cache[id(v)] = Draft4Validator(v.schema, format_checker=checker)
        return cache[id(v)]

    om.get_validator = strict

    def undo():
        om.get_validator = plain
    return undo


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Cp(_CpBase):
    def __init__(self, cp_id, connection, cs):
        super().__init__(cp_id, connection, response_timeout=15)
        self.cs = cs

    def _note(self, action, payload):
        self.cs.messages.append((self.id, action, payload))
        log.info("%s -> %s %s", self.id, action, payload)

    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor, charge_point_model, **kw):
        self._note("BootNotification", dict(kw, vendor=charge_point_vendor, model=charge_point_model))
        self.cs.boots.append(self.id)
        return call_result.BootNotification(current_time=now(), interval=self.cs.heartbeat_interval,
                                            status=self.cs.boot_status)

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        self._note("Heartbeat", {})
        return call_result.Heartbeat(current_time=now())

    @on(Action.authorize)
    async def on_authorize(self, id_tag):
        self._note("Authorize", {"idTag": id_tag})
        return call_result.Authorize(id_tag_info=self.cs.tag_info(id_tag))

    @on(Action.start_transaction)
    async def on_start(self, connector_id, id_tag, meter_start, timestamp, **kw):
        self._note("StartTransaction", dict(kw, connectorId=connector_id, idTag=id_tag,
                                            meterStart=meter_start, timestamp=timestamp))
        tx = self.cs.start(self.id, connector_id, id_tag, meter_start, timestamp)
        return call_result.StartTransaction(transaction_id=tx, id_tag_info=self.cs.tag_info(id_tag))

    @on(Action.stop_transaction)
    async def on_stop(self, meter_stop, timestamp, transaction_id, **kw):
        self._note("StopTransaction", dict(kw, meterStop=meter_stop, timestamp=timestamp,
                                           transactionId=transaction_id))
        t = self.cs.transactions.get(transaction_id)
        if t is None:
            self.cs.unknown.append(("StopTransaction", transaction_id))
        elif t["stop"] is not None:
            self.cs.duplicates.append(("StopTransaction", transaction_id))
        else:
            t["stop"] = dict(kw, meter_stop=meter_stop, timestamp=timestamp)
        if kw.get("id_tag"):
            return call_result.StopTransaction(id_tag_info=self.cs.tag_info(kw["id_tag"]))
        return call_result.StopTransaction()

    @on(Action.status_notification)
    async def on_status(self, connector_id, error_code, status, **kw):
        self._note("StatusNotification", dict(kw, connectorId=connector_id, errorCode=error_code,
                                              status=status))
        self.cs.status.append((self.id, connector_id, status, error_code))
        tag = self.cs.remote_start_tag
        if tag and status == "Preparing" and connector_id > 0:
            # after our answer is out: a handler awaiting a call of its own would block
            self.cs.spawn(self._remote_start_later(tag, connector_id))
        return call_result.StatusNotification()

    async def _remote_start_later(self, tag, connector_id):
        await asyncio.sleep(0.05)
        try:
            await self.cs.remote_start(self.id, tag, connector_id)
        except Exception as e:  # the charge point went away, or answered badly
            log.info("%s remote start failed: %r", self.id, e)

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **kw):
        self._note("MeterValues", dict(kw, connectorId=connector_id, meterValue=meter_value))
        tx = kw.get("transaction_id")
        t = self.cs.transactions.get(tx)
        if t is not None:
            t["meter_values"].append(meter_value)
        elif tx is not None:
            self.cs.unknown.append(("MeterValues", tx))
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id, **kw):
        self._note("DataTransfer", dict(kw, vendorId=vendor_id))
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.firmware_status_notification)
    async def on_fw_status(self, status):
        self._note("FirmwareStatusNotification", {"status": status})
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diag_status(self, status):
        self._note("DiagnosticsStatusNotification", {"status": status})
        return call_result.DiagnosticsStatusNotification()


class Csms:
    """The central system (a websockets server); see the module docstring."""

    def __init__(self, host="127.0.0.1", port=9000, reject_tags=(), heartbeat_interval=300,
                 ping_interval=20, remote_start_tag=None):
        self.host = host
        self.port = port
        self.reject_tags = set(reject_tags)
        self.heartbeat_interval = heartbeat_interval
        self.ping_interval = ping_interval
        self.boot_status = RegistrationStatus.accepted
        self.connected = {}
        self.messages = []  # (cp id, action, payload) of every CALL received
        self.boots = []
        self.status = []
        self.transactions = {}  # id -> {"cp", "connector", "id_tag", "meter_start", ...}
        self.duplicates = []  # (action, transaction id) received twice
        self.unknown = []  # messages naming a transaction never started
        self.disconnects = 0
        self.remote_start_tag = remote_start_tag
        self._tasks = set()
        self._server = None
        self._undo = None
        self._next_tx = 1

    def url(self, cp_id="CP_1"):
        return "ws://%s:%d/ocpp/%s" % (self.host, self.port, cp_id)

    def tag_info(self, id_tag):
        return {"status": "Invalid" if id_tag in self.reject_tags else "Accepted"}

    def start(self, cp_id, connector, id_tag, meter_start, timestamp):
        for tx, t in self.transactions.items():  # the same StartTransaction again
            if (t["cp"], t["id_tag"], t["meter_start"], t["timestamp"]) == (
                    cp_id, id_tag, meter_start, timestamp):
                self.duplicates.append(("StartTransaction", tx))
                return tx
        tx = self._next_tx
        self._next_tx += 1
        self.transactions[tx] = {"cp": cp_id, "connector": connector, "id_tag": id_tag,
                                 "meter_start": meter_start, "timestamp": timestamp,
                                 "meter_values": [], "stop": None}
        return tx

    def spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def actions(self, name=None):
        return [a for _c, a, _p in self.messages if name is None or a == name]

    def records(self):
        """What the backend recorded, as plain JSON-able data (for checks made in
        another process or after the server stopped)."""
        txs = []
        for tx, t in sorted(self.transactions.items()):
            txs.append(dict(t, id=tx))
        return {"boots": list(self.boots), "messages": [[c, a, p] for c, a, p in self.messages],
                "transactions": txs, "duplicates": [list(d) for d in self.duplicates],
                "unknown": [list(u) for u in self.unknown], "status": [list(s) for s in self.status],
                "disconnects": self.disconnects}

    async def _handler(self, connection):
        cp_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1] or "unknown"
        log.info("%s connected", cp_id)
        cp = _Cp(cp_id, connection, self)
        self.connected[cp_id] = cp
        try:
            await cp.start()
        except websockets.exceptions.ConnectionClosed as e:
            log.info("%s disconnected: %s", cp_id, e)
        finally:
            self.disconnects += 1
            if self.connected.get(cp_id) is cp:
                del self.connected[cp_id]

    async def start_server(self):
        self._undo = strict_formats()
        self._server = await websockets.serve(
            self._handler, self.host, self.port, subprotocols=["ocpp1.6"],
            ping_interval=self.ping_interval or None, ping_timeout=self.ping_interval or None)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("CSMS on ws://%s:%d/<chargePointId> (ocpp1.6)", self.host, self.port)
        return self

    async def stop_server(self):
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._undo is not None:
            self._undo()
            self._undo = None

    async def __aenter__(self):
        return await self.start_server()

    async def __aexit__(self, *exc):
        await self.stop_server()

    # ---- calls to a charge point ----

    async def call(self, cp_id, req):
        res = await self.connected[cp_id].call(req)
        log.info("%s <- %s -> %s", cp_id, type(req).__name__, res)
        return res

    async def remote_start(self, cp_id, id_tag, connector_id=1):
        r = await self.call(cp_id, call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id))
        return r.status

    async def remote_stop(self, cp_id, transaction_id):
        r = await self.call(cp_id, call.RemoteStopTransaction(transaction_id=transaction_id))
        return r.status

    async def reset(self, cp_id, kind="Soft"):
        return (await self.call(cp_id, call.Reset(type=kind))).status


class InThread:
    """A Csms served by an event loop of its own in a daemon thread, for callers that
    block (the simulator's host waiting for a MicroPython child): ``with InThread() as
    t:`` then ``t.cs.url(...)``, ``t.records()``, ``t.run(coro_fn)``."""

    def __init__(self, **kw):
        import threading

        self.cs = Csms(**dict({"port": 0}, **kw))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def run(self, fn, timeout=30):
        """``await fn()`` on the server's loop; returns its result."""
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def records(self):
        async def get():
            return self.cs.records()
        return self.run(get)

    def __enter__(self):
        self._thread.start()
        self.run(self.cs.start_server)
        return self

    def __exit__(self, *exc):
        try:
            self.run(self.cs.stop_server)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


async def _main(args):
    cs = Csms(args.host, args.port, args.reject_tag or (), args.heartbeat_interval,
              remote_start_tag=args.remote_start_tag)
    await cs.start_server()
    try:
        await asyncio.Event().wait()
    finally:
        await cs.stop_server()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.csms", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--heartbeat-interval", type=int, default=300)
    p.add_argument("--reject-tag", action="append")
    p.add_argument("--remote-start-tag", help="RemoteStartTransaction of this idTag when a connector turns Preparing")
    p.add_argument("-v", "--verbose", action="store_true", help="also log every raw frame")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ocpp").setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
