"""Scenario: slac_two_cars."""
from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, match_all

DESCRIPTION = 'two cars at two chargers on one medium (crosstalk): each matches the charger it hears best'
SETUP = dict(heap_kb=512)

EVSE_A = b"\x02\x00\x00\x00\x00\x5c"
EVSE_B = b"\x02\x00\x00\x00\x00\x5d"
EV1 = b"\x02\x00\x00\x00\x00\xe1"
EV2 = b"\x02\x00\x00\x00\x00\xe2"


async def run(sim):
    med = PlcMedium()
    a = Station.charger(med, EVSE_A, db=lambda m: 18 if m == EV1 else 47, name="evse-a")
    b = Station.charger(med, EVSE_B, db=lambda m: 22 if m == EV2 else 41, name="evse-b")
    c1 = Station.car(med, EV1, name="ev1")
    c2 = Station.car(med, EV2, name="ev2")
    ok = await match_all([a, b], [c1, c2])
    sim.expect(ok == [True, True], "both cars matched (%s)" % (ok,))
    sim.expect(c1.slac.evse_mac == EVSE_A and c2.slac.evse_mac == EVSE_B, "each with its own charger")
    sim.expect(bytes(c1.slac.nmk) == bytes(a.slac.nmk) and bytes(c2.slac.nmk) == bytes(b.slac.nmk),
               "no keys mixed")
