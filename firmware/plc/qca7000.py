"""QCA7000 HomePlug Green PHY modem over SPI: the link below SLAC and IPv6.

Protocol (public: the Linux qca_spi driver, the vendor's application notes):

- Every SPI chip-select frame starts with a 16-bit big-endian command word: bit 15
  read, bit 14 internal (a register, the 16-bit value follows) or external (the
  modem's packet buffers; the byte count was set in BFR_SIZE beforehand).
- Receive: read RDBUF_BYTE_AVA, write it to BFR_SIZE, then external reads. The read
  buffer holds each frame as hardware length + framing (see ``framing``).
- Transmit: read WRBUF_SPC_AVA, and while a queued frame (+ 4 bytes) fits, write its
  framed length to BFR_SIZE and the framed bytes with an external write.
- Interrupt handling: INTR_ENABLE = 0, read INTR_CAUSE, act, write the cause back to
  acknowledge it, INTR_ENABLE = our mask.

Sync FSM (UNKNOWN -> RESET -> READY): start() pulses the reset pin; the modem reports
CPU-on when booted; the signature (0xAA55) is read twice and the write buffer must be
empty before the link is READY. A bad signature, a read/write-buffer error or an SPI
error drops to UNKNOWN (carrier off, queued frames dropped); UNKNOWN soft-resets a
modem that still answers with the signature (SPI_CONFIG slave-reset bit) and pulses
the reset pin after repeated failures; RESET falls back to UNKNOWN after
``reset_timeout_ms`` without CPU-on. Values read from the modem are bounded before
use; every error class has a counter in ``stats``.

Concurrency: one task (``run()``) owns the bus. The INT pin's handler only counts and
sets the bus's ThreadSafeFlag; ``send()`` sets it too; a slow ticker (``poll_ms``)
sets it so that a lost interrupt or a silently rebooted modem is noticed.

API for the layers above (chosen for zero allocation in an asyncio firmware):

- Receive: ``on_frame(buf, n)`` is called from the bus task for each good frame;
  the frame is ``buf[0:n]`` (``buf`` is the driver's RX memoryview, valid only during
  the call). The callback must not block; it parses in place or copies what it keeps.
  Exceptions it raises are counted (``rx_handler_err``), never propagated.
- Transmit, zero copy: ``mv = tx_buffer()`` (payload area of a free TX slot, or None),
  write the Ethernet frame into ``mv``, then ``commit(n)``. Copying: ``send(frame)``
  queues a whole bytes-like object. Frames shorter than 60 bytes are zero-padded.
  Both return False (and count) when the ring is full or the link is down.

The synchronous ``service()`` is the whole per-interrupt work and allocates nothing
on MicroPython; the task around it only awaits the flag.
"""
from micropython import const
import asyncio
import struct

from lib import clock, log
from firmware.plc.framing import (
    FrameDecoder,
    HW_PKT_LEN,
    MAX_LEN,
    MIN_LEN,
    OVERHEAD,
    ST_DATA,
    write_footer,
    write_header,
)

_TAG = "qca"

_CMD_READ = const(0x8000)
_CMD_INTERNAL = const(0x4000)

_REG_BFR_SIZE = const(0x0100)
_REG_WRBUF_SPC_AVA = const(0x0200)
_REG_RDBUF_BYTE_AVA = const(0x0300)
_REG_SPI_CONFIG = const(0x0400)
_REG_INTR_CAUSE = const(0x0C00)
_REG_INTR_ENABLE = const(0x0D00)
_REG_SIGNATURE = const(0x1A00)

_GOOD_SIGNATURE = const(0xAA55)
_HW_BUF_LEN = const(0xC5B)  # both packet buffers, bytes
_SLAVE_RESET = const(0x0040)  # SPI_CONFIG

_INT_WRBUF_BELOW_WM = const(0x0400)
_INT_CPU_ON = const(0x0040)
_INT_ADDR_ERR = const(0x0008)
_INT_WRBUF_ERR = const(0x0004)
_INT_RDBUF_ERR = const(0x0002)
_INT_PKT_AVLBL = const(0x0001)
_INT_KNOWN = const(0x044F)
_INT_MASK = const(0x0047)  # CPU_ON | WRBUF_ERR | RDBUF_ERR | PKT_AVLBL

