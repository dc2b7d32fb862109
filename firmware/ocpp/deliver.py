"""Delivery of the transaction-message queue: in order, one at a time, each message
until the backend answers it. A CALLERROR (or no answer in time) is a failed attempt:
after TransactionMessageAttempts the message is dropped, otherwise it is sent again
after TransactionMessageRetryInterval x attempts. A lost connection is no attempt: the
message goes again on the next one (the only case that can duplicate it at the
backend, as the protocol allows)."""
from micropython import const

from lib import clock, log
from firmware.ocpp import txq, wait
from firmware.ocpp.rpc import ConnectionLost, QueueFull, RpcError
from firmware.ocpp.tx import START_CONF, STOP_CONF

_TAG = "ocpp.deliver"
_OFFLINE_MS = const(500)


async def run(cp):
    q = cp.txq
    attempts = 0
    while True:
        await cp.wait_registered()
        h = q.head()
        if h is None or not cp.rpc.connected:
            cp.kick.clear()
            if h is None:
                await cp.kick.wait()
            else:
                await wait.event(cp.kick, _OFFLINE_MS)
            continue
        m, action, local, payload = h
        if action != txq.START:
            tid = q.remote_id(local)
            if tid is None:
                # Its StartTransaction was dropped: the backend knows no such transaction.
                log.warn(_TAG, "%s of unknown transaction %d dropped", action, local)
                q.done(m, local)
                continue
            payload["transactionId"] = tid
        schema = START_CONF if action == txq.START else (STOP_CONF if action == txq.STOP else {})
        try:
            r = await cp.rpc.call(action, payload, schema=schema)
        except (ConnectionLost, QueueFull):
            # Not an attempt: again once connected (QueueFull raises at once: pause).
            await wait.event(cp.kick, _OFFLINE_MS)
            continue
        except RpcError as e:  # CALLERROR, a malformed answer, a timeout
            attempts += 1
            limit = cp.cfg.get("TransactionMessageAttempts")
            log.warn(_TAG, "%s attempt %d of %d failed: %s", action, attempts, limit, e)
            if attempts >= limit:
                q.given_up += 1
                q.done(m, local, None if action == txq.START else -1)
                attempts = 0
            else:
                await clock.sleep_ms(cp.cfg.get("TransactionMessageRetryInterval") * 1000 * attempts)
            continue
        attempts = 0
        q.done(m, local, r["transactionId"] if action == txq.START else -1)
        cp.tx.on_answer(action, local, r)
