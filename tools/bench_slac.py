"""python -m tools.bench_slac [--pcap FILE] [--runs N]: the SLAC figure.

Time from the car's first CM_SLAC_PARAM.REQ to CM_SLAC_MATCH.CNF, in simulation with the
standard's timers: a charger (firmware.slac.evse) and a car (boards.sim.ev_slac), each on
a QCA7000 register model + the firmware's driver, on the simulated PLC medium, in virtual
time (so the figure is the protocol's, not this host's). Also a matching with lost frames
and two cars at two chargers with crosstalk, and the host CPU time one matching costs.
"""
import sys
import time

import tools  # noqa: F401
from boards.sim.plc_medium import PlcMedium
from boards.sim.slac_sim import Station, lossy, match_all
from firmware.slac import mme
from tools.sim import vtime

EVSE_A = b"\x02\x00\x00\x00\x00\x5c"
EVSE_B = b"\x02\x00\x00\x00\x00\x5d"
EV1 = b"\x02\x00\x00\x00\x00\xe1"
EV2 = b"\x02\x00\x00\x00\x00\xe2"


def w_tap(w):
    return lambda _who, frame: w.add(frame)


def one(drops=None, pcap=None):
    med = PlcMedium()
    w = None
    if pcap:
        from tools import pcap as pcapmod
        f = open(pcap, "wb")
        w = pcapmod.tap(med, f)
    cs = Station.charger(med, EVSE_A)
    car = Station.car(med, EV1)
    if w is not None:
        for lm in (cs.local, car.local):
            lm.tap = w_tap(w)
    if drops:
        lossy(med, drops)
    t = time.perf_counter()
    ok = vtime.run(match_all([cs], [car]))
    cpu = time.perf_counter() - t
    if w is not None:
        f.close()
    ev = car.slac
    return ok[0], ev.t_match_cnf - ev.t_first_req, cpu, med.frames, ev


def park():
    med = PlcMedium()
    a = Station.charger(med, EVSE_A, db=lambda m: 18 if m == EV1 else 47, name="evse-a")
    b = Station.charger(med, EVSE_B, db=lambda m: 22 if m == EV2 else 41, name="evse-b")
    c1 = Station.car(med, EV1, name="ev1")
    c2 = Station.car(med, EV2, name="ev2")
    ok = vtime.run(match_all([a, b], [c1, c2]))
    return ok, [c.slac.t_match_cnf - c.slac.t_first_req for c in (c1, c2)]


def main(argv):
    from lib import log
    log.level = log.WARN
    pcap = argv[argv.index("--pcap") + 1] if "--pcap" in argv else None
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 5
    figs = []
    cpus = []
    for i in range(runs):
        ok, ms, cpu, frames, ev = one(pcap=pcap if i == 0 else None)
        assert ok
        figs.append(ms)
        cpus.append(cpu)
    print("SLAC, one car, standard timers (virtual time): first CM_SLAC_PARAM.REQ -> "
          "CM_SLAC_MATCH.CNF = %d ms (runs: %s; %d frames on the medium)" % (
              figs[0], ", ".join("%d" % f for f in figs), frames))
    print("  host wall time per simulated matching (CPython, both sides + 2 modem models): %.0f ms"
          % (1000 * min(cpus)))
    for t, what in ev.log:
        if not what.startswith("MNBC") and not what.startswith("START"):
            print("  %5d ms  %s" % (t, what))
    ok, ms, _cpu, frames, _ev = one(drops={mme.CM_SLAC_PARM_CNF: 1, mme.CM_ATTEN_CHAR_IND: 1,
                                           mme.CM_SLAC_MATCH_CNF: 1})
    print("SLAC with PARAM.CNF, ATTEN_CHAR.IND and MATCH.CNF each lost once: %d ms (%s)" % (
        ms, "matched" if ok else "FAILED"))
    ok, mss = park()
    print("SLAC, two cars at two chargers with crosstalk, at once: %s ms (%s)" % (
        " / ".join("%d" % m for m in mss), "both matched" if all(ok) else "FAILED"))
    if pcap:
        print("pcapng of the first run: %s" % pcap)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
