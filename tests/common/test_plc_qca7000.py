"""QCA7000 driver against the register-level modem model: byte-for-byte SPI traffic,
start-up, single/multiple/min/max/back-to-back frames, the asyncio bus task."""
import asyncio

from lib import clock, log
from boards.sim.plc_medium import PlcMedium
from boards.sim.qca7000 import Qca7000Model
from firmware.plc.qca7000 import Qca7000, PlcError, SYNC_READY, SYNC_RESET
from tests.common.support import raises, run
from tests.common.test_plc_support import Side, frame, one, pair, quiet


def test_startup_spi_sequence_byte_for_byte():
    quiet()
    m = Qca7000Model()
    drv = Qca7000(m)
    drv.log_sync = False
    m.trace = []
    drv.start()
    assert drv.sync == SYNC_RESET and m.trace == []  # the reset pin, no SPI
    drv.service()
    assert drv.sync == SYNC_READY
    assert m.trace == [
        (b"\x4d\x00\x00\x00", None),  # INTR_ENABLE = 0
        (b"\xcc\x00\x00\x00", b"\x00\x00\x00\x40"),  # INTR_CAUSE: CPU on
        (b"\xda\x00\x00\x00", b"\x00\x00\xaa\x55"),  # SIGNATURE, twice
        (b"\xda\x00\x00\x00", b"\x00\x00\xaa\x55"),
        (b"\xc2\x00\x00\x00", b"\x00\x00\x0c\x5b"),  # WRBUF_SPC_AVA: empty
        (b"\x4c\x00\x00\x40", None),  # acknowledge CPU on
        (b"\x4d\x00\x00\x47", None),  # enable CPU_ON|WRBUF_ERR|RDBUF_ERR|PKT_AVLBL
    ]
    assert drv.stats["hw_reset"] == 1 and drv.stats["device_reset"] == 1
    assert m.intr_enable == 0x47 and m.intr_cause == 0


def test_send_spi_sequence_byte_for_byte():
    s = one()
    s.modem.trace = []
    f = frame(100)
    assert s.drv.send(f)
    s.service()
    assert s.modem.trace == [
        (b"\xc2\x00\x00\x00", b"\x00\x00\x0c\x5b"),  # WRBUF_SPC_AVA
        (b"\x41\x00\x00\x6e", None),  # BFR_SIZE = 100 + 10
        (b"\x00\x00" + b"\xaa\xaa\xaa\xaa\x64\x00\x00\x00" + bytes(f) + b"\x55\x55", None),
    ]
    assert s.modem.stats["tx_frames"] == 1 and s.drv.stats["tx_packets"] == 1


def test_receive_spi_sequence_byte_for_byte():
    s = one()
    f = frame(70, 3)
    s.modem.receive_from_medium(f)
    s.modem.trace = []
    s.service()
    assert s.got == [bytes(f)]
    t = s.modem.trace
    assert t[0] == (b"\x4d\x00\x00\x00", None)
    assert t[1] == (b"\xcc\x00\x00\x00", b"\x00\x00\x00\x01")  # PKT_AVLBL
    assert t[2] == (b"\xc3\x00\x00\x00", b"\x00\x00\x00\x54")  # RDBUF_BYTE_AVA 70+14
    assert t[3] == (b"\x41\x00\x00\x54", None)  # BFR_SIZE
    assert t[4] == (b"\x80\x00", b"\x00\x00\x00\x50\xaa\xaa\xaa\xaa\x46\x00\x00\x00")
    assert t[5] == (b"\x80\x00", bytes(f) + b"\x55\x55")
    assert t[6:] == [(b"\x4c\x00\x00\x01", None), (b"\x4d\x00\x00\x47", None)]


def test_min_and_max_sizes_both_ways():
    s = one()
    for n in (14, 59, 60, 61, 1000, 1517, 1518):
        f = frame(n, n)
        assert s.drv.send(f)
        s.service()
        out = s.sink.pop()
        assert len(out) == max(n, 60) and out[:n] == f, n
        assert out[n:] == bytes(len(out) - n)  # short frames are zero-padded
        if n >= 60:
            s.modem.receive_from_medium(f)
            s.service()
            assert s.got.pop() == f, n
    assert s.drv.stats["tx_packets"] == 7 and s.drv.stats["rx_packets"] == 5
    assert raises(PlcError, s.drv.send, s.drv.rx_view)  # 1520 bytes (no new 1.5 KB buffer)
    assert raises(PlcError, s.drv.send, bytes(13))


