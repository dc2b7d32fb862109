"""The per-frame paths of the QCA7000 driver allocate nothing (MicroPython heap lock).

Under MicroPython the receive and send passes run between micropython.heap_lock() and
heap_unlock(): any allocation raises MemoryError there. The modem model is switched to
byte-by-byte copies (``zero_alloc``) so it can sit inside the locked region too.
Under CPython the ``micropython`` shim's heap_lock() is a no-op, so these tests skip
themselves there (they return early): the property is a MicroPython one.
"""
import sys

import micropython

from tests.common.test_plc_support import frame, one, raw_frame

_MPY = sys.implementation.name == "micropython"


class Counter:
    def __init__(self):
        self.n = [0, 0]

    def __call__(self, buf, n):
        c = self.n
        c[0] += 1
        c[1] += buf[n - 1]


def locked(func):
    micropython.heap_lock()
    try:
        return func()
    finally:
        micropython.heap_unlock()


def test_receive_path_allocates_nothing():
    if not _MPY:
        return  # CPython: heap_lock() is a no-op in the shim
    s = one(medium=False)
    s.modem.zero_alloc = True
    cnt = Counter()
    s.drv.on_frame = cnt
    for rounds in range(3):
        for n in (60, 1518, 300):  # several frames in one read buffer
            s.modem.receive_from_medium(frame(n, n))
        locked(s.drv.service)
    assert cnt.n[0] == 9
    st = s.drv.stats
    assert st["rx_packets"] == 9 and st["rx_handler_err"] == 0 and st["rx_garbage"] == 0


def test_send_path_allocates_nothing():
    if not _MPY:
        return
    s = one(medium=False, tx_slots=3)
    s.modem.zero_alloc = True
    f1 = frame(1518, 1)
    f2 = frame(20, 2)

    def burst():
        s.drv.send(f1)
        s.drv.send(f2)
        mv = s.drv.tx_buffer()
        mv[0] = 0xFF
        s.drv.commit(100)
        s.drv.service()

    for _ in range(3):
        locked(burst)
    st = s.drv.stats
    assert st["tx_packets"] == 9 and s.modem.stats["tx_frames"] == 9
    assert st["ring_full"] == 0 and st["tx_dropped"] == 0


def test_malformed_input_path_allocates_nothing():
    if not _MPY:
        return
    s = one(medium=False)
    s.modem.zero_alloc = True
    cnt = Counter()
    s.drv.on_frame = cnt
    s.modem.inject_raw(b"\x07" * 33 + raw_frame(bytes(60), eof=b"\x00\x00"))
    s.modem.inject_raw(raw_frame(bytes(64)))
    locked(s.drv.service)
    assert cnt.n[0] == 1 and s.drv.stats["rx_notail"] == 1
