"""Virtual time for the simulator, on both runtimes.

When every task is asleep and no real I/O is registered, the event loop would block
until the next timer; here it skews ``lib.clock`` forward to that timer instead, so an
hour-long session runs in seconds and the firmware cannot tell. On CPython the clock then
counts nothing else (runs are exactly repeatable); on MicroPython it is the wall clock
plus the skew. With sockets registered (a real peer) the loop waits for real.
"""
import sys

from lib import clock

_IS_MP = sys.implementation.name == "micropython"


if _IS_MP:
    import asyncio.core as _core

    _saved = None

    def install():
        global _saved
        if _saved is not None:
            return
        q = _core._io_queue
        _saved = (_core.ticks, q.wait_io_event)
        orig = q.wait_io_event

        def wait_io_event(dt):
            if dt > 0 and not q.map:
                clock.advance(dt)
                dt = 0
            orig(dt)

        _core.ticks = clock.ticks_ms
        q.wait_io_event = wait_io_event

    def uninstall():
        global _saved
        if _saved is None:
            return
        _core.ticks = _saved[0]
        _core._io_queue.wait_io_event = _saved[1]
        _saved = None

    def run(coro):
        """Run ``coro`` to completion in virtual time."""
        import asyncio

        install()
        try:
            return asyncio.run(coro)
        finally:
            uninstall()
            asyncio.new_event_loop()

else:
    from tools.sim.vtime_cpython import install, run, uninstall

__all__ = ("install", "run", "uninstall")
