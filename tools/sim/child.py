"""The MicroPython side of ``python -m tools.sim --runtime micropython``: one scenario.

    micropython -m tools.sim.child NAME [quiet] [json=FILE] [pcap=FILE] [seed=N]

Kept apart from ``tools.sim.__main__`` (CPython) so the capped heap holds no more of the
harness than running a scenario needs.
"""
import sys

from tools.sim import runner, scenarios


def main(argv):
    name = argv[0]
    opts = {}
    for a in argv[1:]:
        k, _, v = a.partition("=")
        opts[k] = v
    sc = scenarios.find(name)
    if sc is None:
        print("tools.sim.child: no scenario", name)
        return 2
    if "seed" in opts:
        sc[1]["seed"] = int(opts["seed"])
    quiet = "quiet" in opts
    sim = runner.run(name, sc, "build/sim/micropython-" + name, quiet, opts.get("json"), opts.get("pcap"))
    runner.report(sim, "micropython", quiet)
    return 1 if sim.failures else 0


sys.exit(main(sys.argv[1:]))
