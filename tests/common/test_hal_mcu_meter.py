"""firmware/hal/mcu_meter.py: the SDM630 Modbus driver against a fake UART and meter."""
import struct

import micropython

from tests.common import fake_machine as fm

fm.install()  # before anything imports machine

from firmware.hal import mcu  # noqa: E402

mcu.set_us_clock(fm.clock.ticks_us, fm.clock.ticks_diff, fm.clock.ticks_add, fm.clock.sleep_us)

def test_crc16_check_value():
    assert mcu.crc16(b"123456789", 9) == 0x4B37  # the CRC-16/MODBUS check value
    assert mcu.crc16(b"\x01\x04\x00\x00\x00\x0c", 6) == 0x0FF0


def test_f32_scaled():
    buf = bytearray(4)
    for v, mul in ((230.1, 1000), (-16.25, 1000), (0.0, 1000), (11040.0, 1), (12345.678, 1000),
                   (1e-9, 1000), (99999.99, 1000), (-0.5, 1)):
        struct.pack_into(">f", buf, 0, v)
        f = struct.unpack(">f", buf)[0]
        got = mcu.f32_scaled(buf, 0, mul)
        assert abs(got - f * mul) <= 1, (v, got)
    struct.pack_into(">I", buf, 0, 0x7FC00000)  # NaN
    assert mcu.f32_scaled(buf, 0, 1) is None
    f32_scaled = mcu.f32_scaled
    crc16 = mcu.crc16
    micropython.heap_lock()
    try:
        f32_scaled(buf, 0, 1000)
        crc16(buf, 4)
    finally:
        micropython.heap_unlock()


def _answer(addr, data, crc_ok=True):
    frame = bytearray(3 + len(data) + 2)
    frame[0] = addr
    frame[1] = 4
    frame[2] = len(data)
    frame[3:3 + len(data)] = data
    crc = mcu.crc16(frame, len(frame) - 2)
    if not crc_ok:
        crc ^= 0x0100
    frame[-2] = crc & 0xFF
    frame[-1] = crc >> 8
    return bytes(frame)


def _sdm630(volts, amps, power, kwh, addr=7):
    """A responder that behaves like an SDM630 at ``addr``: input registers 0x00..0x49."""
    regs = bytearray(0x4A * 2)
    for i in range(3):
        struct.pack_into(">f", regs, 4 * i, volts[i])
        struct.pack_into(">f", regs, 12 + 4 * i, amps[i])
    struct.pack_into(">f", regs, 0x34 * 2, power)
    struct.pack_into(">f", regs, 0x48 * 2, kwh)
    log = []

    def respond(req):
        log.append(req)
        if req[0] != addr or mcu.crc16(req, 6) != req[6] | (req[7] << 8):
            return b""
        start = (req[2] << 8) | req[3]
        count = (req[4] << 8) | req[5]
        return _answer(addr, bytes(regs[2 * start:2 * (start + count)]))

    return respond, log


def _meter(addr=7):
    fm.clear()
    m = mcu.Sdm630Meter(2, tx=17, rx=16, de_pin=13, addr=addr)
    return m, fm.uarts[2], fm.pins[13]


def test_meter_frames_and_readings():
    m, uart, de = _meter()
    assert uart.baudrate == 9600 and uart.kw["tx"] == 17 and uart.kw["rx"] == 16
    respond, log = _sdm630((230.1, 231.0, 229.5), (16.0, 15.5, 0.0), 11040.0, 12345.678)
    uart.responder = respond
    assert m.update()
    assert log[0] == b"\x07\x04\x00\x00\x00\x0c" + bytes((0xF0, 0x69))
    assert log[1][:6] == b"\x07\x04\x00\x34\x00\x16"
    assert mcu.crc16(log[1], 6) == log[1][6] | (log[1][7] << 8)
    assert m.voltage_mv == [230100, 231000, 229500]
    assert m.current_ma == [16000, 15500, 0]
    assert m.power_w == 11040
    assert abs(m.energy_wh - 12345678) <= 1
    assert m.max_current_ma() == 16000
    # the RS-485 driver is on only around each request
    assert de.level == 0 and de.history == [1, 0, 1, 0]
    assert uart.flushes == 2


def test_meter_bad_answers():
    m, uart, de = _meter()
    respond, _ = _sdm630((230.0, 230.0, 230.0), (1.0, 2.0, 3.0), 690.0, 5.0)
    uart.responder = respond
    assert m.update()
    good = (list(m.voltage_mv), list(m.current_ma), m.power_w, m.energy_wh)

    def corrupt(req):
        a = bytearray(respond(req))
        a[5] ^= 0x40
        return bytes(a)

    cases = (
        ("bad crc", lambda req: _answer(7, respond(req)[3:-2], crc_ok=False), "crc_errors"),
        ("flipped bit", corrupt, "crc_errors"),
        ("short", lambda req: respond(req)[:9], "frame_errors"),
        ("silence", lambda req: b"", "timeouts"),
        ("exception", lambda req: b"\x07\x84\x02" + bytes((0xC3, 0x03)), "frame_errors"),
        ("other slave", lambda req: _answer(8, respond(req)[3:-2]), "frame_errors"),
    )
    for name, responder, counter in cases:
        before = getattr(m, counter)
        uart.responder = responder
        assert m.update() is False, name
        assert getattr(m, counter) == before + 1, name
        assert (m.voltage_mv, m.current_ma, m.power_w, m.energy_wh) == tuple(good), name

    # NaN in a register: refused as a whole
    nan_respond, _ = _sdm630((float("nan"), 230.0, 230.0), (1.0, 2.0, 3.0), 690.0, 6.0)
    uart.responder = nan_respond
    assert m.update() is False and m.energy_wh == good[3]
    # a late answer of an earlier request is flushed, the next exchange works
    uart.responder = None
    uart.feed(b"\x07\x04\x18" + b"\x00" * 20)
    uart.responder = respond
    assert m.update() and m.energy_wh == 5000


class _StaticUart:
    """A UART that answers from prepared frames without allocating (for heap_lock)."""

    def __init__(self, answers):
        self.answers = answers  # start register -> answer frame
        self.cur = None
        self.pos = 0

    def any(self):
        return 0

    def write(self, buf):
        self.cur = self.answers[buf[3]]
        self.pos = 0
        return 8

    def readinto(self, buf, n=None):
        cur = self.cur
        if n is None or n > len(buf):
            n = len(buf)
        if n > len(cur):
            n = len(cur)
        for i in range(n):
            buf[i] = cur[i]
        return n

    def flush(self):
        pass


def test_meter_update_allocates_nothing():
    fm.clear()
    respond, _ = _sdm630((230.0, 231.0, 232.0), (10.0, 11.0, 12.0), 7590.0, 42.5)
    answers = {}
    for reg, count in ((0x00, 12), (0x34, 22)):
        req = bytearray(8)
        req[0] = 7
        req[1] = 4
        req[3] = reg
        req[5] = count
        crc = mcu.crc16(req, 6)
        req[6] = crc & 0xFF
        req[7] = crc >> 8
        answers[reg] = respond(bytes(req))
    m = mcu.Sdm630Meter(2, de_pin=13, addr=7, uart=_StaticUart(answers))
    assert m.update() and m.energy_wh == 42500
    m.energy_wh = 0
    fm.record[0] = False
    micropython.heap_lock()
    try:
        ok = m.update()
    finally:
        micropython.heap_unlock()
        fm.record[0] = True
    assert ok and m.energy_wh == 42500 and m.voltage_mv == [230000, 231000, 232000]
