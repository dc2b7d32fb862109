"""firmware.ocpp.wait: bounded waits that never lose a cancellation."""
import asyncio

import tools  # noqa: F401
from firmware.ocpp import wait
from tests.common.support import run


async def _race(waiter):
    # The awaited thing completes in the same loop turn as the caller is cancelled: the
    # caller must end cancelled (CPython 3.11's wait_for returns the result instead).
    ev = asyncio.Event()

    async def inner():
        await ev.wait()
        return 5

    async def outer():
        return await waiter(inner(), 10000)

    t = asyncio.create_task(outer())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    ev.set()
    t.cancel()
    try:
        return "returned %r" % (await t,)
    except asyncio.CancelledError:
        return "cancelled"


def test_a_cancellation_racing_with_the_result_is_not_lost():
    assert run(_race(wait.wait_for_ms)) == "cancelled"


def test_result_and_timeout():
    async def body():
        async def quick():
            return 7

        async def slow():
            await asyncio.sleep(5)
        r = await wait.wait_for_ms(quick(), 1000)
        try:
            await wait.wait_for_ms(slow(), 20)
            timed_out = False
        except asyncio.TimeoutError:
            timed_out = True
        return r, timed_out
    assert run(body()) == (7, True)


def test_cleanup_under_a_cancellation_still_waits():
    # A finally block that closes something while its task is being cancelled: the
    # bounded wait inside it runs to the end instead of raising again.
    async def body():
        done = []

        async def worker():
            try:
                await asyncio.sleep(10)
            finally:
                async def close():
                    await asyncio.sleep(0.01)
                    return "closed"
                done.append(await wait.wait_for_ms(close(), 1000))
        t = asyncio.create_task(worker())
        await asyncio.sleep(0)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass
        return done
    assert run(body()) == ["closed"]
