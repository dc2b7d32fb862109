"""CPU time per frame of the QCA7000 driver, under the runtime that runs this file.

    .venv/bin/python -m tools.bench_plc [frames]
    .venv/bin/micropython tools/bench_plc.py [frames]

The driver runs against the register-level modem model (boards/sim). Time spent inside
the model's SPI methods is measured and subtracted, so "driver" is what the firmware
itself costs per frame; on a board the SPI transfers add wire time on top (printed for
8 MHz). Prints numbers only, asserts nothing.
"""
import sys

sys.path.insert(0, ".")
try:
    import micropython  # noqa: F401
except ImportError:
    import tools  # noqa: F401  (CPython: puts the MicroPython shims on sys.path)

import gc
import time

from lib import log
from boards.sim.qca7000 import Qca7000Model
from firmware.plc.qca7000 import Qca7000

if hasattr(time, "ticks_us"):
    RUNTIME = "MicroPython %d.%d.%d" % sys.implementation.version[:3]

    def now_us():
        return time.ticks_us()

    def since_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

else:
    RUNTIME = "CPython %d.%d.%d" % sys.version_info[:3]

    def now_us():
        # process CPU time: the benchmark is single-threaded
        return time.process_time_ns() // 1000

    def since_us(t0):
        return now_us() - t0


class TimedModem(Qca7000Model):
    """The model, with the time spent inside it and the bytes clocked counted."""

    def __init__(self):
        super().__init__()
        self.bus_us = 0
        self.xacts = 0
        self.clocked = 0

    def transfer(self, tx, rx, n=-1):
        t0 = now_us()
        Qca7000Model.transfer(self, tx, rx, n)
        self.bus_us += since_us(t0)
        self.xacts += 1
        self.clocked += n if n >= 0 else len(tx)

    def write(self, buf, n=-1, head=None):
        t0 = now_us()
        Qca7000Model.write(self, buf, n, head)
        self.bus_us += since_us(t0)
        self.xacts += 1
        self.clocked += (n if n >= 0 else len(buf)) + (2 if head else 0)

    def readinto(self, buf, n=-1, head=None, fill=0):
        t0 = now_us()
        Qca7000Model.readinto(self, buf, n, head, fill)
        self.bus_us += since_us(t0)
        self.xacts += 1
        self.clocked += (n if n >= 0 else len(buf)) + (2 if head else 0)


def setup():
    m = TimedModem()
    got = [0]

    def on_frame(buf, n):
        got[0] += 1

    d = Qca7000(m, on_frame=on_frame)
    d.start()
    d.service()
    return m, d, got


def bench_rx(size, per_irq, frames):
    m, d, got = setup()
    payload = bytes(size)
    total = 0
    m.bus_us = m.xacts = m.clocked = 0
    for _ in range(frames // per_irq):
        for _ in range(per_irq):
            m.receive_from_medium(payload)  # the medium side: not timed
        gc.collect()  # the model allocates, the driver does not: keep GC out of the timing
        t0 = now_us()
        d.service()
        total += since_us(t0)
    return report("rx %4d B, %d/irq" % (size, per_irq), total, m, got[0])


def bench_tx(size, frames):
    m, d, got = setup()
    payload = bytes(size)
    total = 0
    m.bus_us = m.xacts = m.clocked = 0
    sent = 0
    for _ in range(frames):
        gc.collect()
        t0 = now_us()
        d.send(payload)
        d.service()
        total += since_us(t0)
        sent += 1
    return report("tx %4d B        " % size, total, m, sent)


def report(name, total_us, m, n):
    if not n:
        print("%s: no frames" % name)
        return 0
    drv = (total_us - m.bus_us) / n
    wire = m.clocked * 8 / 8.0 / n  # µs at 8 MHz
    print(
        "%s  driver %7.1f us/frame  (model %7.1f us, %4.1f SPI xacts, %6.0f B clocked = %5.0f us at 8 MHz)"
        % (name, drv, m.bus_us / n, m.xacts / n, m.clocked / n, wire)
    )
    return drv


def main(argv):
    frames = int(argv[1]) if len(argv) > 1 else 300
    log.level = log.WARN
    print("QCA7000 driver CPU time per frame, %s, %d frames per case" % (RUNTIME, frames))
    bench_rx(60, 1, frames)
    bench_rx(1518, 1, frames)
    bench_rx(300, 3, frames)
    bench_tx(60, frames)
    bench_tx(1518, frames)


main(sys.argv)
