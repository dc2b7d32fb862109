"""Register-level model of a QCA7000 PLC modem behind its SPI bus (simulated board).

The model implements ``firmware.hal.spi.QcaBus``: the driver talks to it with the same
command words, registers and framing as to a chip, one chip-select frame per call.
Its constants are written out here from the public documentation on purpose, not
imported from the driver, so a wrong number on either side shows up in the tests.

Behaviour modelled:

- Command word: bit 15 read, bit 14 internal; internal accesses carry a 16-bit value,
  external ones move packet-buffer bytes (count armed by BFR_SIZE, which one or more
  external transfers consume).
- Write buffer (0xC5B bytes): a frame costs its framed length + 4. A complete frame
  with bad framing (start marker, length, reserved bytes, end marker) is discarded
  and counted; a write that does not fit, has no BFR_SIZE armed or overruns it raises
  WRBUF_ERR. Good frames go to the PLC medium unless ``hold_tx`` (medium busy).
- Read buffer: each frame from the medium is stored as 4-byte big-endian framed
  length + framing; RDBUF_BYTE_AVA counts it all. Frames that do not fit are dropped
  (``stats["rx_overflow"]``). Reading more than available or armed raises RDBUF_ERR.
- Interrupts: INTR_CAUSE bits are acknowledged by writing them back (write 1 to
  clear); PKT_AVLBL comes back while the read buffer is not empty. The INT line is
  high while ``cause & enable`` is non-zero; CPU-on drives it regardless of the
  enable mask (the driver cannot have enabled anything in a modem that just booted).
  A rising edge calls the bus's IRQ handler.
- Reset (reset pin or the SPI_CONFIG slave-reset bit): buffers and registers cleared,
  then CPU-on.

Fault injection (attributes, counts are decremented as used): ``bad_signature``
(signature reads answer 0x0000), ``garbage`` (transactions whose MISO bytes are
pseudo-random), ``hold_tx`` (write buffer not drained: fills up), ``drop_irq`` (rising
edges not delivered), ``ignore_reset`` (resets without effect), ``inject_raw()``
(arbitrary bytes into the read buffer), ``raise_cause()``, ``reboot()``.

``zero_alloc = True`` copies buffer bytes one by one so the model can sit inside a
heap-locked test; otherwise it uses slice copies.
"""
from micropython import const

from firmware.hal.spi import QcaBus

_READ = const(0x8000)
_INTERNAL = const(0x4000)

_BFR_SIZE = const(0x0100)
_WRBUF_SPC_AVA = const(0x0200)
_RDBUF_BYTE_AVA = const(0x0300)
_SPI_CONFIG = const(0x0400)
_SPI_STATUS = const(0x0500)
_INTR_CAUSE = const(0x0C00)
_INTR_ENABLE = const(0x0D00)
_RDBUF_WATERMARK = const(0x1200)
_WRBUF_WATERMARK = const(0x1300)
_SIGNATURE = const(0x1A00)
_ACTION_CTRL = const(0x1B00)

_SIG = const(0xAA55)
_BUF_LEN = const(0xC5B)
_SLAVE_RESET = const(0x0040)

_CPU_ON = const(0x0040)
_ADDR_ERR = const(0x0008)
_WRBUF_ERR = const(0x0004)
_RDBUF_ERR = const(0x0002)
_PKT_AVLBL = const(0x0001)

_MIN_FRAME = const(60)
_MAX_FRAME = const(1518)


