"""boards/esp32 and boards/stm32: create() with the fake ``machine`` and ``pyb``."""
from array import array

from tests.common import fake_machine as fm

fm.install()  # before anything imports machine or pyb

from firmware.hal import mcu  # noqa: E402
from firmware.hal import Board  # noqa: E402

mcu.set_us_clock(fm.clock.ticks_us, fm.clock.ticks_diff, fm.clock.ticks_add, fm.clock.sleep_us)


def _arrays(n):
    return array("H", [0] * n), array("H", [0] * n)


def _square(buf):
    """A 50 % CP wave at 50 kHz sampling: 25 samples at +12 V, 25 at -12 V (STM32 codes)."""
    for i in range(len(buf)):
        p = (i + 7) % 50
        buf[i] = 3723 if 1 <= p < 25 else (2048 if p == 0 or p == 25 else 373)


def test_esp32_board():
    fm.clear()
    from boards.esp32 import board, pins

    b = board.create()
    assert isinstance(b, Board) and b.name == "esp32" and b.fs_root == "/data"
    assert isinstance(b.cp, mcu.PwmPilot) and isinstance(b.meter, mcu.Sdm630Meter)
    assert b.pp is not None and b.lock is not None
    pwm = fm.pwms[0]
    assert pwm.pin.id == pins.CP_PWM and pwm.freq() == 1000 and pwm.duty == 65535
    assert fm.adcs[pins.CP_ADC].att == fm.ADC.ATTN_11DB
    assert fm.uarts[2].kw["tx"] == pins.METER_TX
    # analog inputs on ADC1 (GPIO 32..39) only: ADC2 is Wi-Fi's
    for p in (pins.CP_ADC, pins.PP_ADC):
        assert 32 <= p <= 39
    spi, cs, irq, rst = b.qca_spi()
    assert spi.id == 2 and spi.polarity == 1 and spi.phase == 1
    assert spi.kw["sck"].id == 18 and spi.kw["mosi"].id == 23 and spi.kw["miso"].id == 19
    assert cs.level == 1 and rst.level == 1 and irq.mode == fm.Pin.IN
    assert b.qca_spi()[0] is spi
    b.reboot()
    assert fm.resets == [1]
    t = board.create({"tethered": True, "cp_zero_code": 1600})
    assert t.pp is None and t.lock is None and t.cp.zero_code == 1600


def test_stm32_board():
    fm.clear()
    from boards.stm32 import board, pins

    b = board.create()
    assert isinstance(b, Board) and b.name == "stm32"
    assert isinstance(b.cp, mcu.BurstPilot)
    assert fm.pwms[0].pin.id == pins.CP_PWM
    highs, lows = _arrays(4)
    b.cp.set_duty(1000)
    assert b.cp.sample(highs, lows) == 4 and list(highs) == [2048] * 4
    fm.pyb.ADC.burst_source = _square
    try:
        b.cp.set_duty(500)
        assert b.cp.sample(highs, lows) == 4
        assert list(highs) == [3723] * 4 and list(lows) == [373] * 4
    finally:
        fm.pyb.ADC.burst_source = None
    spi, cs, irq, rst = b.qca_spi()
    assert spi.id == 4 and spi.polarity == 1 and spi.phase == 1 and cs.level == 1
    b.reboot()
    assert fm.resets == [1]
    # the pyb.Timer fallback for firmware without machine.PWM
    tp = board._TimerPwm(fm.pyb, 1, 1, "PE9", 1000)
    tp.duty_u16(65535)
    assert tp._ch.width == 84000
    tp.duty_u16(32768)
    assert tp._ch.width == 32768 * 84000 // 65535
