"""SLAC in simulation: chargers and cars, each a QCA7000 model (with its local-modem
behaviour) + the firmware's QCA7000 driver + a SLAC side, on one simulated PLC medium.

    med = PlcMedium()
    cs = Station.charger(med, EVSE_MAC)          # firmware.slac.evse.SlacEvse
    car = Station.car(med, EV_MAC)                # boards.sim.ev_slac.SlacEv
    ok = vtime.run(match_all([cs], [car]))        # virtual time, both runtimes

``qca=False`` puts a ``DirectPort`` where the QCA7000 model + driver would be (frames
cross without the SPI layer): the same SLAC code at a fraction of the memory, for
MicroPython runs in a small heap and for large parks.

``db`` gives the attenuation the charger's modem measures for a car's sounds (dB, or
f(pev_mac) -> dB), so a charging park with crosstalk can be laid out. ``lossy(med, {mmtype:
count})`` drops the next ``count`` frames of a type on the wire.
"""
import asyncio

from lib import clock
from boards.sim.ev_slac import SlacEv
from boards.sim.hpgp_modem import LocalModem
from firmware.slac import mme
from firmware.slac.evse import SlacEvse

_CP_B = 1
_DUTY_HLC = 50


class DirectPort:
    """A modem reduced to its medium side and host side (no SPI model, no driver), with
    the driver's interface (``send``, ``on_frame``, ``run``, ``link_up``) and the model's
    hooks (``on_host_frame``, ``receive_from_medium``) so LocalModem works on it too.
    Frames to the host are delivered from the ``run`` task, never inside a send."""

    def __init__(self, med, name):
        self.name = name
        self.medium = None
        self.on_host_frame = None
        self.on_frame = None
        self.link_up = True
        self._q = []
        self._ev = asyncio.Event()
        med.attach(self)

    def send(self, frame):
        f = bytes(frame)
        if len(f) < 60:
            f += bytes(60 - len(f))
        hook = self.on_host_frame
        if hook is not None and hook(f):
            return True
        if self.medium is not None:
            self.medium.transmit(self, f)
        return True

    def receive_from_medium(self, frame):
        self._q.append(frame)
        self._ev.set()

    async def run(self):
        while True:
            await self._ev.wait()
            self._ev.clear()
            while self._q:
                f = self._q.pop(0)
                if self.on_frame is not None:
                    self.on_frame(f, len(f))


class Station:
    def __init__(self, med, name, atten, profiles, qca=True):
        if qca:
            from boards.sim.qca7000 import Qca7000Model
            from firmware.plc.qca7000 import Qca7000

            self.modem = Qca7000Model(med, name)
            self.drv = Qca7000(self.modem, tx_slots=3, name=name)
            self.drv.log_sync = False
        else:
            self.modem = self.drv = DirectPort(med, name)
        self.local = LocalModem(self.modem, atten=atten, profiles=profiles)
        self.slac = None

    @classmethod
    def charger(cls, med, mac, db=20, profiles=True, name="evse", qca=True, **kw):
        """``db``: what the charger's modem measures for a car's sounds (dB or f(mac));
        the other keywords go to SlacEvse (``atten`` is its attenuation *mode*)."""
        s = cls(med, name, db, profiles, qca)
        s.slac = SlacEvse(s.drv, mac, name=name, **kw)
        s.drv.on_frame = s.slac.on_frame
        return s

    @classmethod
    def car(cls, med, mac, name="ev", qca=True, **kw):
        s = cls(med, name, 0, False, qca)
        s.slac = SlacEv(s.drv, mac, name=name, **kw)
        s.drv.on_frame = s.slac.on_frame
        return s


async def match_all(chargers, cars, plug=True, linger_ms=20):
    """Run the chargers and let every car match at once; returns [car matched?]."""
    tasks = [asyncio.create_task(s.drv.run()) for s in chargers + cars]
    tasks += [asyncio.create_task(s.slac.run()) for s in chargers]
    try:
        while not all(s.drv.link_up for s in chargers + cars):
            await clock.sleep_ms(5)
        await clock.sleep_ms(50)  # the chargers' CM_SET_KEY round trip
        if plug:
            for s in chargers:
                s.slac.pilot(_CP_B, _DUTY_HLC)
        jobs = [asyncio.create_task(c.slac.match()) for c in cars]
        out = []
        for j in jobs:
            out.append(await j)
        await clock.sleep_ms(linger_ms)  # last frames drain, chargers' timers run
        return out
    finally:
        for t in tasks:
            t.cancel()
        await clock.sleep_ms(0)


def lossy(med, drops):
    """Drop the next ``drops[mmtype]`` frames of each MMTYPE on ``med``; returns the
    list of dropped (mmtype) for the test to inspect."""
    orig = med.transmit
    lost = []

    def transmit(sender, frame):
        mt = mme.mmtype_of(frame, len(frame))
        if drops.get(mt, 0):
            drops[mt] -= 1
            lost.append(mt)
            med.frames += 1
            return
        orig(sender, frame)

    med.transmit = transmit
    return lost
