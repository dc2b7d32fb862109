"""Waiting for an event with a time limit, without ``asyncio.wait_for`` (CPython 3.11's
can swallow a cancellation that races with the result; a task that ignores its
cancellation never ends)."""
import asyncio

from lib import clock


async def _later(ev, ms):
    await clock.sleep_ms(ms)
    ev.set()


async def event(ev, ms=None):
    """Wait until ``ev`` is set, at most ``ms`` (None: no limit). A timeout sets ``ev``:
    for the wake-up flags used here a spurious wake-up is harmless."""
    if ms is None:
        await ev.wait()
        return
    t = asyncio.create_task(_later(ev, ms))
    try:
        await ev.wait()
    finally:
        t.cancel()
