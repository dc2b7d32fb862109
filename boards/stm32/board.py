"""STM32 wallbox controller (NUCLEO-F429ZI): ``firmware.hal.mcu`` parts on ``pins``.

The CP is sampled with a timer-paced ADC burst (``pyb.ADC.read_timed``), which the F4 does
in hardware time, not Python time. The PWM is ``machine.PWM`` where the firmware has it
(MicroPython 1.28+) and a ``pyb.Timer`` channel on older builds.
"""
import machine

from firmware.hal import mcu, mcu_meter, mcu_pilot
from boards.stm32 import pins


class _TimerPwm:
    """``duty_u16`` on a ``pyb.Timer`` PWM channel, for firmware without ``machine.PWM``."""

    def __init__(self, pyb, timer_id, channel, pin, freq):
        self._tim = pyb.Timer(timer_id, freq=freq)
        self._ch = self._tim.channel(channel, pyb.Timer.PWM, pin=pyb.Pin(pin), pulse_width_percent=100)
        self._top = self._tim.period() + 1

    def duty_u16(self, d):
        self._ch.pulse_width(d * self._top // 65535)


def _qca_bus():
    """The QCA7000's SPI bus and pins: (SPI, CS, INT, RESET)."""
    Pin = machine.Pin
    # SPI4's pins are fixed by the board definition; only the mode is ours
    spi = machine.SPI(pins.QCA_SPI_ID, baudrate=pins.QCA_SPI_BAUD, polarity=1, phase=1)
    cs = Pin(pins.QCA_CS, Pin.OUT, value=1)
    irq = Pin(pins.QCA_INT, Pin.IN, Pin.PULL_DOWN)
    rst = Pin(pins.QCA_RESET, Pin.OUT, value=1)
    return spi, cs, irq, rst


def create(config=None):
    """Build the board; ``config`` as for the ESP32 board."""
    import pyb

    cfg = config or {}
    freq = 1000
    pwm = None
    if not hasattr(machine, "PWM"):
        pwm = _TimerPwm(pyb, pins.CP_PWM_TIMER, pins.CP_PWM_CHANNEL, pins.CP_PWM, freq)
    adc = pyb.ADC(pyb.Pin(pins.CP_ADC))
    tim = pyb.Timer(pins.CP_BURST_TIMER, freq=pins.CP_BURST_HZ)

    def read_burst(buf):
        adc.read_timed(buf, tim)

    cp = mcu_pilot.BurstPilot(pins.CP_PWM, read_burst, cfg.get("cp_zero_code", pins.CP_ZERO_CODE),
                        cfg.get("cp_uv_per_code", pins.CP_UV_PER_CODE), freq=freq,
                        rate_hz=pins.CP_BURST_HZ, pwm=pwm)
    pp = None
    lock = None
    if not cfg.get("tethered", False):
        pp = mcu.AdcProximity(pins.PP_ADC, cfg.get("pp_pullup_ohms", pins.PP_PULLUP_OHMS))
        lock = mcu.MotorLock(pins.LOCK_A, pins.LOCK_B, pins.LOCK_FEEDBACK, pins.LOCK_PULSE_MS,
                             locked_level=pins.LOCK_LOCKED_LEVEL, feedback_pull=machine.Pin.PULL_UP,
                             timer_id=pins.TIMER_LOCK)
    contactor = mcu.GpioContactor(pins.CONTACTOR_COIL, pins.CONTACTOR_MIRROR,
                                  pins.CONTACTOR_MIRROR_CLOSED, mirror_pull=machine.Pin.PULL_UP)
    rcd = mcu.GpioRcd(pins.RCD_FAULT, pins.RCD_TEST, pins.RCD_FAULT_LEVEL,
                      fault_pull=machine.Pin.PULL_UP)
    meter = mcu_meter.Sdm630Meter(pins.METER_UART, de_pin=pins.METER_DE,
                            addr=cfg.get("meter_addr", pins.METER_ADDR), baudrate=pins.METER_BAUD)
    led = mcu.GpioLed(pins.LED, timer_id=pins.TIMER_LED)
    return mcu.McuBoard("stm32", _qca_bus, cp, pp, contactor, rcd, lock, meter, led, "/flash/data")
