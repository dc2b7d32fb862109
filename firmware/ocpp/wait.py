"""Waiting with a time limit without the trap of CPython 3.11's ``asyncio.wait_for``: it
can swallow a cancellation that races with the result, and a task that ignores its
cancellation never ends (``event`` avoids wait_for, ``wait_for_ms`` detects the race)."""
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



def _cancels():
    # CPython >= 3.11: cancellations requested of the running task and not yet handled;
    # MicroPython (no such race) has no count: 0.
    f = getattr(asyncio.current_task(), "cancelling", None)
    return f() if f is not None else 0


async def wait_for_ms(aw, ms):
    """``asyncio.wait_for`` with a limit in ms that does not swallow a cancellation of
    the caller racing with the result (CPython 3.11 does: the cancelled task would go
    on, and whoever awaits its end waits forever). Cleanup already running under a
    cancellation (a ``finally`` closing a connection) is left to finish."""
    before = _cancels()
    r = await asyncio.wait_for(aw, ms / 1000)
    if _cancels() > before:
        raise asyncio.CancelledError
    return r
