"""ESP32 wallbox controller: the HAL parts of ``firmware.hal.mcu`` on the pins of ``pins``."""
import machine

from firmware.hal import mcu, mcu_meter, mcu_pilot
from boards.esp32 import pins


def _qca_bus():
    """The QCA7000's SPI bus and pins: (SPI, CS, INT, RESET)."""
    Pin = machine.Pin
    spi = machine.SPI(pins.QCA_SPI_ID, baudrate=pins.QCA_SPI_BAUD, polarity=1, phase=1,
                      sck=Pin(pins.QCA_SCK), mosi=Pin(pins.QCA_MOSI), miso=Pin(pins.QCA_MISO))
    cs = Pin(pins.QCA_CS, Pin.OUT, value=1)
    irq = Pin(pins.QCA_INT, Pin.IN)
    rst = Pin(pins.QCA_RESET, Pin.OUT, value=1)
    return spi, cs, irq, rst


def create(config=None):
    """Build the board. ``config`` may override the calibration (``cp_zero_code``,
    ``cp_uv_per_code``, ``pp_pullup_ohms``), ``meter_addr``, and ``tethered`` (a fixed
    cable: no PP and no lock)."""
    cfg = config or {}
    atten = machine.ADC.ATTN_11DB
    cp = mcu_pilot.PwmPilot(pins.CP_PWM, pins.CP_ADC, cfg.get("cp_zero_code", pins.CP_ZERO_CODE),
                      cfg.get("cp_uv_per_code", pins.CP_UV_PER_CODE), adc_atten=atten)
    tethered = cfg.get("tethered", False)
    pp = None
    lock = None
    if not tethered:
        pp = mcu.AdcProximity(pins.PP_ADC, cfg.get("pp_pullup_ohms", pins.PP_PULLUP_OHMS),
                              adc_atten=atten)
        lock = mcu.MotorLock(pins.LOCK_A, pins.LOCK_B, pins.LOCK_FEEDBACK, pins.LOCK_PULSE_MS,
                             locked_level=pins.LOCK_LOCKED_LEVEL, timer_id=pins.TIMER_LOCK)
    contactor = mcu.GpioContactor(pins.CONTACTOR_COIL, pins.CONTACTOR_MIRROR,
                                  pins.CONTACTOR_MIRROR_CLOSED)
    rcd = mcu.GpioRcd(pins.RCD_FAULT, pins.RCD_TEST, pins.RCD_FAULT_LEVEL,
                      fault_pull=machine.Pin.PULL_UP)
    meter = mcu_meter.Sdm630Meter(pins.METER_UART, pins.METER_TX, pins.METER_RX, pins.METER_DE,
                            cfg.get("meter_addr", pins.METER_ADDR), pins.METER_BAUD)
    led = mcu.GpioLed(pins.LED, timer_id=pins.TIMER_LED)
    return mcu.McuBoard("esp32", _qca_bus, cp, pp, contactor, rcd, lock, meter, led, "/data")
