"""ThreadSafeFlag for both runtimes: the only thing an interrupt handler may touch.

On MicroPython this is ``asyncio.ThreadSafeFlag`` itself: ``set()`` is safe from a hard
IRQ and wakes the one task blocked in ``await flag.wait()``; ``wait()`` clears the flag
when it returns; a ``set()`` with nobody waiting makes the next ``wait()`` return at once.

On CPython the stand-in below keeps those semantics on top of ``asyncio.Event``. A
``set()`` from another thread (a host board's reader thread, a signal handler) is
forwarded with ``call_soon_threadsafe`` to the loop the waiter runs on; from the loop's
own thread it sets the event directly.
"""
import asyncio

try:
    ThreadSafeFlag = asyncio.ThreadSafeFlag
except AttributeError:

    class ThreadSafeFlag:
        """asyncio.Event-based stand-in for MicroPython's ThreadSafeFlag (one waiter)."""

        def __init__(self):
            self._ev = None
            self._loop = None
            self._pending = False

        def _event(self):
            loop = asyncio.get_running_loop()
            if self._ev is None or self._loop is not loop:
                # An Event binds to the first loop that waits on it; tests run many
                # short loops, so the flag re-binds instead of failing.
                self._ev = asyncio.Event()
                self._loop = loop
                if self._pending:
                    self._ev.set()
            return self._ev

        def set(self):
            self._pending = True
            ev = self._ev
            if ev is None:
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                ev.set()
            elif self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(ev.set)

        def clear(self):
            self._pending = False
            if self._ev is not None:
                self._ev.clear()

        async def wait(self):
            ev = self._event()
            if self._pending:
                ev.set()
            await ev.wait()
            self._pending = False
            ev.clear()

        def is_set(self):
            """CPython stand-in only (MicroPython's flag has no such method)."""
            return self._pending
