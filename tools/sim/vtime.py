"""Virtual time for the simulator, on both runtimes.

When every task is asleep and no real I/O is registered, the event loop would block
until the next timer; here it skews ``lib.clock`` forward to that timer instead, so an
hour-long session runs in seconds and the firmware cannot tell. The clock then counts
nothing else, so runs are exactly repeatable on either runtime. With sockets registered
(a real peer) the loop waits for real, and the real time it waited counts.
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
        import time

        q = _core._io_queue
        _saved = (_core.ticks, q.wait_io_event)
        orig = q.wait_io_event

        def wait_io_event(dt):
            if not q.map:
                if dt > 0:
                    clock.advance(dt)
                orig(0)
                return
            t0 = time.ticks_ms()  # real I/O: wait for real, and let that time count
            orig(dt)
            clock.advance(time.ticks_diff(time.ticks_ms(), t0))

        clock.set_virtual(True)
        _core.ticks = clock.ticks_ms
        q.wait_io_event = wait_io_event

    def uninstall():
        global _saved
        if _saved is None:
            return
        _core.ticks = _saved[0]
        _core._io_queue.wait_io_event = _saved[1]
        _saved = None
        clock.set_virtual(False)

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