_SLOT_LEN = const(1528)  # SOF 8 + MAX_LEN + EOF 2
_HW_RESET_AFTER = const(3)  # failed signature reads in UNKNOWN before pulsing RESET
_TX_RETRY_MS = const(2)  # modem write buffer full: look again after this
_MAX_SPINS = const(3)  # immediate re-runs of service() before waiting again

SYNC_UNKNOWN = const(0)
SYNC_RESET = const(1)
SYNC_READY = const(2)

_EXT_READ = b"\x80\x00"
_EXT_WRITE = b"\x00\x00"

STAT_NAMES = (
    "irqs",  # wake-ups with a new interrupt edge
    "lost_irq",  # cause pending, found by the ticker without an edge
    "intr_cause_err",  # INTR_CAUSE with undefined bits (interference): ignored
    "addr_err",  # the modem flagged an access to an undefined address
    "hw_reset",  # reset pin pulses
    "trig_reset",  # soft resets through SPI_CONFIG
    "device_reset",  # CPU-on seen (boots of the modem)
    "reset_timeout",  # no CPU-on after a reset
    "sig_fail",  # bad signature while not in sync (retried)
    "bad_signature",  # bad signature while in sync: sync lost
    "wrbuf_not_empty",  # CPU-on with a non-empty write buffer
    "read_buf_err",  # RDBUF_ERR interrupt
    "write_buf_err",  # WRBUF_ERR interrupt
    "spi_err",  # the bus raised OSError
    "write_verify_failed",  # register read back differently (wr_verify > 0)
    "buf_avail_err",  # RDBUF_BYTE_AVA / WRBUF_SPC_AVA out of bounds (interference)
    "write_buf_miss",  # a frame waited for space in the modem's write buffer
    "ring_full",  # send refused: TX ring full
    "tx_dropped",  # send refused or queued frame flushed: link down
    "tx_packets",
    "tx_bytes",
    "rx_packets",
    "rx_bytes",
    "rx_dropped",  # good frame without receiver, or cut off by a modem reset
    "rx_garbage",  # bytes skipped while hunting for a frame header
    "rx_invlen",  # frame length out of bounds or inconsistent
    "rx_notail",  # missing 55 55 end marker
    "rx_handler_err",  # the on_frame callback raised
    "task_err",  # service() raised something other than OSError (bus task survived)
)


class PlcError(ValueError):
    """Misuse of the driver API (frame length out of bounds)."""


