"""Helpers shared by the test_slac_* modules (no tests here): a recording link, a scripted
car that builds the EV's frames, a deterministic random source."""
from lib import clock
from firmware.slac import mme
from firmware.slac.evse import SlacEvse

EVSE_MAC = b"\x02\x00\x00\x00\x00\x5c"
EV1 = b"\x02\x00\x00\x00\x00\xe1"
EV2 = b"\x02\x00\x00\x00\x00\xe2"
OTHER_EVSE = b"\x02\x00\x00\x00\x00\x5d"


class Rng:
    """Deterministic stand-in for os.urandom."""

    def __init__(self, seed=1):
        self.x = seed

    def __call__(self, n):
        out = bytearray(n)
        for i in range(n):
            self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (self.x >> 16) & 0xFF
        return bytes(out)


class Link:
    """Records what the state machine sends."""

    def __init__(self):
        self.sent = []
        self.fail = False

    def send(self, frame):
        if self.fail:
            return False
        self.sent.append(bytes(frame))
        return True

    def take(self):
        """[(mmtype, Mme)] of the frames sent since the last take()."""
        out = []
        for f in self.sent:
            m = mme.Mme()
            out.append((mme.decode(f, len(f), m), m))
        self.sent = []
        return out

    def types(self):
        return [mt for mt, _m in self.take()]


class Car:
    """Builds one EV's SLAC frames (run ID fixed per attempt)."""

    def __init__(self, mac=EV1, run=b"RUNID-01"):
        self.mac = mac
        self.run = run

    def _f(self, fn, *a, **kw):
        b = bytearray(160)
        n = fn(b, *a, **kw)
        return bytes(b[:n])

    def parm_req(self):
        return self._f(mme.slac_parm_req, mme.BROADCAST, self.mac, self.run)

    def start(self, sounds=10, time_out=6):
        return self._f(mme.start_atten_char_ind, mme.BROADCAST, self.mac, self.run, self.mac,
                       sounds, time_out)

    def sound(self, cnt):
        return self._f(mme.mnbc_sound_ind, mme.BROADCAST, self.mac, self.run, cnt)

    def profile(self, db, dst=EVSE_MAC, groups=58):
        return self._f(mme.atten_profile_ind, dst, mme.LOCAL_MODEM, self.mac, bytes([db]) * groups)

    def atten_rsp(self, evse=EVSE_MAC, result=0):
        return self._f(mme.atten_char_rsp, evse, self.mac, self.mac, self.run, result)

    def match_req(self, evse=EVSE_MAC, pev_id=None):
        return self._f(mme.slac_match_req, evse, self.mac, self.mac, evse, self.run, pev_id=pev_id)

    def validate_req(self, timer, evse=EVSE_MAC):
        return self._f(mme.validate_req, evse, self.mac, timer)


def set_key_cnf(evse, result=1):
    """The local modem's answer to the last CM_SET_KEY.REQ the charger sent."""
    b = bytearray(160)
    n = mme.set_key_cnf(b, EVSE_MAC, mme.LOCAL_MODEM, result, b"\x01\x02\x03\x04", bytes(evse._nonce))
    return bytes(b[:n])


def feed(evse, frame):
    evse.on_frame(frame, len(frame))


def advance(evse, ms):
    clock.advance(ms)
    evse.poll()


def charger(**kw):
    """A started charger with its key confirmed and the pilot at B / 5 %."""
    link = Link()
    kw.setdefault("rng", Rng())
    e = SlacEvse(link, EVSE_MAC, **kw)
    e.start()
    feed(e, set_key_cnf(e))
    assert e.key_ok
    link.take()
    e.pilot(1, 50)
    return e, link


def sound_all(e, car, db=20, n=10, profiles=True):
    for i in range(n):
        feed(e, car.sound(n - 1 - i))
        if profiles:
            feed(e, car.profile(db if not callable(db) else db(i)))
