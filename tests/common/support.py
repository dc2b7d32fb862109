"""Helpers for tests that run under both runtimes (no pytest here)."""
import asyncio


def raises(exc, func, *args, **kwargs):
    """Call func and return the exception of type ``exc`` it must raise."""
    try:
        func(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def run(coro):
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)
