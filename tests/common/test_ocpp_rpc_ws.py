"""OCPP-J RPC over the loopback WebSocket server: boot, a call from the server, a
dropped connection, back-off and reconnect."""
import asyncio
import json

import tools  # noqa: F401
from firmware.ocpp import ws
from tests.common.support import run
from tests.common.test_ocpp_loopback import Server
from tests.common.test_ocpp_pipe import until, BOOT_CONF, endpoint


def test_rpc_over_websocket_with_drop_and_reconnect():
    """The endpoint keeps a WebSocket up: boot, answer a call from the server, lose the
    connection, back off, reconnect and boot again."""
    async def script(conn):
        text = await conn.recv_text()
        if text is None:  # the client went away (the test ends while it reconnects)
            return None
        boot = json.loads(text)
        assert boot[0] == 2 and boot[2] == "BootNotification"
        await conn.send_text(json.dumps([3, boot[1], {
            "status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300}]))
        await conn.send_text(json.dumps([2, "srv1", "Reset", {"type": "Soft"}]))
        text = await conn.recv_text()
        # then the server drops the TCP connection
        return boot, (json.loads(text) if text is not None else None)

    async def main():
        srv = await Server(script).start()
        r, log = endpoint()
        booted = []
        delays = []

        async def on_connect():
            booted.append(await r.call("BootNotification", {"chargePointVendor": "V",
                                                            "chargePointModel": "M"},
                                       schema=BOOT_CONF))

        async def connect():
            c = ws.WebSocket(srv.url, max_message=1024)
            await c.connect()
            return c

        async def sleep_ms(ms):
            delays.append(ms)
            await asyncio.sleep(0)

        task = asyncio.create_task(r.run(connect, ws.Backoff(first_ms=50, rand=lambda: 0.0),
                                         on_connect, sleep_ms=sleep_ms))
        try:
            await until(lambda: len(srv.results) >= 2, "two connections")
            await until(lambda: len(booted) >= 2, "two boots")
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            await srv.stop()
        assert not srv.errors, [repr(e) for e in srv.errors]
        (boot, answer), _ = srv.results[:2]
        assert answer == [3, "srv1", {"status": "Accepted"}]
        assert booted[0]["status"] == "Accepted" and r.connections >= 2
        assert delays and delays[0] == 50
        assert log.count(("reset", "Soft")) >= 2
    run(main())
