"""Injected modem faults: the QCA7000 driver recovers and the right counter moves;
malformed frames from the modem never raise out of the driver.

One driver + modem per test (the other station is a recording Sink) keeps the heap
small enough for the 128 KB MicroPython test runs."""
from lib import clock, log
from boards.sim.qca7000 import Qca7000Model
from firmware.plc.qca7000 import SYNC_READY, SYNC_UNKNOWN
from tests.common.test_plc_support import Side, frame, one, quiet, raw_frame

_RDBUF_ERR = 0x0002


def exchange_ok(s, seed=0):
    """A frame out to the medium and one in from it."""
    f = frame(90, seed)
    assert s.drv.send(f)
    s.service()
    assert s.sink[-1] == f
    s.modem.receive_from_medium(f)
    s.service()
    assert s.got[-1] == f


def test_bad_signature_at_startup_then_soft_reset():
    quiet()
    s = Side(None, "x")
    s.modem.bad_signature = 2  # both reads after CPU-on fail
    s.drv.start()
    s.service()
    assert s.drv.sync == SYNC_UNKNOWN and s.drv.stats["sig_fail"] == 1
    s.tick()  # signature good again: soft reset through SPI_CONFIG, CPU-on, READY
    st = s.drv.stats
    assert s.drv.sync == SYNC_READY
    assert st["trig_reset"] == 1 and st["device_reset"] == 2 and st["lost_irq"] == 0
    assert s.modem.stats["resets"] == 2


def test_one_bad_signature_read_is_tolerated():
    s = one()
    s.modem.bad_signature = 1
    s.tick()
    assert s.drv.link_up and s.drv.stats["bad_signature"] == 0


def test_bad_signature_in_sync_drops_link_and_resyncs():
    s = one()
    s.modem.bad_signature = 2
    s.tick()
    assert not s.drv.link_up and s.drv.stats["bad_signature"] == 1
    s.tick()
    assert s.drv.link_up and s.drv.stats["trig_reset"] == 1
    exchange_ok(s)


def test_dead_modem_gets_reset_pin_pulses():
    s = one()
    s.modem.bad_signature = 1000
    s.tick()
    assert s.drv.stats["bad_signature"] == 1
    for _ in range(3):
        s.tick()
    assert s.drv.stats["sig_fail"] >= 3 and s.drv.stats["hw_reset"] == 2
    assert not s.drv.link_up
    s.modem.bad_signature = 0
    for _ in range(3):
        s.tick()
    assert s.drv.link_up


def test_garbage_on_intr_cause():
    s = one()
    f = frame(77)
    s.modem.receive_from_medium(f)
    s.modem.garbage_byte = 0xFF
    s.modem.garbage_skip = 1  # INTR_ENABLE = 0 is a write; the cause read is hit
    s.modem.garbage = 1
    again = s.drv.service()
    assert again and s.drv.stats["intr_cause_err"] == 1 and s.got == []
    s.service()
    assert s.got == [f] and s.drv.link_up


def test_garbage_on_read_buffer_level():
    s = one()
    f = frame(77)
    s.modem.receive_from_medium(f)
    s.modem.garbage_byte = 0xFF
    s.modem.garbage_skip = 2  # hits RDBUF_BYTE_AVA: 0xFFFF
    s.modem.garbage = 1
    assert s.drv.service()
    assert s.drv.stats["buf_avail_err"] == 1 and s.got == []
    s.service()
    assert s.got == [f]


def test_garbage_on_frame_header_loses_only_that_frame():
    s = one()
    s.modem.receive_from_medium(frame(200, 1))
    s.modem.garbage_byte = 0xFF
    s.modem.garbage_skip = 4  # ENABLE=0, CAUSE, RDBUF_BYTE_AVA, BFR_SIZE; then the header
    s.modem.garbage = 1
    s.service()
    assert s.got == [] and s.drv.stats["rx_garbage"] > 0
    assert s.modem.rdbuf_avail() == 0  # the rest of the frame was read and dropped
    f2 = frame(300, 2)
    s.modem.receive_from_medium(f2)
    s.service()
    assert s.got == [f2] and s.drv.link_up


def test_write_buffer_full_waits_for_space():
    s = one(tx_slots=3)
    s.modem.hold_tx = True  # medium busy: the modem's write buffer does not drain
    for i in range(3):
        assert s.drv.send(frame(1518, i))
    s.service()
    assert s.drv.tx_pending() == 1  # two full frames fill the 3163-byte buffer
    assert s.drv.stats["write_buf_miss"] == 0  # (counted when nothing fits at all)
    s.service()
    assert s.drv.stats["write_buf_miss"] == 1
    assert s.modem.wrbuf_space() < 1532 and s.sink == []
    s.modem.release_tx()
    assert len(s.sink) == 2
    s.service()
    assert s.drv.tx_pending() == 0 and len(s.sink) == 3
    for i in range(3):
        assert s.sink[i] == frame(1518, i)


def test_read_buffer_overflow_in_modem_drops_and_counts():
    s = one()
    for i in range(4):  # 4 x 1532 > 3163: the modem keeps two
        s.modem.receive_from_medium(frame(1518, i))
    assert s.modem.stats["rx_overflow"] == 2
    s.service()
    assert len(s.got) == 2 and s.got[0] == frame(1518, 0) and s.got[1] == frame(1518, 1)


