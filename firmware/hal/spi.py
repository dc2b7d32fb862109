"""SPI link to a QCA7000 PLC modem: what the plc driver needs from a board.

Every method is one chip-select frame: CS goes low, the bytes are clocked, CS goes high.
The QCA7000 decodes a command per CS frame (its 16-bit command word comes first), so the
framing is part of the protocol, not a detail of the board.

Lengths are passed separately from buffers so the driver never slices a memoryview on
its per-frame path (a slice is a heap object on MicroPython). ``n=-1`` means the whole
buffer. A board built on ``machine.SPI`` has to slice at that boundary; it can keep a
few memoryviews for the lengths it sees most (register accesses are always 4 bytes).
"""
from lib.flag import ThreadSafeFlag


class QcaBus:
    """Base class of the QCA7000 bus: ``boards/sim`` models the modem behind it, device
    boards implement it with ``machine.SPI`` (mode 3, ≤ 16 MHz) and two Pins.

    - ``transfer(tx, rx, n)``: full duplex, ``tx[0:n]`` out while ``rx[0:n]`` comes in.
    - ``write(buf, n, head)``: ``head`` (2 bytes, the command word) then ``buf[0:n]``
      out; MISO is ignored.
    - ``readinto(buf, n, head, fill)``: ``head`` out, then ``n`` bytes read into
      ``buf`` while ``fill`` is clocked out.
    - ``reset_pulse()``: drives the modem's RESET_L low for ≥ 1 ms and releases it.

    Interrupt: the board wires the modem's INT pin (rising edge) to ``_irq``, which
    only counts and sets ``flag``; the driver task owning the bus waits on ``flag``.
    ``irq_count`` lets the driver tell an interrupt from another wake-up.
    """

    def __init__(self):
        self.flag = ThreadSafeFlag()
        self.irq_count = 0

    def _irq(self, _pin=None):
        # Hard-IRQ safe: a small-int increment and a flag, nothing else.
        self.irq_count = (self.irq_count + 1) & 0x3FFFFFFF
        self.flag.set()

    def transfer(self, tx, rx, n=-1):
        raise NotImplementedError

    def write(self, buf, n=-1, head=None):
        raise NotImplementedError

    def readinto(self, buf, n=-1, head=None, fill=0):
        raise NotImplementedError

    def reset_pulse(self):
        raise NotImplementedError


class MachineQcaBus(QcaBus):
    """QcaBus on ``machine.SPI`` and three ``machine.Pin``s, for device boards.

    ``spi``: mode 3 (polarity=1, phase=1), 8 bits, MSB first, ≤ 16 MHz (8 MHz usual).
    ``cs``: output, idle high. ``rst``: output to RESET_L, idle high. ``intr``: input
    from the modem's INT pin (rising edge), or None for a polled board. The objects
    are built by the board, so this module needs no ``import machine``.

    machine.SPI has no length argument: a partial buffer becomes a memoryview slice
    here, one small heap object per external transfer (register accesses use whole
    4-byte buffers and allocate nothing).
    """

    RESET_MS = 10

    def __init__(self, spi, cs, rst, intr=None):
        super().__init__()
        self.spi = spi
        self.cs = cs
        self.rst = rst
        cs.value(1)
        rst.value(1)
        if intr is not None:
            intr.irq(handler=self._irq, trigger=intr.IRQ_RISING)

    @staticmethod
    def _view(buf, n):
        if n < 0 or n == len(buf):
            return buf
        return memoryview(buf)[:n]

    def transfer(self, tx, rx, n=-1):
        self.cs.value(0)
        try:
            self.spi.write_readinto(self._view(tx, n), self._view(rx, n))
        finally:
            self.cs.value(1)

    def write(self, buf, n=-1, head=None):
        self.cs.value(0)
        try:
            if head is not None:
                self.spi.write(head)
            self.spi.write(self._view(buf, n))
        finally:
            self.cs.value(1)

    def readinto(self, buf, n=-1, head=None, fill=0):
        self.cs.value(0)
        try:
            if head is not None:
                self.spi.write(head)
            self.spi.readinto(self._view(buf, n), fill)
        finally:
            self.cs.value(1)

    def reset_pulse(self):
        import time

        self.rst.value(0)
        time.sleep(self.RESET_MS / 1000)  # start-up only: blocking is acceptable here
        self.rst.value(1)
