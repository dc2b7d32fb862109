"""Virtual time on CPython: an event loop whose clock is ``lib.clock``'s skew alone and
whose selector skips idle waits (see tools/sim/vtime.py)."""
import asyncio
import math
import selectors
import time

from lib import clock

class _Selector(selectors.DefaultSelector):
    def select(self, timeout=None):
        # only the loop's own wake-up pipe registered: nothing real to wait for
        if len(self.get_map()) <= 1:
            if timeout is not None and timeout > 0:
                clock.advance(max(1, math.ceil(timeout * 1000)))
            return super().select(0)
        t0 = time.monotonic()  # real I/O: wait for real, and let that time count
        events = super().select(timeout)
        clock.advance(int((time.monotonic() - t0) * 1000))
        return events

class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        super().__init__(_Selector())

    def time(self):
        return clock.skew_ms() / 1000

def install():
    clock.set_virtual(True)

def uninstall():
    clock.set_virtual(False)

def run(coro):
    """Run ``coro`` to completion in virtual time."""
    install()
    try:
        with asyncio.Runner(loop_factory=VirtualLoop) as runner:
            return runner.run(coro)
    finally:
        uninstall()