class Qca7000Model(QcaBus):
    """A QCA7000 on the simulated board; ``medium`` (a PlcMedium) is optional."""

    def __init__(self, medium=None, name="qca"):
        super().__init__()
        self.name = name
        self.medium = None
        self.rdbuf = bytearray(_BUF_LEN)
        self.wrbuf = bytearray(_BUF_LEN)
        self._rdmv = memoryview(self.rdbuf)
        self._wrmv = memoryview(self.wrbuf)
        self.zero_alloc = False
        self.trace = None  # a list to record (mosi, miso) bytes per transaction
        self.on_host_frame = None  # hook: f(frame) -> True if the modem consumed it
        # faults
        self.bad_signature = 0
        self.garbage = 0
        self.garbage_skip = 0  # transactions left alone before ``garbage`` starts
        self.garbage_byte = -1  # >= 0: that byte instead of pseudo-random ones
        self.hold_tx = False
        self.drop_irq = 0
        self.ignore_reset = 0
        self._lcg = 12345
        self.stats = {
            "resets": 0,
            "irq_edges": 0,
            "irq_dropped": 0,
            "tx_frames": 0,
            "tx_bad_frame": 0,
            "wr_err": 0,
            "rd_err": 0,
            "addr_err": 0,
            "rx_frames": 0,
            "rx_overflow": 0,
        }
        self.line = False
        self._clear()
        self.intr_cause = _CPU_ON  # powered up and booted
        self._update_line()
        if medium is not None:
            medium.attach(self)

    # -- state ---------------------------------------------------------------------

    def _clear(self):
        self.spi_config = 0
        self.intr_cause = 0
        self.intr_enable = 0
        self.rd_wm = 0
        self.wr_wm = 0
        self.action_ctrl = 0
        self.bfr_size = 0
        self._bfr_left = 0
        self._rd_head = 0
        self._rd_len = 0
        self._wr_used = 0  # committed (held) frames, each 4 + framed length
        self._wr_pos = -1  # bytes of the frame being written; -1: none
        self._wr_total = 0
        self._update_line()

    def _reset(self):
        if self.ignore_reset:
            self.ignore_reset -= 1
            return
        self.stats["resets"] += 1
        self.line = False
        self._clear()
        self.intr_cause = _CPU_ON
        self._update_line()

    def reset_pulse(self):
        self._reset()

    def reboot(self):
        """Spontaneous modem restart (watchdog, brown-out): CPU-on without a request."""
        self._reset()

    def raise_cause(self, bits):
        self.intr_cause |= bits
        self._update_line()

    def _update_line(self):
        level = bool(self.intr_cause & (self.intr_enable | _CPU_ON))
        if level and not self.line:
            self.stats["irq_edges"] += 1
            if self.drop_irq:
                self.drop_irq -= 1
                self.stats["irq_dropped"] += 1
            else:
                self._irq()
        self.line = level

    def wrbuf_space(self):
        return _BUF_LEN - self._wr_used

    def rdbuf_avail(self):
        return self._rd_len

    # -- the medium side -----------------------------------------------------------

    def receive_from_medium(self, frame):
        """A frame from the PLC network: into the read buffer, or dropped if full."""
        n = len(frame)
        if n < 14 or n > _MAX_FRAME:
            return
        need = 14 + n
        if self._rd_len + need > _BUF_LEN:
            self.stats["rx_overflow"] += 1
            return
        hdr = bytearray(12)
        hdr[2] = (n + 10) >> 8
        hdr[3] = (n + 10) & 0xFF
        hdr[4] = hdr[5] = hdr[6] = hdr[7] = 0xAA
        hdr[8] = n & 0xFF
        hdr[9] = n >> 8
        self._rd_append(hdr)
        self._rd_append(frame)
        self._rd_append(b"\x55\x55")
        self.stats["rx_frames"] += 1
        self.intr_cause |= _PKT_AVLBL
        self._update_line()

    def inject_raw(self, data):
        """Put arbitrary bytes into the read buffer (malformed-frame tests)."""
        if self._rd_len + len(data) > _BUF_LEN:
            self.stats["rx_overflow"] += 1
            return
        self._rd_append(data)
        self.intr_cause |= _PKT_AVLBL
        self._update_line()

    def _rd_append(self, data):
        n = len(data)
        end = self._rd_head + self._rd_len
        if end + n > _BUF_LEN:
            # compact: the unread bytes move to the front
            self.rdbuf[0 : self._rd_len] = bytes(self._rdmv[self._rd_head : end])
            self._rd_head = 0
            end = self._rd_len
        self.rdbuf[end : end + n] = data
        self._rd_len += n

    def release_tx(self):
        """The medium is free again: send the frames held in the write buffer."""
        self.hold_tx = False
        self._drain_tx()

    def _drain_tx(self):
        wr = self.wrbuf
        pos = 0
        while pos < self._wr_used:
            flen = (wr[pos + 2] << 8) | wr[pos + 3]
            self._emit(pos + 4 + 8, flen - 10)
            pos += 4 + flen
        self._wr_used = 0

    def _emit(self, off, n):
        self.stats["tx_frames"] += 1
        if self.medium is None and self.on_host_frame is None:
            return
        frame = bytes(self._wrmv[off : off + n])
        hook = self.on_host_frame
        if hook is not None and hook(frame):
            return
        if self.medium is not None:
            self.medium.transmit(self, frame)

    # -- SPI -----------------------------------------------------------------------

    def _noise(self):
        self._lcg = (self._lcg * 1103 + 12347) & 0xFFFF
        return (self._lcg >> 4) & 0xFF

    def transfer(self, tx, rx, n=-1):
        if n < 0:
            n = len(tx)
        # MISO during the command word: zeros
        if n > 0:
            rx[0] = 0
        if n > 1:
            rx[1] = 0
            self._command((tx[0] << 8) | tx[1], tx, 2, rx, 2, n - 2, 0)
        self._miso_fault(rx, n)
        if self.trace is not None:
            self.trace.append((bytes(tx[:n]), bytes(rx[:n])))

    def write(self, buf, n=-1, head=None):
        if n < 0:
            n = len(buf)
        if head is not None:
            self._command((head[0] << 8) | head[1], buf, 0, None, 0, n, 0)
        elif n >= 2:
            self._command((buf[0] << 8) | buf[1], buf, 2, None, 0, n - 2, 0)
        self._miso_fault(None, 0)
        if self.trace is not None:
            mosi = bytes(head) if head is not None else b""
            self.trace.append((mosi + bytes(buf[:n]), None))

    def readinto(self, buf, n=-1, head=None, fill=0):
        if n < 0:
            n = len(buf)
        if head is not None:
            self._command((head[0] << 8) | head[1], None, 0, buf, 0, n, fill)
        else:
            # Without a command word the first two fill bytes are the command.
            j = 0
            while j < n and j < 2:
                buf[j] = 0
                j += 1
            if n >= 2:
                self._command((fill << 8) | fill, None, 0, buf, 2, n - 2, fill)
        self._miso_fault(buf, n)
        if self.trace is not None:
            mosi = bytes(head) if head is not None else b""
            self.trace.append((mosi, bytes(buf[:n])))

    def _miso_fault(self, rx, n):
        if self.garbage:
            if self.garbage_skip:
                self.garbage_skip -= 1
                return
            self.garbage -= 1
            if rx is not None:
                j = 0
                g = self.garbage_byte
                while j < n:
                    rx[j] = g if g >= 0 else self._noise()
                    j += 1

    def _command(self, cmd, mosi, moff, miso, roff, k, fill):
        if cmd & _INTERNAL:
            reg = cmd & 0x3F00
            if cmd & _READ:
                val = self._reg_read(reg)
                if miso is not None:
                    j = 0
                    while j < k:
                        miso[roff + j] = (val >> 8) if j == 0 else (val & 0xFF) if j == 1 else 0
                        j += 1
            elif k >= 2:
                if mosi is not None:
                    val = (mosi[moff] << 8) | mosi[moff + 1]
                else:
                    val = (fill << 8) | fill
                self._reg_write(reg, val)
        elif cmd & _READ:
            self._ext_read(miso, roff, k)
        else:
            self._ext_write(mosi, moff, k, fill)

    def _reg_read(self, reg):
        if reg == _SIGNATURE:
            if self.bad_signature:
                self.bad_signature -= 1
                return 0
            return _SIG
        if reg == _RDBUF_BYTE_AVA:
            return self._rd_len
        if reg == _WRBUF_SPC_AVA:
            return _BUF_LEN - self._wr_used
        if reg == _INTR_CAUSE:
            return self.intr_cause
        if reg == _INTR_ENABLE:
            return self.intr_enable
        if reg == _BFR_SIZE:
            return self.bfr_size
        if reg == _SPI_CONFIG:
            return self.spi_config
        if reg == _SPI_STATUS:
            return 0
        if reg == _RDBUF_WATERMARK:
            return self.rd_wm
        if reg == _WRBUF_WATERMARK:
            return self.wr_wm
        if reg == _ACTION_CTRL:
            return self.action_ctrl
        self._addr_err()
        return 0

    def _reg_write(self, reg, val):
        if reg == _INTR_ENABLE:
            self.intr_enable = val
        elif reg == _INTR_CAUSE:
            self.intr_cause &= ~val
            if self._rd_len:
                self.intr_cause |= _PKT_AVLBL
        elif reg == _BFR_SIZE:
            if self._wr_pos >= 0:
                self._wr_pos = -1  # a frame left half written is dropped
                self.stats["tx_bad_frame"] += 1
            self.bfr_size = val
            self._bfr_left = val
        elif reg == _SPI_CONFIG:
            if val & _SLAVE_RESET:
                self._reset()
                return
            self.spi_config = val
        elif reg == _RDBUF_WATERMARK:
            self.rd_wm = val
        elif reg == _WRBUF_WATERMARK:
            self.wr_wm = val
        elif reg == _ACTION_CTRL:
            self.action_ctrl = val
        else:
            self._addr_err()
            return
        self._update_line()

    def _addr_err(self):
        self.stats["addr_err"] += 1
        self.intr_cause |= _ADDR_ERR
        self._update_line()

    def _rd_err(self):
        self.stats["rd_err"] += 1
        self.intr_cause |= _RDBUF_ERR
        self._update_line()

    def _wr_err(self):
        self.stats["wr_err"] += 1
        self._wr_pos = -1
        self._bfr_left = 0
        self.intr_cause |= _WRBUF_ERR
        self._update_line()

    def _copy(self, dst, doff, src, soff, k):
        if self.zero_alloc:
            j = 0
            while j < k:
                dst[doff + j] = src[soff + j]
                j += 1
        else:
            memoryview(dst)[doff : doff + k] = memoryview(src)[soff : soff + k]

    def _ext_read(self, miso, roff, k):
        ok = k
        if ok > self._bfr_left:
            ok = self._bfr_left
        if ok > self._rd_len:
            ok = self._rd_len
        if ok and miso is not None:
            self._copy(miso, roff, self.rdbuf, self._rd_head, ok)
        self._rd_head += ok
        self._rd_len -= ok
        self._bfr_left -= ok
        if self._rd_len == 0:
            self._rd_head = 0
        if ok < k:
            if miso is not None:
                j = ok
                while j < k:
                    miso[roff + j] = 0
                    j += 1
            self._rd_err()

    def _ext_write(self, mosi, moff, k, fill):
        if k == 0:
            return
        if self._wr_pos < 0:
            total = self._bfr_left
            if total == 0 or self._wr_used + 4 + total > _BUF_LEN:
                self._wr_err()
                return
            self._wr_pos = 0
            self._wr_total = total
        ok = k
        if ok > self._bfr_left:
            ok = self._bfr_left
        base = self._wr_used + 4 + self._wr_pos
        if mosi is not None:
            self._copy(self.wrbuf, base, mosi, moff, ok)
        else:
            j = 0
            while j < ok:
                self.wrbuf[base + j] = fill
                j += 1
        self._wr_pos += ok
        self._bfr_left -= ok
        if self._bfr_left == 0:
            self._commit()
        if ok < k:
            self._wr_err()

    def _commit(self):
        total = self._wr_total
        self._wr_pos = -1
        base = self._wr_used
        wr = self.wrbuf
        f = base + 4
        n = (wr[f + 4] | (wr[f + 5] << 8)) if total >= 10 + _MIN_FRAME else 0
        if (
            n == 0
            or wr[f] != 0xAA
            or wr[f + 1] != 0xAA
            or wr[f + 2] != 0xAA
            or wr[f + 3] != 0xAA
            or wr[f + 6] != 0
            or wr[f + 7] != 0
            or n + 10 != total
            or n < _MIN_FRAME
            or n > _MAX_FRAME
            or wr[f + 8 + n] != 0x55
            or wr[f + 9 + n] != 0x55
        ):
            self.stats["tx_bad_frame"] += 1
            return
        wr[base] = 0
        wr[base + 1] = 0
        wr[base + 2] = total >> 8
        wr[base + 3] = total & 0xFF
        self._wr_used += 4 + total
        if not self.hold_tx:
            self._drain_tx()
