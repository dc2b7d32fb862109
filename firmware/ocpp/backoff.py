"""Reconnect pacing: exponential back-off with jitter, and a connect-until-up loop."""
import asyncio
import random

from lib import clock, log

_TAG = "ws"


class Backoff:
    """Exponential back-off with jitter: first_ms, first_ms*factor, ... up to max_ms,
    each scaled by a random factor in [1 - jitter, 1]."""

    def __init__(self, first_ms=1000, max_ms=60000, factor=2, jitter=0.5, rand=None):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.factor = factor
        self.jitter = jitter
        self.rand = rand or random.random
        self._next = first_ms
        self.failures = 0

    def next_ms(self):
        """Delay before the next attempt; grows the following one."""
        base = self._next
        self._next = min(int(base * self.factor), self.max_ms)
        self.failures += 1
        return int(base * (1 - self.jitter * self.rand()))

    def reset(self):
        self._next = self.first_ms
        self.failures = 0


async def connect_retry(connect, backoff, attempts=0, sleep_ms=None):
    """Await ``connect()`` until it succeeds, sleeping ``backoff.next_ms()`` between
    failures (OSError, asyncio.TimeoutError, WsError); ``attempts`` > 0 bounds the tries
    (the last error is raised). The back-off is reset on success."""
    from firmware.ocpp.wsproto import WsError  # here: Backoff alone needs no WebSocket code

    sleep_ms = sleep_ms or clock.sleep_ms
    tries = 0
    while True:
        tries += 1
        try:
            conn = await connect()
        except (OSError, asyncio.TimeoutError, WsError) as e:
            if attempts and tries >= attempts:
                raise
            delay = backoff.next_ms()
            log.warn(_TAG, "connect failed (%s: %s), retry in %d ms", type(e).__name__, e, delay)
            await sleep_ms(delay)
            continue
        backoff.reset()
        return conn