def test_several_frames_in_one_read_buffer():
    s = one()
    sizes = (60, 1200, 400)
    for i, n in enumerate(sizes):
        s.modem.receive_from_medium(frame(n, i))
    assert s.modem.rdbuf_avail() == sum(n + 14 for n in sizes)
    s.modem.trace = []
    s.service()
    assert len(s.got) == 3
    for i, n in enumerate(sizes):
        assert s.got[i] == frame(n, i)
    reads = [t for t in s.modem.trace if t[0] == b"\xc3\x00\x00\x00"]
    assert len(reads) == 1  # one RDBUF_BYTE_AVA for the whole batch
    assert s.modem.rdbuf_avail() == 0


def test_back_to_back_sends_in_one_pass():
    s = one(tx_slots=3)
    for i in range(3):
        assert s.drv.send(frame(300, i))
    assert s.drv.tx_pending() == 3
    assert not s.drv.send(frame(60))  # ring of 3 is full
    assert s.drv.stats["ring_full"] == 1
    s.modem.trace = []
    s.service()
    assert s.drv.tx_pending() == 0
    assert [t[0] for t in s.modem.trace].count(b"\xc2\x00\x00\x00") == 1
    assert len(s.sink) == 3
    for i in range(3):
        assert s.sink[i] == frame(300, i)


def test_zero_copy_tx_buffer_and_commit():
    s = one()
    mv = s.drv.tx_buffer()
    assert len(mv) == 1518
    f = frame(64, 8)
    mv[0:64] = f
    assert s.drv.commit(64)
    s.service()
    assert s.sink == [f]


def test_send_refused_while_link_down():
    quiet()
    s = Side(None, "down")
    assert not s.drv.link_up
    assert not s.drv.send(frame(60))
    assert s.drv.tx_buffer() is None
    assert s.drv.stats["tx_dropped"] == 2


def test_frames_both_ways_interleaved():
    med, a, b = pair()
    for i in range(10):
        assert a.drv.send(frame(60 + i, i))
        assert b.drv.send(frame(200 + i, i))
        a.service()
        b.service()
        a.service()
    assert a.got == [bytes(frame(200 + i, i)) for i in range(10)]
    assert b.got == [bytes(frame(60 + i, i)) for i in range(10)]


def test_async_bus_tasks_exchange_frames():
    quiet()

    async def main():
        big = frame(1518, 7)
        med = PlcMedium()
        a = Side(med, "evse", poll_ms=50, retry_ms=5)
        b = Side(med, "ev", poll_ms=50, retry_ms=5)
        ta = asyncio.create_task(a.drv.run())
        tb = asyncio.create_task(b.drv.run())
        try:
            for _ in range(200):
                if a.drv.link_up and b.drv.link_up:
                    break
                await clock.sleep_ms(1)
            assert a.drv.link_up and b.drv.link_up
            for i in range(5):
                # a ring of 2: wait for the bus task to make room
                while not a.drv.send(frame(100, i)):
                    await clock.sleep_ms(1)
            assert b.drv.send(big)
            for _ in range(200):
                if len(b.got) == 5 and len(a.got) == 1:
                    break
                await clock.sleep_ms(1)
            assert b.got == [frame(100, i) for i in range(5)], (len(b.got), b.drv.stats, a.drv.stats)
            assert len(a.got) == 1 and a.got[0] == big
        finally:
            ta.cancel()
            tb.cancel()
            for _ in range(3):  # let the tasks and their tickers unwind
                await asyncio.sleep(0)

    run(main())


def test_bus_task_survives_an_unexpected_error():
    quiet()

    async def main():
        s = Side(None, "x", poll_ms=20, retry_ms=2)
        boom = [1]
        real = s.modem.transfer

        def transfer(tx, rx, n=-1):
            if boom[0] and s.drv.link_up:
                boom[0] = 0
                raise MemoryError("simulated")
            return real(tx, rx, n)

        s.modem.transfer = transfer
        t = asyncio.create_task(s.drv.run())
        try:
            for _ in range(300):
                if s.drv.stats["task_err"] and s.drv.link_up:
                    break
                await clock.sleep_ms(1)
            assert s.drv.stats["task_err"] == 1 and s.drv.link_up
        finally:
            t.cancel()
            for _ in range(3):
                await asyncio.sleep(0)

    lines = []
    log.set_sink(lambda t, lvl, tag, text: lines.append(lvl))
    try:
        run(main())
    finally:
        log.set_sink(None)
    assert log.ERROR in lines
