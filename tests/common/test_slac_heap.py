"""The per-frame SLAC paths allocate nothing (MicroPython heap lock): decoding every
message, and the charger handling sounds, profiles and foreign frames. Under CPython the
shim's heap_lock() is a no-op, so these tests return early there."""
import sys

import micropython

from firmware.slac import mme
from tests.common.test_slac_support import OTHER_EVSE, Car, charger
from tests.common.test_slac_mme import _all

_MPY = sys.implementation.name == "micropython"


def _locked3(func, a, b, c):
    # no *args here: building the argument tuple would itself allocate
    micropython.heap_lock()
    try:
        return func(a, b, c)
    finally:
        micropython.heap_unlock()


def _locked2(func, a, b):
    micropython.heap_lock()
    try:
        return func(a, b)
    finally:
        micropython.heap_unlock()


def test_decode_allocates_nothing():
    if not _MPY:
        return
    m = mme.Mme()
    frames = [bytearray(f) for f, _mt in _all()]
    for f in frames:
        mt = _locked3(mme.decode, f, len(f), m)
        assert mt == _locked2(mme.mmtype_of, f, len(f))


def test_charger_sounding_allocates_nothing():
    if not _MPY:
        return
    e, link = charger()
    car = Car()
    e.on_frame(car.parm_req(), 60)
    e.on_frame(car.start(), 60)
    link.take()
    sounds = [bytearray(car.sound(9 - i)) for i in range(9)]
    prof = bytearray(car.profile(20))
    foreign = bytearray(car.match_req(evse=OTHER_EVSE))
    for s in sounds:
        _locked2(e.on_frame, s, len(s))
        _locked2(e.on_frame, prof, len(prof))
        _locked2(e.on_frame, foreign, len(foreign))
    assert e.sessions[0].sounds == 9 and e.sessions[0].profiles == 9 and link.sent == []
