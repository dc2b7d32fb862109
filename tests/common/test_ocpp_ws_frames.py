"""WebSocket client framing against the loopback server: masking, fragmentation,
size limit, every protocol violation the client must fail on."""
import sys

import tools  # noqa: F401
from firmware.ocpp import ws
from tests.common.test_ocpp_loopback import close_body, echo, expect, frame, session

MICROPYTHON = sys.implementation.name == "micropython"


def test_frames_are_masked_with_fresh_keys():
    sizes = (0, 1, 5, 125, 126, 700, 1024)
    if not MICROPYTHON:  # the 64-bit length form: too big for the MicroPython test heap
        sizes += (65535, 70000)

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=72000 if not MICROPYTHON else 1024)
        await c.connect()
        for n in sizes:
            data = bytes(i * 7 & 0xFF for i in range(n))
            await c.send(data)
            assert await c.recv() == data
        await c.close()
        got = (await srv.wait())[0]
        assert [len(f.payload) for f in got] == list(sizes)
        assert all(f.masked and f.fin and f.rsv == 0 for f in got)
        for f, n in zip(got, sizes):
            assert f.payload == bytes(i * 7 & 0xFF for i in range(n))
        keys = set(f.mask for f in got)
        assert len(keys) >= len(got) - 1  # random per frame
    session(echo, body)


def test_mask_function_matches_reference():
    for start in range(0, 5):
        for n in range(0, 13):
            buf = bytearray(range(40, 40 + start + n))
            ref = bytearray(buf)
            m = (0x12, 0x34, 0x56, 0x78)
            for i in range(n):
                ref[start + i] ^= m[i % 4]
            ws.mask(buf, start, start + n, *m)
            assert buf == ref, (start, n)


def test_fragmented_message_with_interleaved_ping():
    async def script(conn):
        await conn.send(1, b"[2,\"a\",", fin=False)
        await conn.send(9, b"p1")
        await conn.send(0, b"\"Heart", fin=False)
        await conn.send(0, b"beat\",{}]", fin=True)
        await conn.send(2, b"\x01", fin=False)
        await conn.send(0, b"\x02")
        return [await conn.recv_frame(), await conn.recv_frame()]

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=1024)
        await c.connect()
        assert await c.recv() == '[2,"a","Heartbeat",{}]'
        assert await c.recv() == b"\x01\x02"
        await c.send("done")
        pong, done = (await srv.wait())[0]
        await c.close()
        assert pong.opcode == 10 and pong.payload == b"p1" and pong.masked
        assert done.payload == b"done"
    session(script, body)


def _violation(frames, max_message=256):
    """Server sends ``frames``; the client must fail with a ProtocolError and send the
    close code; returns (error, close code the server received)."""
    async def script(conn):
        for f in frames:
            await conn.send_raw(f)
        f = await conn.recv_data()
        return f.close_code() if f is not None and f.opcode == 8 else None

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=max_message)
        await c.connect()
        e = await expect(ws.ProtocolError, c.recv())
        assert not c.open
        await expect(ws.ConnectionClosed, c.recv())
        await expect(ws.ConnectionClosed, c.send("x"))
        return e, (await srv.wait())[0]
    return session(script, body)


def test_protocol_violations_fail_with_1002():
    cases = (
        [frame(1, b"hi", mask=b"abcd")],                 # masked server frame
        [frame(1, b"hi", rsv=0x40)],                      # RSV1 without extension
        [frame(3, b"hi")],                                # reserved data opcode
        [frame(0xB, b"")],                                # reserved control opcode
        [frame(0, b"hi")],                                # continuation, no message
        [frame(1, b"a", fin=False), frame(1, b"b")],      # new message mid-fragment
        [frame(9, b"x" * 126)],                           # control frame > 125
        [frame(9, b"p", fin=False)],                      # fragmented control frame
        [frame(8, b"\x03")],                              # 1-byte close body
        [frame(8, close_body(999))],                      # invalid close code
        [frame(8, close_body(1005))],                     # reserved close code
        [b"\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x01"],    # 64-bit length, top bit
    )
    for frames in cases:
        e, code = _violation(frames)
        assert type(e) is ws.ProtocolError and e.code == 1002, (frames, e)
        assert code == 1002, (frames, code)


def test_invalid_utf8_fails_with_1007():
    e, code = _violation([frame(1, b"\xc3\x28")])
    assert e.code == 1007 and code == 1007


def test_oversize_message_closes_1009():
    e, code = _violation([frame(1, b"x" * 257)])
    assert isinstance(e, ws.MessageTooBig) and e.code == 1009 and code == 1009
    # The limit holds for the reassembled message too.
    e, code = _violation([frame(1, b"x" * 200, fin=False), frame(0, b"y" * 57, fin=False),
                          frame(0, b"z")])
    assert isinstance(e, ws.MessageTooBig) and code == 1009
    # Exactly at the limit is fine.
    async def script(conn):
        await conn.send(1, b"x" * 256)
        return None

    async def body(srv):
        c = ws.WebSocket(srv.url, max_message=256)
        await c.connect()
        assert await c.recv() == "x" * 256
        await c.close()
    session(script, body)
