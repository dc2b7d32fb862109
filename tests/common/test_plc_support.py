"""Helpers shared by the test_plc_* modules (no tests here): a charger modem and a car
modem on one simulated PLC medium, each driven by a Qca7000 driver."""
import gc

from boards.sim.plc_medium import PlcMedium
from boards.sim.qca7000 import Qca7000Model
from firmware.plc.qca7000 import Qca7000, SYNC_READY


def quiet():
    gc.collect()  # each modem + driver holds ~13 KB of buffers: keep the heap tidy


def frame(n, seed=1):
    """An n-byte Ethernet frame with recognisable contents."""
    f = bytearray(n)
    for i in range(n):
        f[i] = (i * 7 + seed * 13) & 0xFF
    return f


class Side:
    """One modem model + its driver, collecting received frames."""

    def __init__(self, medium, name, **kw):
        # two TX slots unless a test needs more: the suite runs in a 128 KB heap
        if "tx_slots" not in kw:
            kw["tx_slots"] = 2
        self.modem = Qca7000Model(medium, name)
        self.got = []
        self.drv = Qca7000(self.modem, on_frame=self._on_frame, name=name, **kw)
        self.drv.log_sync = False

    def _on_frame(self, buf, n):
        self.got.append(bytes(buf[:n]))

    def up(self):
        self.drv.start()
        for _ in range(4):
            self.drv.service()
            if self.drv.sync == SYNC_READY:
                return
        raise AssertionError("%s did not reach READY" % self.drv.name)

    def service(self, times=1):
        for _ in range(times):
            self.drv.service()

    def tick(self):
        """A watchdog pass, as the ticker task would run it."""
        self.drv.poll()
        self.drv.service()


def pair(**kw):
    quiet()
    med = PlcMedium()
    a = Side(med, "evse", **kw)
    b = Side(med, "ev", **kw)
    a.up()
    b.up()
    return med, a, b


class Sink:
    """A bufferless peer on the medium that records the frames it hears."""

    def __init__(self, medium):
        self.frames = []
        self.medium = None
        medium.attach(self)

    def receive_from_medium(self, frame):
        self.frames.append(frame)


def one(medium=True, **kw):
    """One modem + driver on a medium whose only other station is a Sink (``s.sink``);
    frames for the driver are put into its modem with ``s.modem.receive_from_medium``.
    ``medium=False``: no medium at all (sent frames just leave the modem)."""
    quiet()
    med = PlcMedium() if medium else None
    s = Side(med, "solo", **kw)
    s.sink = Sink(med).frames if medium else None
    s.up()
    return s


def raw_frame(payload, hwlen=None, sof=b"\xaa\xaa\xaa\xaa", eof=b"\x55\x55", flen=None):
    """Read-buffer image of one frame, with optional damage."""
    n = len(payload)
    if flen is None:
        flen = n
    if hwlen is None:
        hwlen = flen + 10
    out = bytearray()
    out += bytes((0, 0, hwlen >> 8 & 0xFF, hwlen & 0xFF))
    out += sof
    out += bytes((flen & 0xFF, flen >> 8, 0, 0))
    out += payload
    out += eof
    return bytes(out)