class Qca7000:
    """QCA7000 driver over a ``firmware.hal.spi.QcaBus``.

    ``tx_slots`` preallocated TX slots (1528 bytes each) queue frames for the bus task;
    two full-size frames fill the modem's write buffer, so 2-4 is plenty.
    ``wr_verify`` (0-3, as the Linux module parameter) reads INTR_ENABLE and BFR_SIZE
    back after writing them and rewrites them on a mismatch.
    """

    def __init__(
        self,
        bus,
        on_frame=None,
        tx_slots=3,
        poll_ms=1000,
        retry_ms=100,
        reset_timeout_ms=5000,
        name="qca",
        wr_verify=0,
    ):
        self.name = name
        self.wr_verify = wr_verify
        self.log_sync = True  # log sync state changes (tests with many resets turn it off)
        self.bus = bus
        self.on_frame = on_frame
        self.poll_ms = poll_ms
        self.retry_ms = retry_ms
        self.reset_timeout_ms = reset_timeout_ms
        self._rtx = bytearray(4)
        self._rrx = bytearray(4)
        self._hdr = bytearray(12)
        self._rx = bytearray(MAX_LEN + 2)
        self.rx_view = memoryview(self._rx)
        self._dec = FrameDecoder(MAX_LEN)
        self._slots = []
        self._payload = []
        for _ in range(tx_slots):
            s = bytearray(_SLOT_LEN)
            self._slots.append(s)
            self._payload.append(memoryview(s)[8 : 8 + MAX_LEN])
        self._lens = [0] * tx_slots
        self._nslots = tx_slots
        self._head = 0
        self._count = 0
        self.sync = SYNC_UNKNOWN
        self._t_reset = 0
        self._sig_fails = 0
        self._irq_seen = bus.irq_count
        self._poll_due = False
        self._again = False
        self._tx_blocked = False
        self.stats = {}
        for name in STAT_NAMES:
            self.stats[name] = 0

    # -- registers ---------------------------------------------------------------

    def _read_reg(self, reg):
        tx = self._rtx
        rx = self._rrx
        struct.pack_into(">HH", tx, 0, _CMD_READ | _CMD_INTERNAL | reg, 0)
        self.bus.transfer(tx, rx, 4)
        return (rx[2] << 8) | rx[3]

    def _write_reg(self, reg, value):
        tx = self._rtx
        struct.pack_into(">HH", tx, 0, _CMD_INTERNAL | reg, value)
        self.bus.write(tx, 4)

    def _write_reg_v(self, reg, value):
        # wr_verify > 0: read back and rewrite up to that many times (noisy wiring)
        self._write_reg(reg, value)
        i = 0
        while i < self.wr_verify:
            if self._read_reg(reg) == value:
                return
            self.stats["write_verify_failed"] += 1
            self._write_reg(reg, value)
            i += 1

    # -- public ------------------------------------------------------------------

    @property
    def link_up(self):
        """True while the modem is in sync (frames are accepted and delivered)."""
        return self.sync == SYNC_READY

    def start(self):
        """Pulse the modem's reset; it reports CPU-on when it has booted."""
        self._hw_reset()

    def poll(self):
        """Ask the next service() for a watchdog pass (the ticker does this)."""
        self._poll_due = True
        self.bus.flag.set()

    def tx_buffer(self):
        """Payload area (memoryview, MAX_LEN bytes) of the next free TX slot, or None."""
        st = self.stats
        if self.sync != SYNC_READY:
            st["tx_dropped"] += 1
            return None
        if self._count == self._nslots:
            st["ring_full"] += 1
            return None
        i = self._head + self._count
        if i >= self._nslots:
            i -= self._nslots
        return self._payload[i]

    def commit(self, n):
        """Queue the n-byte frame written into the view tx_buffer() returned."""
        if n < 14 or n > MAX_LEN:
            raise PlcError("frame length")
        if self._count == self._nslots or self.sync != SYNC_READY:
            self.stats["tx_dropped"] += 1
            return False
        i = self._head + self._count
        if i >= self._nslots:
            i -= self._nslots
        slot = self._slots[i]
        if n < MIN_LEN:
            j = 8 + n
            while j < 8 + MIN_LEN:
                slot[j] = 0
                j += 1
            n = MIN_LEN
        write_header(slot, n)
        write_footer(slot, 8 + n)
        self._lens[i] = n + OVERHEAD
        self._count += 1
        self.bus.flag.set()
        return True

    def send(self, frame):
        """Queue a copy of ``frame`` (all of it). False if it cannot be queued now."""
        n = len(frame)
        if n < 14 or n > MAX_LEN:
            raise PlcError("frame length")
        mv = self.tx_buffer()
        if mv is None:
            return False
        mv[0:n] = frame
        return self.commit(n)

    def tx_pending(self):
        return self._count

    # -- the bus task --------------------------------------------------------------

    async def run(self):
        """Own the bus until cancelled: start the modem, then serve interrupts and TX.
        Cancelling it drops the link and masks the modem's interrupts."""
        self.start()
        ticker = asyncio.create_task(self._ticker())
        spins = 0
        try:
            while True:
                try:
                    again = self.service()
                except Exception as e:  # MemoryError, a bug below: keep the bus task alive
                    self.stats["task_err"] += 1
                    log.error(_TAG, "%s: service failed: %r", self.name, e)
                    self._lose_sync()
                    await clock.sleep_ms(self.retry_ms)
                    continue
                if again and spins < _MAX_SPINS:
                    spins += 1
                    await clock.sleep_ms(0)
                    continue
                spins = 0
                if self._tx_blocked and self.sync == SYNC_READY:
                    await clock.sleep_ms(_TX_RETRY_MS)
                else:
                    await self.bus.flag.wait()
        finally:
            ticker.cancel()
            self._set_sync(SYNC_UNKNOWN)
            self._flush_tx()
            try:
                self._write_reg(_REG_INTR_ENABLE, 0)  # leave the modem quiet
            except OSError:
                pass

    async def _ticker(self):
        while True:
            await clock.sleep_ms(self.poll_ms if self.sync == SYNC_READY else self.retry_ms)
            self.poll()

    def service(self):
        """One pass of the bus owner (what the Linux driver's SPI thread does per wake-up).
        Returns True when another pass should follow at once."""
        self._again = False
        try:
            self._service()
        except OSError:
            self.stats["spi_err"] += 1
            self._lose_sync()
        return self._again

    def _service(self):
        st = self.stats
        cnt = self.bus.irq_count
        irq = cnt != self._irq_seen
        self._irq_seen = cnt
        poll = self._poll_due
        self._poll_due = False
        if irq:
            st["irqs"] += 1

        if poll or (irq and self.sync != SYNC_READY):
            self._sync_update()
            if self.sync != SYNC_READY:
                self._flush_tx()

        cnt = self.bus.irq_count
        if cnt != self._irq_seen:  # raised during the sync pass (a reset we requested)
            self._irq_seen = cnt
            irq = True
        if irq or (poll and self.sync != SYNC_UNKNOWN):
            self._write_reg_v(_REG_INTR_ENABLE, 0)
            cause = self._read_reg(_REG_INTR_CAUSE)
            if cause & ~_INT_KNOWN:
                # Interference on MISO: act on nothing, look again soon.
                st["intr_cause_err"] += 1
                self._write_reg_v(_REG_INTR_ENABLE, _INT_MASK)
                self._poll_due = True
                self._again = True
                return
            if not irq and cause & (_INT_MASK | _INT_CPU_ON):
                st["lost_irq"] += 1
            if cause & _INT_CPU_ON:
                self._sync_cpu_on()
                if self._dec.reset():
                    st["rx_dropped"] += 1
                st["device_reset"] += 1
                if self.sync != SYNC_READY:
                    return
            if cause & _INT_RDBUF_ERR:
                st["read_buf_err"] += 1
                self._lose_sync()
                return
            if cause & _INT_WRBUF_ERR:
                st["write_buf_err"] += 1
                self._lose_sync()
                return
            if cause & _INT_ADDR_ERR:
                st["addr_err"] += 1
            if self.sync == SYNC_READY and cause & _INT_PKT_AVLBL:
                self._receive()
            self._write_reg(_REG_INTR_CAUSE, cause)
            self._write_reg_v(_REG_INTR_ENABLE, _INT_MASK)

        if self.sync == SYNC_READY and self._count:
            self._transmit()

    # -- sync FSM ------------------------------------------------------------------

    def _set_sync(self, state):
        if state != self.sync:
            self.sync = state
            if self.log_sync:
                log.info(_TAG, "%s: sync %s", self.name, ("UNKNOWN", "RESET", "READY")[state])

    def _hw_reset(self):
        self.stats["hw_reset"] += 1
        self.bus.reset_pulse()
        self._enter_reset()

    def _enter_reset(self):
        self._set_sync(SYNC_RESET)
        self._t_reset = clock.ticks_ms()
        self._flush_tx()

    def _lose_sync(self):
        self._set_sync(SYNC_UNKNOWN)
        self._flush_tx()
        if self._dec.reset():
            self.stats["rx_dropped"] += 1

    def _sync_update(self):
        st = self.stats
        s = self.sync
        if s == SYNC_READY:
            sig = self._read_reg(_REG_SIGNATURE)
            if sig != _GOOD_SIGNATURE:
                sig = self._read_reg(_REG_SIGNATURE)
            if sig != _GOOD_SIGNATURE:
                st["bad_signature"] += 1
                self._lose_sync()
        elif s == SYNC_UNKNOWN:
            if self._read_reg(_REG_SIGNATURE) != _GOOD_SIGNATURE:
                st["sig_fail"] += 1
                self._sig_fails += 1
                if self._sig_fails >= _HW_RESET_AFTER:
                    self._sig_fails = 0
                    self._hw_reset()
                return
            self._sig_fails = 0
            cfg = self._read_reg(_REG_SPI_CONFIG)
            self._write_reg(_REG_SPI_CONFIG, cfg | _SLAVE_RESET)
            st["trig_reset"] += 1
            self._enter_reset()
        elif clock.ticks_diff(clock.ticks_ms(), self._t_reset) >= self.reset_timeout_ms:
            st["reset_timeout"] += 1
            self._set_sync(SYNC_UNKNOWN)

    def _sync_cpu_on(self):
        # The first register read after a boot is not trusted: read the signature twice.
        self._read_reg(_REG_SIGNATURE)
        if self._read_reg(_REG_SIGNATURE) != _GOOD_SIGNATURE:
            if self.sync == SYNC_READY:
                self.stats["bad_signature"] += 1
            else:
                self.stats["sig_fail"] += 1
            self._lose_sync()
            return
        if self._read_reg(_REG_WRBUF_SPC_AVA) != _HW_BUF_LEN:
            self.stats["wrbuf_not_empty"] += 1
            self._lose_sync()
            return
        self._sig_fails = 0
        self._set_sync(SYNC_READY)

    # -- data path -----------------------------------------------------------------

    def _flush_tx(self):
        if self._count:
            self.stats["tx_dropped"] += self._count
            self._count = 0
        self._tx_blocked = False

    def _transmit(self):
        st = self.stats
        space = self._read_reg(_REG_WRBUF_SPC_AVA)
        if space > _HW_BUF_LEN:
            st["buf_avail_err"] += 1
            self._tx_blocked = True
            return
        sent = 0
        bus = self.bus
        while self._count:
            i = self._head
            flen = self._lens[i]
            if space < flen + HW_PKT_LEN:
                if not sent:
                    st["write_buf_miss"] += 1
                self._tx_blocked = True
                return
            self._write_reg_v(_REG_BFR_SIZE, flen)
            bus.write(self._slots[i], flen, _EXT_WRITE)
            space -= flen + HW_PKT_LEN
            st["tx_packets"] += 1
            st["tx_bytes"] += flen - OVERHEAD
            i += 1
            self._head = 0 if i == self._nslots else i
            self._count -= 1
            sent += 1
        self._tx_blocked = False

    def _receive(self):
        st = self.stats
        avail = self._read_reg(_REG_RDBUF_BYTE_AVA)
        if avail > _HW_BUF_LEN + HW_PKT_LEN:
            st["buf_avail_err"] += 1
            self._poll_due = True
            self._again = True
            return
        if avail == 0:
            return
        self._write_reg_v(_REG_BFR_SIZE, avail)
        bus = self.bus
        dec = self._dec
        rx = self._rx
        hdr = self._hdr
        while avail > 0:
            if dec.state == ST_DATA:
                flen = dec.flen
                n = flen + 2
                if n > avail:
                    dec.abandon()
                    continue
                bus.readinto(rx, n, _EXT_READ)
                avail -= n
                dec.payload_done()
                r = dec.feed(rx, flen, n, rx)
                if r > 0:
                    self._deliver(r)
                continue
            k = dec.need()
            if k > avail:
                k = avail
            bus.readinto(hdr, k, _EXT_READ)
            avail -= k
            dec.feed(hdr, 0, k, rx)
        st["rx_garbage"] = dec.garbage
        st["rx_invlen"] = dec.invlen
        st["rx_notail"] = dec.notail

    def _deliver(self, n):
        st = self.stats
        st["rx_packets"] += 1
        st["rx_bytes"] += n
        cb = self.on_frame
        if cb is None:
            st["rx_dropped"] += 1
            return
        try:
            cb(self.rx_view, n)
        except Exception as e:  # a consumer bug must not take the link down
            st["rx_handler_err"] += 1
            log.error(_TAG, "%s: on_frame raised %r", self.name, e)
