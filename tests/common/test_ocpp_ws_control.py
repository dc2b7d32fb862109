"""WebSocket client control frames against the loopback server: ping/pong and
keep-alive, both close handshakes, a dropped connection, back-off and reconnect."""
import asyncio

import tools  # noqa: F401
from firmware.ocpp import ws
from tests.common.support import run
from tests.common.test_ocpp_loopback import Server, close_body, echo, expect, session


def test_server_ping_answered_and_client_ping_pong():
    async def script(conn):
        await conn.send(9, b"abc")
        got = {}
        for _ in range(2):  # the client's ping and its pong, in either order
            f = await conn.recv_frame()
            got[f.opcode] = f
        pong, ping = got[10], got[9]
        await conn.send(10, ping.payload)
        await conn.send_text("after")
        return pong, ping

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        await c.ping(b"xyz")
        assert c.last_pong_ms is None
        assert await c.recv() == "after"
        assert c.last_pong_ms is not None
        pong, ping = (await srv.wait())[0]
        assert pong.opcode == 10 and pong.payload == b"abc"
        assert ping.opcode == 9 and ping.payload == b"xyz" and ping.masked
        await c.close()
    session(script, body)


def test_keepalive_pings_and_pong_timeout():
    async def answering(conn):
        pings = 0
        while pings < 3:
            f = await conn.recv_frame()
            assert f.opcode == 9
            pings += 1
            await conn.send(10, f.payload)
        await conn.send_text("enough")
        return pings

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024, ping_interval_ms=20, pong_timeout_ms=5000)
        await c.connect()
        assert await c.recv() == "enough"
        assert c.open and c.pings_sent >= 3 and c.last_pong_ms is not None
        await c.close()
    session(answering, body)

    async def silent(conn):
        pings = 0
        while True:  # never a pong, until the client drops us
            f = await conn.recv_frame()
            if f is None:
                return pings
            assert f.opcode == 9
            pings += 1

    async def body2(srv):
        c = ws.WebSocket(srv.url, max_message=1024, ping_interval_ms=20, pong_timeout_ms=50)
        await c.connect()
        e = await expect(ws.ConnectionClosed, c.recv())
        assert e.code == 1006 and "pong" in e.reason
        assert (await srv.wait())[0] >= 1  # pings went unanswered, then TCP was closed
    session(silent, body2)


def test_client_close_handshake():
    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        await c.close(1001, "bye")
        assert not c.open
        await expect(ws.ConnectionClosed, c.send("late"))
        conn = srv.conns[0]
        await srv.wait()
        return conn
    # echo() answers the close: the client got its reply
    session(echo, body)

    async def script(conn):
        f = await conn.recv_data()
        await conn.send(8, f.payload)
        return f

    async def body2(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        reader = asyncio.create_task(c.recv())  # a reader is running while we close
        await asyncio.sleep(0)
        await c.close(1000, "done")
        try:
            await reader
        except ws.ConnectionClosed as e:
            assert e.code == 1000
        f = (await srv.wait())[0]
        assert f.opcode == 8 and f.close_code() == 1000 and f.payload[2:] == b"done"
    session(script, body2)


def test_server_close_handshake():
    async def script(conn):
        await conn.send(8, close_body(1001, b"going away"))
        return await conn.recv_frame()

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        e = await expect(ws.ConnectionClosed, c.recv())
        assert e.code == 1001 and e.reason == "going away"
        f = (await srv.wait())[0]
        assert f.opcode == 8 and f.close_code() == 1001  # echoed
    session(script, body)


def test_server_drop_is_connection_closed_1006():
    async def script(conn):
        await conn.send(1, b"partial", fin=False)
        return None

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        e = await expect(ws.ConnectionClosed, c.recv())
        assert e.code == 1006 and not c.open
    session(script, body)


def test_backoff_grows_caps_and_jitters():
    b = ws.Backoff(first_ms=1000, max_ms=10000, factor=2, jitter=0.5, rand=lambda: 0.0)
    assert [b.next_ms() for _ in range(6)] == [1000, 2000, 4000, 8000, 10000, 10000]
    b.reset()
    assert b.next_ms() == 1000 and b.failures == 1
    b = ws.Backoff(first_ms=1000, max_ms=10000, jitter=0.5, rand=lambda: 1.0)
    assert [b.next_ms() for _ in range(5)] == [500, 1000, 2000, 4000, 5000]
    b = ws.Backoff(first_ms=1000, max_ms=60000)  # real randomness stays in bounds
    for i in range(8):
        d = b.next_ms()
        cap = min(1000 * 2 ** i, 60000)
        assert cap // 2 <= d <= cap


def test_connect_retry_backs_off_until_the_server_is_up():
    async def main():
        srv = Server(echo)
        await srv.start()
        port = srv.port
        await srv.stop()  # nothing listens on port now
        delays = []

        async def sleep_ms(ms):  # the back-off clock: record, and bring the server back
            delays.append(ms)
            if len(delays) == 3:
                await srv.start(port)

        async def connect():
            c = ws.WebSocket("ws://127.0.0.1:%d/ocpp/CP_1" % port, max_message=1024)
            await c.connect()
            return c

        b = ws.Backoff(first_ms=100, max_ms=1000, rand=lambda: 0.0)
        c = await ws.connect_retry(connect, b, sleep_ms=sleep_ms)
        assert delays == [100, 200, 400] and c.open
        assert b.next_ms() == 100  # reset by the success
        await c.close()
        await srv.stop()
        # bounded attempts: the last error comes out
        delays.clear()
        e = None
        try:
            await ws.connect_retry(connect, b, attempts=2, sleep_ms=sleep_ms)
        except (OSError, ws.WsError) as err:
            e = err
        assert e is not None and len(delays) == 1
    run(main())


def test_same_object_reconnects_with_its_buffers():
    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        buf = c._msg
        for i in range(3):
            assert await c.connect() is c
            await expect(ws.WsError, c.connect())  # already connected
            await c.send("round %d" % i)
            assert await c.recv() == "round %d" % i
            await c.close()
            assert not c.open
        assert c._msg is buf
        await srv.wait(3)
    session(echo, body)
