"""The MicroPython side of ``python -m tools.sim --runtime micropython``: one scenario.

    micropython -m tools.sim.child NAME [quiet] [json=FILE] [pcap=FILE] [seed=N]
                                   [csms=URL] [duration=S] [plug_at=S]

An OCPP scenario's figures for the backend check (``sim.result``) go to the host as
one ``RESULT <json>`` line.

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
    params = {"csms": opts.get("csms")}
    for k in ("duration", "plug_at"):
        if k in opts:
            params[k] = float(opts[k])
    sim = runner.run(name, sc, "build/sim/micropython-" + name, quiet, opts.get("json"), opts.get("pcap"),
                     params)
    runner.report(sim, "micropython", quiet)
    if sim.result is not None:
        import json

        print("RESULT " + json.dumps(sim.result))
    return 1 if sim.failures else 0


sys.exit(main(sys.argv[1:]))
