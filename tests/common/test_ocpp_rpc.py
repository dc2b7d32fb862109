"""OCPP-J RPC framing (firmware/ocpp/rpc.py), outgoing side: id matching, unique ids,
one outstanding call and the bounded queue, timeouts, CALLERRORs and bad answers
reaching the caller, connection loss, cancellation."""
import asyncio

import tools  # noqa: F401
from firmware.ocpp import rpc
from tests.common.support import run
from tests.common.test_ocpp_pipe import Pipe, until, BOOT_CONF, endpoint, with_pipe


def test_call_result_matched_by_id():
    async def body(r, pipe, log):
        t = asyncio.create_task(r.call("Heartbeat", {}))
        m = await pipe.next_sent()
        assert m[0] == 2 and m[2] == "Heartbeat" and m[3] == {} and type(m[1]) is str
        pipe.feed([3, m[1] + "x", {"currentTime": "late"}])  # not ours: dropped
        pipe.feed([3, m[1], {"currentTime": "2026-01-01T00:00:00Z"}])
        assert await t == {"currentTime": "2026-01-01T00:00:00Z"}
        assert r.dropped == 1
    with_pipe(body)


def test_ids_unique_and_short():
    async def body(r, pipe, log):
        ids = []
        for i in range(5):
            t = asyncio.create_task(r.call("Heartbeat", {}))
            m = await pipe.next_sent()
            ids.append(m[1])
            pipe.feed([3, m[1], {}])
            await t
        assert len(set(ids)) == 5 and all(0 < len(i) <= 36 for i in ids)
    with_pipe(body)


def test_one_outstanding_call_and_fifo_queue():
    async def body(r, pipe, log):
        tasks = [asyncio.create_task(r.call("A%d" % i, {"n": i})) for i in range(3)]
        m0 = await pipe.next_sent()
        await until(lambda: r.pending == 2)
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(pipe.sent) == 1  # nothing else goes out while A0 is outstanding
        pipe.feed([3, m0[1], {"r": 0}])
        m1 = await pipe.next_sent()
        assert m1[2] == "A1" and r.pending == 1
        pipe.feed([3, m1[1], {"r": 1}])
        m2 = await pipe.next_sent()
        pipe.feed([3, m2[1], {"r": 2}])
        results = []
        for t in tasks:
            results.append(await t)
        assert results == [{"r": 0}, {"r": 1}, {"r": 2}]
        assert [m0[2], m1[2], m2[2]] == ["A0", "A1", "A2"]
    with_pipe(body)


def test_queue_is_bounded():
    async def body(r, pipe, log):
        first = asyncio.create_task(r.call("A", {}))
        m = await pipe.next_sent()
        waiting = [asyncio.create_task(r.call("B", {})), asyncio.create_task(r.call("C", {}))]
        await until(lambda: r.pending == 2)
        try:
            await r.call("D", {})
            raise AssertionError("QueueFull not raised")
        except rpc.QueueFull:
            pass
        pipe.feed([3, m[1], {}])
        for name in ("B", "C"):
            mm = await pipe.next_sent()
            assert mm[2] == name
            pipe.feed([3, mm[1], {}])
        await first
        for t in waiting:
            await t
    with_pipe(body, max_queue=2)


def test_timeout_then_next_call_and_late_answer_dropped():
    async def body(r, pipe, log):
        t1 = asyncio.create_task(r.call("Slow", {}, timeout_ms=20))
        t2 = asyncio.create_task(r.call("Next", {}))
        m1 = await pipe.next_sent()
        try:
            await t1
            raise AssertionError("CallTimeout not raised")
        except rpc.CallTimeout:
            pass
        m2 = await pipe.next_sent()
        assert m2[2] == "Next"
        pipe.feed([3, m1[1], {}])  # too late
        pipe.feed([3, m2[1], {"ok": True}])
        assert await t2 == {"ok": True}
        assert r.dropped == 1
    with_pipe(body)