def test_lost_interrupt_found_by_watchdog():
    s = one()
    s.modem.drop_irq = 1
    f = frame(100)
    s.modem.receive_from_medium(f)
    s.service()
    assert s.got == []
    s.tick()
    assert s.got == [f] and s.drv.stats["lost_irq"] == 1


def test_modem_reboot_in_sync():
    s = one()
    s.drv.send(frame(70, 4))  # queued before the reboot, sent after it
    s.modem.reboot()
    s.service()
    assert s.drv.link_up and s.drv.stats["device_reset"] == 2
    assert s.sink == [frame(70, 4)]
    exchange_ok(s, 5)


def test_reset_without_cpu_on_times_out():
    quiet()
    s = Side(None, "x", reset_timeout_ms=1000)
    s.modem.ignore_reset = 1
    s.drv.start()
    s.service()
    assert not s.drv.link_up
    clock.advance(1001)
    try:
        s.tick()
    finally:
        clock.advance(-1001)
    assert s.drv.stats["reset_timeout"] == 1 and s.drv.sync == SYNC_UNKNOWN
    s.tick()
    assert s.drv.link_up and s.drv.stats["trig_reset"] == 1


def test_read_buffer_error_interrupt():
    s = one()
    s.drv.send(frame(60))
    s.modem.raise_cause(_RDBUF_ERR)
    s.service()
    st = s.drv.stats
    assert st["read_buf_err"] == 1 and not s.drv.link_up and st["tx_dropped"] == 1
    assert not s.drv.send(frame(60))
    s.tick()
    assert s.drv.link_up
    exchange_ok(s)


def test_write_buffer_error_from_the_modem():
    s = one()
    # an external write with no BFR_SIZE armed: the modem raises WRBUF_ERR
    s.modem.write(bytearray(70), 70, b"\x00\x00")
    assert s.modem.stats["wr_err"] == 1
    s.service()
    assert s.drv.stats["write_buf_err"] == 1 and not s.drv.link_up
    s.tick()
    assert s.drv.link_up


def test_spi_error_resyncs():
    quiet()

    class Flaky(Qca7000Model):
        fail = 0

        def transfer(self, tx, rx, n=-1):
            if self.fail:
                self.fail -= 1
                raise OSError(5)
            return Qca7000Model.transfer(self, tx, rx, n)

    m = Flaky()
    s = Side(None, "flaky")
    s.modem = m
    s.drv.bus = m
    s.drv._irq_seen = m.irq_count
    s.up()
    m.fail = 1
    s.tick()
    assert s.drv.stats["spi_err"] == 1 and not s.drv.link_up
    s.tick()
    assert s.drv.link_up


def test_modem_discards_badly_framed_host_frames():
    quiet()
    m = Qca7000Model()
    cmd = bytearray(4)
    cmd[0], cmd[1], cmd[2], cmd[3] = 0x41, 0x00, 0x00, 70  # BFR_SIZE = 70
    m.write(cmd, 4)
    bad = bytearray(raw_frame(bytes(60))[4:])  # framed, no hardware length
    bad[0] = 0xAB
    m.write(bad, 70, b"\x00\x00")
    assert m.stats["tx_bad_frame"] == 1 and m.stats["tx_frames"] == 0
    assert m.wrbuf_space() == 0xC5B
    m.write(cmd, 4)
    m.write(bytearray(raw_frame(bytes(60))[4:]), 70, b"\x00\x00")
    assert m.stats["tx_frames"] == 1


def test_malformed_frames_never_raise():
    s = one()
    good = frame(64, 3)
    cases = [
        b"\x01\x02\x03",  # junk
        raw_frame(frame(60), eof=b"\x00\x00"),  # no tail
        raw_frame(frame(40)),  # too short
        raw_frame(frame(60), hwlen=0x1234),  # hardware length disagrees
        raw_frame(frame(60), flen=0xFFFF),  # absurd length
        raw_frame(frame(100), flen=1000)[:120],  # announced more than the buffer holds
        raw_frame(frame(60), sof=b"\xaa\xaa\xab\xaa"),
        b"\x00\x00\x00\x46\xaa\xaa",  # a header cut at the end of the buffer
        bytes(300),
    ]
    for i, bad in enumerate(cases):
        s.modem.inject_raw(bad)
        s.modem.inject_raw(raw_frame(good))
        s.service()
        assert s.got == [good], i
        s.got.clear()
    st = s.drv.stats
    assert st["rx_notail"] >= 1 and st["rx_invlen"] >= 4 and st["rx_garbage"] > 0
    assert s.drv.link_up


def test_handler_exception_is_counted():
    s = one()

    def bad_handler(buf, n):
        raise ValueError("consumer bug")

    s.drv.on_frame = bad_handler
    s.modem.receive_from_medium(frame(60))
    lines = []
    log.set_sink(lambda t, lvl, tag, text: lines.append(lvl))
    try:
        s.service()
    finally:
        log.set_sink(None)
    assert s.drv.stats["rx_handler_err"] == 1 and s.drv.link_up
    assert lines == [log.ERROR]


def test_write_verify_rewrites_a_register_read_back_wrong():
    s = one(wr_verify=2)
    f = frame(120, 6)
    s.modem.receive_from_medium(f)
    s.modem.garbage_byte = 0x12
    s.modem.garbage_skip = 1  # INTR_ENABLE = 0 is written, its read-back is hit
    s.modem.garbage = 1
    s.service()
    assert s.drv.stats["write_verify_failed"] == 1
    assert s.got == [f] and s.drv.link_up
