"""firmware.hal.spi.MachineQcaBus on fake machine.SPI / Pin objects bridged to the
modem model: chip-select framing per command and the driver working through it."""
from boards.sim.qca7000 import Qca7000Model
from firmware.hal.spi import MachineQcaBus
from firmware.plc.qca7000 import Qca7000
from tests.common.test_plc_support import frame, quiet


class FakePin:
    IRQ_RISING = 1

    def __init__(self, on_change=None):
        self.v = None
        self.on_change = on_change
        self.handler = None
        self.history = []

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.history.append(v)
        if self.on_change:
            self.on_change(v)

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class WireSpi:
    """machine.SPI stand-in: hands each chip-select frame to the model as one call."""

    def __init__(self, model):
        self.model = model
        self.selected = False
        self.head = None
        self.pending = []
        self.frames = 0

    def cs(self, v):
        if v == 0:
            self.selected = True
            self.head = None
            self.pending = []
        elif self.selected:
            if self.pending:
                data = b"".join(self.pending)
                self.model.write(data, len(data))
            self.selected = False
            self.frames += 1

    def write(self, buf):
        assert self.selected, "SPI traffic outside chip select"
        self.pending.append(bytes(buf))

    def readinto(self, buf, fill=0):
        assert self.selected and len(self.pending) == 1
        self.model.readinto(buf, len(buf), self.pending.pop(), fill)

    def write_readinto(self, tx, rx):
        assert self.selected and not self.pending
        self.model.transfer(tx, rx, len(tx))


def test_machine_bus_frames_each_command_with_chip_select():
    quiet()
    model = Qca7000Model()
    spi = WireSpi(model)
    cs = FakePin(spi.cs)
    rst = FakePin()
    intr = FakePin()
    bus = MachineQcaBus(spi, cs, rst, intr)
    assert intr.handler is not None and cs.v == 1 and rst.v == 1
    bus.RESET_MS = 0
    got = []
    drv = Qca7000(bus, on_frame=lambda buf, n: got.append(bytes(buf[:n])))
    drv.log_sync = False
    model._irq = bus._irq  # the modem's INT line drives the pin's handler
    drv.start()
    assert rst.history[-2:] == [0, 1]
    model.reset_pulse()  # the fake reset pin is not wired to the model
    drv.service()
    assert drv.link_up
    f = frame(150)
    assert drv.send(f)
    drv.service()
    assert model.stats["tx_frames"] == 1
    model.receive_from_medium(f)
    drv.service()
    assert got == [bytes(f)]
    assert cs.v == 1 and spi.frames == cs.history.count(0)
