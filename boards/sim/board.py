"""The simulated wallbox and the world around it (vehicle, grid, physics tick)."""

from lib import clock
from firmware.hal import Board
from boards.sim.ev import SimEV
from boards.sim.parts import (
    SimContactor, SimLed, SimLock, SimMeter, SimPilot, SimProximity, SimRcd,
)

PHYSICS_MS = 50


class Rng:
    """Deterministic xorshift32 noise, identical on both runtimes (the timelines must match)."""

    def __init__(self, seed=1):
        self.s = (seed or 1) & 0xFFFFFFFF

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n

    def noise(self, sigma):
        """Approximately normal integer noise with standard deviation ``sigma``."""
        # Irwin-Hall: the sum of 4 uniforms on [-1, 1) has sigma 2/sqrt(3) ~ 1.155
        t = 0
        for _ in range(4):
            t += (self.next() & 0xFFFF) - 0x8000
        return t * sigma * 866 // (0x8000 * 1000)


class SimBoard(Board):
    """A socket-outlet (or tethered) wallbox whose parts are models."""

    name = "sim"

    def __init__(self, world, fs_root, tethered=False):
        super().__init__(
            cp=SimPilot(world),
            pp=None if tethered else SimProximity(world),
            contactor=SimContactor(),
            rcd=SimRcd(),
            lock=None if tethered else SimLock(),
            meter=SimMeter(world),
            led=SimLed(),
            fs_root=fs_root,
        )
        self.reboots = 0
        self.reboot_requested = False

    def reboot(self):
        self.reboots += 1
        self.reboot_requested = True

    def install_firmware(self, path):
        """Accept an image that starts with ``SIMFW`` (a stand-in for a signature
        check); record (size, first line) in ``installed``."""
        try:
            with open(path, "rb") as f:
                head = f.read(64)
                f.seek(0, 2)
                size = f.tell()
        except OSError:
            return False
        if not head.startswith(b"SIMFW"):
            return False
        if not hasattr(self, "installed"):
            self.installed = []
        self.installed.append((size, head.split(b"\n")[0]))
        return True

    def power_off(self):
        """What a power cut does to the hardware: coil and CP source lose their supply."""
        self.contactor.power_off()
        self.cp.powered = False

    def power_on(self):
        self.cp.powered = True
        self.cp.duty = 1000


class World:
    """Everything outside the firmware: the board's physics, the vehicle, the grid."""

    def __init__(self, fs_root, seed=1, tethered=False, ev=None, voltage_v=230):
        self.rng = Rng(seed)
        self.voltage_v = voltage_v
        self.ev = SimEV(self, **(ev or {}))
        self.board = SimBoard(self, fs_root, tethered)

    def powered(self):
        """True when the contactor's contacts really connect the supply to the vehicle."""
        return self.board.contactor.actual and self.ev.plugged and not self.ev.cp_short

    def tick(self, now, dt_ms):
        b = self.board
        b.contactor.tick(now, self.ev.current_ma)
        if b.lock is not None:
            b.lock.tick(now)
        self.ev.tick(now, dt_ms, self.powered())
        current = self.ev.current_ma if self.powered() else 0
        b.meter.integrate(dt_ms, current, self.ev.phases, self.voltage_v)

    async def run(self):
        last = clock.ticks_ms()
        while True:
            await clock.sleep_ms(PHYSICS_MS)
            now = clock.ticks_ms()
            self.tick(now, clock.ticks_diff(now, last))
            last = now
