"""python -m tools.sim: run simulated charging scenarios against the firmware.

  --list-scenarios          list the scenarios
  --scenario NAME           run one (default: basic_ac) and print its timeline
  --all                     run every scenario (summary only unless --verbose): the
                            virtual-time ones, and ocpp_session (real time, ~8 s) on
                            CPython; on MicroPython that one only with --ocpp
  --runtime cpython|micropython   where the firmware runs (default: cpython, in-process)
  --heap KB                 MicroPython heap cap (default 144)
  --json FILE               write the event log of the scenario as JSON
  --plot FILE.png           and draw it (CP state, duty, current, energy, faults)
  --pcap FILE.pcapng        the PLC frames of a scenario that has them (slac*)
  --quiet                   no timeline
  --seed N                  noise seed
  --csms URL                the central system of an OCPP scenario (ws://host:port/path/<id>);
                            default: the embedded one (tools.csms) on a free port
  --duration S              how long the idle scenario runs (real seconds, default 30)
  --plug-at S               the idle scenario plugs a car S seconds after boot (a
                            RemoteStartTransaction from the backend can then charge it)

The OCPP scenarios (ocpp_session, idle) run in real time: their peer is a network
service. ``--scenario idle --csms URL --duration S`` is a simulated wallbox against any
central system; a Reset from it restarts the firmware from its persisted state.

Exits 0 only when every scenario run ended as expected. Host (CPython): MicroPython runs
go through ``tools.sim.child``, one process per scenario on the .mpy tree.
"""
import sys

RUNTIME = "cpython"
_FLAGS = ("--list-scenarios", "--all", "--quiet", "--verbose", "--ocpp", "-h", "--help")


def parse(argv):
    opts = {"scenario": "basic_ac", "runtime": RUNTIME, "heap": "144", "json": None, "seed": None,
            "plot": None, "pcap": None, "csms": None, "duration": None, "plug-at": None}
    flags = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _FLAGS:
            flags.append(a)
        elif a.startswith("--") and a[2:] in opts and i + 1 < len(argv):
            opts[a[2:]] = argv[i + 1]
            i += 1
        else:
            raise SystemExit("tools.sim: unknown argument %s (see --help)" % a)
        i += 1
    return opts, flags


def main(argv):
    opts, flags = parse(argv)
    if "-h" in flags or "--help" in flags:
        print(__doc__)
        return 0
    if opts["runtime"] not in ("cpython", "micropython"):
        raise SystemExit("tools.sim: --runtime must be cpython or micropython")
    import tools  # noqa: F401  (puts the MicroPython stand-ins on sys.path)
    from tools.sim import scenarios

    if "--list-scenarios" in flags:
        for name in scenarios.NAMES + scenarios.OCPP_NAMES:
            print("%-26s %s" % (name, scenarios.find(name)[0]))
        return 0
    if "--all" in flags:
        names = list(scenarios.NAMES)
        if opts["runtime"] == "cpython" or "--ocpp" in flags:
            names += [n for n in scenarios.OCPP_NAMES if scenarios.find(n)[1].get("in_all")]
        quiet = "--verbose" not in flags
    else:
        names = [opts["scenario"]]
        quiet = "--quiet" in flags
    if opts["plot"]:
        if len(names) != 1:
            raise SystemExit("tools.sim: --plot draws one scenario, from CPython")
        if not opts["json"]:
            opts["json"] = "build/sim/%s.json" % names[0]
            argv = argv + ["--json", opts["json"]]
        i = argv.index("--plot")
        argv = argv[:i] + argv[i + 2:]
    if opts["runtime"] == "micropython":
        from tools.sim.host import micropython_runs

        rc = micropython_runs(names, opts, quiet)
        return _plot(opts) or rc
    from tools.sim import runner

    params = _params(opts)
    failed = []
    for name in names:
        sc = scenarios.find(name)
        if sc is None:
            raise SystemExit("tools.sim: no scenario %r (see --list-scenarios)" % name)
        if opts["seed"] is not None:
            sc[1]["seed"] = int(opts["seed"])
        sim = runner.run(name, sc, "build/sim/cpython-" + name, quiet=quiet,
                         json_path=opts["json"] if len(names) == 1 else None,
                         pcap_path=opts["pcap"] if len(names) == 1 else None, params=params)
        runner.report(sim, "cpython", quiet)
        if sim.failures:
            failed.append(name)
    _plot(opts)
    print("%s: %d scenarios passed, %d failed%s" % (
        "CPython", len(names) - len(failed), len(failed), (" (" + ", ".join(failed) + ")") if failed else ""))
    return 1 if failed else 0


def _params(opts):
    """What the OCPP scenarios take from the command line."""
    p = {"csms": opts["csms"]}
    for k in ("duration", "plug-at"):
        if opts[k] is not None:
            try:
                p[k.replace("-", "_")] = float(opts[k])
            except ValueError:
                raise SystemExit("tools.sim: --%s wants seconds" % k)
    return p


def _plot(opts):
    if opts["plot"]:
        import json

        from tools import plot

        with open(opts["json"]) as f:
            plot.plot(json.load(f), opts["plot"])
        print("plot:", opts["plot"])


sys.exit(main(sys.argv[1:]))
