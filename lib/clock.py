"""Millisecond clock shared by both runtimes.

Wrapping tick arithmetic as MicroPython's ``time.ticks_*`` defines it (the port's own
period on MicroPython, 2**30 on CPython), so code written against it behaves the same on
a device and on the host. The simulator skews the clock (``advance``) to run in virtual
time; nothing else may.
"""
import time
import asyncio

_skew = 0
_base = None  # set: virtual time, the clock counts nothing but advance() from here

try:
    _ticks = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = asyncio.sleep_ms
    _EPOCH_FIX = 946684800 if time.gmtime(0)[0] == 2000 else 0
    _MP = True

    def ticks_ms():
        """Current tick count in ms (wrapping)."""
        if _base is None:
            return time.ticks_add(_ticks(), _skew)
        return time.ticks_add(_base, _skew)

except AttributeError:
    _MASK = (1 << 30) - 1
    _HALF = 1 << 29
    _EPOCH_FIX = 0
    _MP = False

    def ticks_ms():
        """Current tick count in ms (wrapping at 2**30)."""
        if _base is None:
            return (time.monotonic_ns() // 1000000 + _skew) & _MASK
        return (_base + _skew) & _MASK

    def ticks_diff(a, b):
        """Signed difference a - b in ms, correct across wrap-around."""
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(t, delta):
        return (t + delta) & _MASK

    async def sleep_ms(ms):
        await asyncio.sleep(ms / 1000)


def advance(ms):
    """Skew the clock forward by ``ms`` (simulation only: virtual time)."""
    global _skew
    _skew += ms


def set_virtual(on):
    """Let ticks_ms() count nothing but advance(), so a simulation's timing does not
    depend on how fast the host computes (simulator only).

    On MicroPython the event loop stamps tasks made ready by I/O or events with the real
    tick count; virtual time starts 10^7 ms ahead of it, so those stamps always lie in the
    virtual past and mean "run now", as they should.
    """
    global _base
    if not on:
        _base = None
    elif _MP:
        _base = ticks_add(_ticks(), 10000000)
    else:
        _base = 0


def skew_ms():
    """Total virtual time added so far, in ms."""
    return _skew


def time_s():
    """Wall-clock seconds since the Unix epoch (the RTC on a device)."""
    return int(time.time()) + _EPOCH_FIX + _skew // 1000
