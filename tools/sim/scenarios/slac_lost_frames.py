"""Scenario: slac_lost_frames."""
from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, lossy, match_all
from firmware.slac import mme
from tools.sim.scenarios.slac import EV, EVSE, start_pcap

DESCRIPTION = 'SLAC with CM_SLAC_PARAM.CNF, CM_ATTEN_CHAR.IND and CM_SLAC_MATCH.CNF each lost once: retries'
SETUP = dict(heap_kb=320)


async def run(sim):
    med = PlcMedium()
    cs = Station.charger(med, EVSE)
    car = Station.car(med, EV)
    f = start_pcap(sim, med, (cs, car))
    lost = lossy(med, {mme.CM_SLAC_PARM_CNF: 1, mme.CM_ATTEN_CHAR_IND: 1, mme.CM_SLAC_MATCH_CNF: 1})
    try:
        ok = await match_all([cs], [car])
    finally:
        if f is not None:
            f.close()
    sim.expect(len(lost) == 3, "three frames were lost (%d)" % len(lost))
    sim.expect(ok == [True], "the car still matched")
    sim.expect(bytes(car.slac.nmk or b"") == bytes(cs.slac.nmk), "same NMK")