def test_callerror_and_bad_answers_reach_the_caller():
    async def body(r, pipe, log):
        async def one(answer, schema=None):
            t = asyncio.create_task(r.call("BootNotification", {}, schema=schema))
            m = await pipe.next_sent()
            pipe.feed(answer(m[1]))
            try:
                return await t
            except rpc.RpcError as e:
                return e
        e = await one(lambda i: [4, i, "NotSupported", "no", {"a": 1}])
        assert type(e) is rpc.CallError and e.code == "NotSupported" and e.details == {"a": 1}
        e = await one(lambda i: [4, i, "GenericError"])  # lenient about missing parts
        assert type(e) is rpc.CallError and e.description == ""
        e = await one(lambda i: [4, i, 7, "x", {}])
        assert type(e) is rpc.BadResponse
        e = await one(lambda i: [3, i])
        assert type(e) is rpc.BadResponse and e.code == rpc.FORMATION_VIOLATION
        e = await one(lambda i: [3, i, [1]])
        assert type(e) is rpc.BadResponse
        ok = {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 30}
        assert await one(lambda i: [3, i, ok], BOOT_CONF) == ok
        e = await one(lambda i: [3, i, dict(ok, interval="30")], BOOT_CONF)
        assert type(e) is rpc.BadResponse and e.code == rpc.TYPE_CONSTRAINT_VIOLATION
        e = await one(lambda i: [3, i, dict(ok, status="Maybe")], BOOT_CONF)
        assert e.code == rpc.PROPERTY_CONSTRAINT_VIOLATION
    with_pipe(body)


def test_unserialisable_payload_fails_locally():
    # CPython's json refuses a set; MicroPython's writes its repr, so there the call
    # goes out and the test plays a central system that rejects it.
    async def body(r, pipe, log):
        t = asyncio.create_task(r.call("X", {"bad": {1}}))
        for _ in range(100):
            await asyncio.sleep(0)
        if pipe.sent:
            m = await pipe.next_sent()
            pipe.feed([4, m[1], "FormationViolation", "", {}])
        try:
            await t
            raise AssertionError("not raised")
        except rpc.BadResponse as e:
            assert e.code == rpc.INTERNAL_ERROR and not pipe.sent
        except rpc.CallError as e:
            assert e.code == rpc.FORMATION_VIOLATION and len(pipe.sent) == 1
        t = asyncio.create_task(r.call("Y", {}))  # the sender carries on
        m = await pipe.next_sent()
        pipe.feed([3, m[1], {}])
        assert await t == {}
    with_pipe(body)


def test_connection_loss_fails_outstanding_keeps_queue():
    async def main():
        r, log = endpoint()
        p1 = Pipe()
        s1 = asyncio.create_task(r.serve(p1))
        t1 = asyncio.create_task(r.call("First", {}))
        t2 = asyncio.create_task(r.call("Second", {}))
        await p1.next_sent()
        assert r.connected
        p1.drop()
        await s1
        assert not r.connected
        try:
            await t1
            raise AssertionError("ConnectionLost not raised")
        except rpc.ConnectionLost:
            pass
        assert r.pending == 1
        p2 = Pipe(fail_send=True)  # a connection that dies on the first write
        s2 = asyncio.create_task(r.serve(p2))
        await until(lambda: r.pending == 1 and r._current is None and p2.sent == [])
        p2.drop()
        await s2
        p3 = Pipe()
        s3 = asyncio.create_task(r.serve(p3))
        m = await p3.next_sent()
        assert m[2] == "Second"
        p3.feed([3, m[1], {"done": 1}])
        assert await t2 == {"done": 1}
        p3.drop()
        await s3
        assert r.connections == 3
    run(main())


def test_cancelled_call_leaves_the_queue():
    async def body(r, pipe, log):
        t1 = asyncio.create_task(r.call("A", {}))
        m = await pipe.next_sent()
        t2 = asyncio.create_task(r.call("B", {}))
        await until(lambda: r.pending == 1)
        t2.cancel()
        try:
            await t2
        except asyncio.CancelledError:
            pass
        assert r.pending == 0
        pipe.feed([3, m[1], {}])
        await t1
        t3 = asyncio.create_task(r.call("C", {}))
        assert (await pipe.next_sent())[2] == "C"
        t3.cancel()
    with_pipe(body)
