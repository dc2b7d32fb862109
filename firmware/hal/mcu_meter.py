"""Eastron SDM630 energy meter on Modbus RTU (see ``firmware.hal.mcu``)."""
import machine
from micropython import const

from firmware.hal import Meter, mcu

_FN_READ_INPUT = const(0x04)
_REG_VI = const(0x0000)  # L1..L3 volts, then L1..L3 amps: 6 floats
_N_VI = const(12)
_REG_PE = const(0x0034)  # total system power (W) ... 0x0048 total import (kWh)
_N_PE = const(22)
_OFF_POWER = const(3)  # data starts after addr, function, byte count
_OFF_IMPORT = const(3 + (0x0048 - 0x0034) * 2)


def crc16(buf, n):
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF) of ``buf[:n]``."""
    crc = 0xFFFF
    for i in range(n):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def f32_scaled(b, off, mul):
    """Big-endian IEEE 754 float at ``b[off]`` times ``mul`` (<= 1000), rounded to an int.

    Integer arithmetic only: ``struct.unpack_from`` would allocate a tuple and a boxed
    float per value on the MCU ports. Every intermediate stays a small int on a 32-bit
    port (below 2**30) for results below 2**30; the result is within one unit of the
    exact product. Returns None for NaN/infinity.
    """
    b0 = b[off]
    b1 = b[off + 1]
    exp = ((b0 & 0x7F) << 1) | (b1 >> 7)
    if exp == 0xFF:
        return None
    if exp == 0:
        return 0
    mant = ((b1 | 0x80) << 16) | (b[off + 2] << 8) | b[off + 3]
    sh = 150 - exp  # value == mant * 2 ** -sh
    # mant * mul needs 34 bits: split it in two 12-bit halves whose products fit in 22
    hi = (mant >> 12) * mul
    lo = (mant & 0xFFF) * mul
    if sh >= 12:
        s = sh - 12
        t = hi + (lo >> 12)  # value * mul * 2 ** s, less than one unit short
        if s > 30:
            v = 0
        elif s:
            v = (t + (1 << (s - 1))) >> s
        else:
            v = t + ((lo >> 11) & 1)
    elif sh > 0:
        v = (hi << (12 - sh)) + ((lo + (1 << (sh - 1))) >> sh)
    else:
        v = (hi << (12 - sh)) + (lo << -sh)
    return -v if b0 & 0x80 else v


class Sdm630Meter(Meter):
    """Eastron SDM630 on Modbus RTU over RS-485 (input registers, function 0x04).

    ``update()`` makes two blocking transactions (L1..L3 volts and amps; total power
    through total import kWh), checks address, function, length and CRC, and only then
    writes the readings. It returns False on a timeout, an exception response or a bad
    frame, and counts why. Buffers are allocated once; the floats are decoded with
    :func:`f32_scaled`.
    """

    def __init__(self, uart_id, tx=None, rx=None, de_pin=None, addr=1, baudrate=9600,
                 timeout_ms=200, uart=None):
        Meter.__init__(self)
        if uart is None:
            kw = {"baudrate": baudrate, "bits": 8, "parity": None, "stop": 1,
                  "timeout": timeout_ms, "timeout_char": 5}
            if tx is not None:  # STM32 UARTs have fixed pins; ESP32 routes them anywhere
                kw["tx"] = tx
                kw["rx"] = rx
            uart = machine.UART(uart_id, **kw)
        self._uart = uart
        self._flush = getattr(uart, "flush", None)
        self._de = None if de_pin is None else mcu.make_out(de_pin, 0)
        self.addr = addr
        self._char_us = 11 * 1000000 // baudrate  # start + 8 data + stop, rounded up
        self._tx = bytearray(8)
        self._rx_vi = bytearray(5 + 2 * _N_VI)
        self._rx_pe = bytearray(5 + 2 * _N_PE)
        self.timeouts = 0
        self.crc_errors = 0
        self.frame_errors = 0

    def _request(self, reg, count):
        tx = self._tx
        tx[0] = self.addr
        tx[1] = _FN_READ_INPUT
        tx[2] = reg >> 8
        tx[3] = reg & 0xFF
        tx[4] = count >> 8
        tx[5] = count & 0xFF
        crc = crc16(tx, 6)
        tx[6] = crc & 0xFF
        tx[7] = crc >> 8
        return tx

    def _transact(self, reg, count, rx):
        uart = self._uart
        while uart.any():  # stale bytes of an earlier, late answer
            uart.readinto(rx)
        tx = self._request(reg, count)
        de = self._de
        if de is not None:
            de.value(1)
        uart.write(tx)
        if de is not None:
            if self._flush is not None:
                self._flush()
            # the last stop bit must leave the shift register before the driver turns off
            mcu.sleep_us(self._char_us)
            de.value(0)
        need = 5 + 2 * count
        got = uart.readinto(rx, need)
        if not got:
            self.timeouts += 1
            return False
        if got < 5 or rx[0] != self.addr or rx[1] != _FN_READ_INPUT or got != need or rx[2] != 2 * count:
            self.frame_errors += 1  # includes exception responses (function | 0x80)
            return False
        crc = crc16(rx, need - 2)
        if rx[need - 2] != crc & 0xFF or rx[need - 1] != crc >> 8:
            self.crc_errors += 1
            return False
        return True

    def update(self):
        vi = self._rx_vi
        pe = self._rx_pe
        if not self._transact(_REG_VI, _N_VI, vi):
            return False
        if not self._transact(_REG_PE, _N_PE, pe):
            return False
        # validate everything before touching the readings
        for i in range(6):
            if f32_scaled(vi, 3 + 4 * i, 1) is None:
                self.frame_errors += 1
                return False
        power = f32_scaled(pe, _OFF_POWER, 1)
        energy = f32_scaled(pe, _OFF_IMPORT, 1000)
        if power is None or energy is None:
            self.frame_errors += 1
            return False
        for i in range(3):
            self.voltage_mv[i] = f32_scaled(vi, 3 + 4 * i, 1000)
            self.current_ma[i] = f32_scaled(vi, 15 + 4 * i, 1000)
        self.power_w = power
        self.energy_wh = energy
        return True
