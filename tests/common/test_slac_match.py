"""Whole matchings over QCA7000 register models + drivers on the simulated PLC medium, in
virtual time: one car, lost frames, a modem without profiles, two cars at two chargers
with crosstalk, an EV that gets no answer.

Under MicroPython in the suite's 128 KB heap the stations are DirectPorts (the SLAC code
and the local-modem hooks unchanged, without the SPI models: two full modem models +
drivers + both SLAC sides need about 200 KB in one process); with SLAC_QCA=1 in the
environment (tests/host/test_slac_mpy.py, larger heap) they are QCA7000 models there too.
"""
import gc
import os
import sys

from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, lossy, match_all
from firmware.slac import mme
from firmware.slac.evse import MATCHED, WAITING
from tests.common.test_slac_support import EV1, EV2, EVSE_MAC, OTHER_EVSE, Rng
from tools.sim import vtime

QCA = sys.implementation.name != "micropython" or bool(os.getenv("SLAC_QCA"))


def _one(**kw):
    gc.collect()
    med = PlcMedium()
    cs = Station.charger(med, EVSE_MAC, rng=Rng(1), qca=QCA, **kw)
    car = Station.car(med, EV1, rng=Rng(2), qca=QCA)
    return med, cs, car


def test_one_car_matches():
    med, cs, car = _one()
    seen = []
    med.add_tap(lambda s, f: seen.append(mme.mmtype_of(f, len(f))))
    assert vtime.run(match_all([cs], [car])) == [True]
    ev = car.slac
    assert cs.slac.state == MATCHED and ev.evse_mac == EVSE_MAC
    assert ev.nmk == cs.slac.nmk and ev.nid == cs.slac.nid
    # the car's modem got the network key of the charger's (it joins that AVLN)
    assert car.local.nmk == cs.local.nmk == cs.slac.nmk and car.local.nid == cs.slac.nid
    assert cs.slac.key_ok and cs.slac.matched.mean_db() == 20 and cs.slac.matched.avg_n == 10
    assert seen.count(mme.CM_MNBC_SOUND_IND) == 10 and seen.count(mme.CM_START_ATTEN_CHAR_IND) == 3
    assert seen.count(mme.CM_SLAC_MATCH_CNF) == 1
    t = ev.t_match_cnf - ev.t_first_req
    assert 500 < t < 2000, t  # virtual ms with the standard's timers


def test_lost_frames_are_recovered():
    med, cs, car = _one()
    lost = lossy(med, {mme.CM_SLAC_PARM_CNF: 1, mme.CM_ATTEN_CHAR_IND: 1,
                       mme.CM_SLAC_MATCH_CNF: 1, mme.CM_MNBC_SOUND_IND: 2})
    assert vtime.run(match_all([cs], [car])) == [True]
    assert len(lost) == 5
    st = cs.slac.stats
    assert st["duplicates"] >= 2 and st["atten_retry"] == 1 and st["matched"] == 1
    assert cs.slac.matched.avg_n == 8


def test_modem_without_profiles_synthesises():
    med, cs, car = _one(profiles=False, atten="auto", synth_db=35)
    assert vtime.run(match_all([cs], [car])) == [True]
    assert cs.slac.stats["synth_profiles"] == 10 and cs.slac.matched.mean_db() == 35


def test_two_cars_two_chargers_crosstalk():
    gc.collect()
    med = PlcMedium()
    # each car is plugged into "its" charger; the other one hears it through crosstalk
    a = Station.charger(med, EVSE_MAC, db=lambda m: 18 if m == EV1 else 47, rng=Rng(1), name="evse-a", qca=QCA)
    b = Station.charger(med, OTHER_EVSE, db=lambda m: 22 if m == EV2 else 41, rng=Rng(3), name="evse-b", qca=QCA)
    c1 = Station.car(med, EV1, rng=Rng(2), name="ev1", qca=QCA)
    c2 = Station.car(med, EV2, rng=Rng(4), name="ev2", qca=QCA)
    assert vtime.run(match_all([a, b], [c1, c2])) == [True, True]
    assert c1.slac.evse_mac == EVSE_MAC and c2.slac.evse_mac == OTHER_EVSE
    assert c1.slac.results[OTHER_EVSE][0] == 41 and c2.slac.results[EVSE_MAC][0] == 47
    assert a.slac.matched.ev_mac == EV1 and b.slac.matched.ev_mac == EV2
    assert c1.slac.nmk == a.slac.nmk != b.slac.nmk == c2.slac.nmk
    assert a.slac.stats["sessions"] == 2 and b.slac.stats["sessions"] == 2


def test_no_charger_answers():
    med, cs, car = _one()
    ok = vtime.run(match_all([cs], [car], plug=False))  # pilot never at 5 %
    assert ok == [False] and cs.slac.state != MATCHED
    assert car.slac.log.count((0, "SLAC_PARM.REQ")) == 1
    assert [w for _t, w in car.slac.log].count("SLAC_PARM.REQ") == 9  # 3 attempts x 3


def test_car_over_the_limit_fails_and_charger_listens_again():
    med, cs, car = _one(db=60)
    car.slac.limit_db = 40
    car.slac.attempts = 1
    assert vtime.run(match_all([cs], [car], linger_ms=11000)) == [False]
    assert cs.slac.state == WAITING and cs.slac.stats["failed"] == 1


def test_validation_with_bcb_toggles():
    med, cs, car = _one(validate=True)

    async def toggle(n):
        from lib import clock
        for _ in range(n):  # the car switches its S2: C, then B again
            cs.slac.pilot(2, 50)
            await clock.sleep_ms(150)
            cs.slac.pilot(1, 50)
            await clock.sleep_ms(150)

    car.slac.validate = True
    car.slac.toggle = toggle
    assert vtime.run(match_all([cs], [car])) == [True]
    assert any("VALIDATE.CNF 2 toggles, result 2" in w for _t, w in car.slac.log)


def test_modem_swallows_first_set_key_cnf():
    med, cs, car = _one()
    cs.local.drop_setkey = 1
    assert vtime.run(match_all([cs], [car], linger_ms=1500)) == [True]
    st = cs.slac.stats
    assert st["setkey_timeout"] == 1 and st["setkey"] == 2 and cs.slac.key_ok


def test_every_car_frame_duplicated():
    med, cs, car = _one()
    car.slac.dup = True
    assert vtime.run(match_all([cs], [car])) == [True]
    st = cs.slac.stats
    assert st["sessions"] == 1 and st["matched"] == 1 and st["duplicates"] >= 4


def test_no_profiles_in_modem_mode_never_matches_and_recovers():
    med, cs, car = _one(profiles=False, atten="modem")
    assert vtime.run(match_all([cs], [car], linger_ms=100)) == [False]
    st = cs.slac.stats
    assert st["sessions"] == 3 and st["failed"] == 3 and cs.slac.state == WAITING
