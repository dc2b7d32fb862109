"""Heap and time of the local authorization list and the cache, under the runtime that
runs this file.

    .venv/bin/python -m tools.bench_ocpp_auth [entries]
    .venv/bin/micropython -X heapsize=256K tools/bench_ocpp_auth.py [entries]

Builds a list of ``entries`` idTags (default 1000, LocalAuthListMaxLength) the way a
backend would (a full update, then differential ones of SendLocalListMaxLength), every
entry with an expiryDate and a parentIdTag, on the host's filesystem. Prints the heap the
list object keeps (MicroPython), the bytes one lookup allocates, lookup and update
times, the check at boot, and the cache's figures. Prints numbers only, asserts nothing.
"""
import sys

sys.path.insert(0, ".")
try:
    import micropython  # noqa: F401
except ImportError:
    import tools  # noqa: F401  (CPython: puts the MicroPython shims on sys.path)

import gc
import os
import time

from lib import log
from firmware.ocpp import tagrec
from firmware.ocpp.authcache import AuthCache
from firmware.ocpp.locallist import LocalList
from firmware.storage import fs

MICRO = hasattr(time, "ticks_us")
if MICRO:
    RUNTIME = "MicroPython %d.%d.%d" % sys.implementation.version[:3]

    def now_us():
        return time.ticks_us()

    def since_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    RUNTIME = "CPython %d.%d.%d" % sys.version_info[:3]

    def now_us():
        return time.perf_counter_ns() // 1000

    def since_us(t0):
        return now_us() - t0

BATCH = 40  # entries per SendLocalList (what fits the 8 KB WebSocket message)
INFO = {"status": "Accepted", "expiryDate": "2099-01-01T00:00:00Z", "parentIdTag": "FLEET0001"}


def heap():
    gc.collect()
    return gc.mem_alloc() if MICRO else 0


def tag(i):
    # spread over the key space like card UIDs (hex), not in insertion order
    return "%08X%04d" % ((i * 2654435761) & 0xFFFFFFFF, i)


def changes(a, b):
    out = [(tagrec.key(tag(i)), INFO) for i in range(a, b)]
    out.sort(key=lambda e: e[0])
    return out


def allocated(fn, *args):
    """Bytes ``fn`` allocates (MicroPython: gc off for the call), and its result."""
    if not MICRO:
        return 0, fn(*args)
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        r = fn(*args)
        return gc.mem_alloc() - a, r
    finally:
        gc.enable()


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 1000
    log.set_sink(lambda *a: None)
    root = "/tmp/evse-bench-auth-%d" % (now_us() & 0xFFFFFF)
    fs.makedirs(root)
    path = fs.join(root, "list.bin")
    print("%s, local list of %d entries (batches of %d)" % (RUNTIME, n, BATCH))
    try:
        ll = LocalList(path)
        t_full = 0
        t_diff = []
        v = 0
        for a in range(0, n, BATCH):
            ch = changes(a, min(n, a + BATCH))
            v += 1
            t0 = now_us()
            ll.apply(a == 0, v, ch, n)
            dt = since_us(t0)
            if a == 0:
                t_full = dt
            else:
                t_diff.append(dt)
            ch = None
        ll = None
        h0 = heap()
        ll = LocalList(path)  # as at boot, over the full list
        kept = heap() - h0
        h0 = heap()
        c = AuthCache(fs.join(root, "cache.bin"))
        kept_cache = heap() - h0
        c = None
        print("file %d bytes, version %d, %d entries" % (fs.size(path), ll.version(), ll.count))
        if MICRO:
            print("heap kept by the LocalList of %d entries: %d bytes" % (ll.count, kept))
        print("update: full %d us; differential of %d into %d: %d us (last), mean %d us"
              % (t_full, BATCH, n - BATCH, t_diff[-1] if t_diff else 0,
                 sum(t_diff) // max(1, len(t_diff))))
        keys = [tagrec.key(tag(i)) for i in range(0, n, max(1, n // 100))]
        misses = [tagrec.key("NOPE%04d" % i) for i in range(100)]
        t0 = now_us()
        hits = 0
        for k in keys:
            hits += ll.lookup(k) is not None
        t_hit = since_us(t0) // len(keys)
        t0 = now_us()
        for k in misses:
            hits += ll.lookup(k) is not None
        t_miss = since_us(t0) // len(misses)
        per, r = allocated(ll.lookup, keys[len(keys) // 2])
        print("lookup: hit %d us, miss %d us, %d of %d found; one lookup allocates %s bytes"
              % (t_hit, t_miss, hits, len(keys), per if MICRO else "n/a"))
        # One SendLocalList of BATCH entries with every field, as the client gets it.
        import json

        text = json.dumps([2, "x" * 36, "SendLocalList", {
            "listVersion": 2147483647, "updateType": "Differential", "localAuthorizationList": [
                {"idTag": "Z%019d" % i, "idTagInfo": {
                    "status": "ConcurrentTx", "expiryDate": "2099-01-01T00:00:00.000+00:00",
                    "parentIdTag": "P%019d" % i}} for i in range(BATCH)]}])
        n_parse, msg = allocated(json.loads, text)

        def update():
            ch = [(tagrec.key(e["idTag"]), e["idTagInfo"]) for e in msg[3]["localAuthorizationList"]]
            ch.sort(key=lambda e: e[0])
            ll.apply(False, ll.version() + 1, ch, n + BATCH)
        n_apply, _ = allocated(update)
        if MICRO:
            print("SendLocalList of %d full entries (%d bytes of JSON): the parsed message holds"
                  " %d bytes; the merge allocates %d bytes in all (short-lived, collected as it"
                  " goes)" % (BATCH, len(text), n_parse, n_apply))
        msg = text = None
        t0 = now_us()
        again = LocalList(path)
        print("boot check of the file (size, CRC): %d us; version %d" % (since_us(t0), again.version()))
        again = None
        c = AuthCache(fs.join(root, "cache.bin"))
        for i in range(80):
            c.put(tagrec.key(tag(i)), INFO, 0)
        t0 = now_us()
        for i in range(64):
            c.get(tagrec.key(tag(i)))
        t_get = since_us(t0) // 64
        t0 = now_us()
        for i in range(64):
            c.put(tagrec.key(tag(100 + i)), INFO, 0)
        t_put = since_us(t0) // 64
        print("cache (%d slots, %d bytes on flash): get %d us, put %d us%s" % (
            c.slots, fs.size(fs.join(root, "cache.bin")), t_get, t_put,
            ", the cache object keeps %d bytes of heap" % kept_cache if MICRO else ""))
    finally:
        fs.remove_tree(root)
        log.set_sink(None)


if __name__ == "__main__":
    main(sys.argv)
