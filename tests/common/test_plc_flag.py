"""lib.flag.ThreadSafeFlag: the same semantics on both runtimes (the QCA bus task
waits on it; the INT handler, send() and the ticker set it)."""
import asyncio
import sys

from lib.flag import ThreadSafeFlag
from tests.common.support import run


def test_set_before_wait_returns_at_once_and_clears():
    async def main():
        f = ThreadSafeFlag()
        f.set()
        f.set()  # several sets, one wake-up
        await asyncio.wait_for(f.wait(), 1)
        try:
            await asyncio.wait_for(f.wait(), 0.05)
        except asyncio.TimeoutError:
            return True
        return False

    assert run(main())


def test_set_wakes_a_waiting_task():
    async def main():
        f = ThreadSafeFlag()
        woke = []

        async def waiter():
            await f.wait()
            woke.append(1)

        t = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        assert woke == []
        f.set()
        await asyncio.wait_for(t, 1)
        return woke

    assert run(main()) == [1]


def test_clear_forgets_a_pending_set():
    async def main():
        f = ThreadSafeFlag()
        f.set()
        f.clear()
        try:
            await asyncio.wait_for(f.wait(), 0.05)
        except asyncio.TimeoutError:
            return True
        return False

    assert run(main())


def test_set_from_another_thread_on_cpython():
    if sys.implementation.name == "micropython":
        return  # the unix port's threads are optional; device IRQs are covered by design
    import threading

    async def main():
        f = ThreadSafeFlag()
        t = asyncio.create_task(f.wait())
        await asyncio.sleep(0)
        th = threading.Thread(target=f.set)
        th.start()
        await asyncio.wait_for(t, 1)
        th.join()
        return True

    assert run(main())


def test_flag_survives_a_new_event_loop():
    f = ThreadSafeFlag()

    async def once():
        f.set()
        await asyncio.wait_for(f.wait(), 1)
        return True

    assert run(once()) and run(once())
