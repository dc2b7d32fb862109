"""Scenario: slac."""
from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, match_all

DESCRIPTION = 'ISO 15118-3 matching: a car and the charger, each on a QCA7000 model, on the PLC medium'
SETUP = dict(heap_kb=320)  # two modem models, two drivers and both SLAC sides in one process

EVSE = b"\x02\x00\x00\x00\x00\x5c"
EV = b"\x02\x00\x00\x00\x00\xe1"


def start_pcap(sim, med, stations):
    """Write the medium's frames (and the modems' local ones) to ``--pcap``, if given."""
    if not sim.pcap_path:
        return None
    from tools import pcap

    f = open(sim.pcap_path, "wb")
    pcap.tap(med, f, local=[s.local for s in stations])
    return f


async def run(sim):
    med = PlcMedium()
    cs = Station.charger(med, EVSE)
    car = Station.car(med, EV)
    f = start_pcap(sim, med, (cs, car))
    try:
        ok = await match_all([cs], [car])
    finally:
        if f is not None:
            f.close()
    ev = car.slac
    sim.expect(ok == [True], "the car matched")
    sim.expect(ev.evse_mac == EVSE, "with this charger")
    sim.expect(ev.nmk is not None and bytes(ev.nmk) == bytes(cs.slac.nmk), "both sides hold the same NMK")
    if ev.t_first_req is not None and ev.t_match_cnf is not None:
        ms = ev.t_match_cnf - ev.t_first_req
        sim.note("CM_SLAC_PARM.REQ -> CM_SLAC_MATCH.CNF in %d ms (%d frames)" % (ms, med.frames))
        sim.expect(ms < 3000, "within the car's matching time")
