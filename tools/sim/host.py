"""Host side of ``python -m tools.sim --runtime micropython``: compiles the tree to .mpy
and runs each scenario in its own MicroPython process (CPython only). An OCPP scenario
without ``--csms`` gets the embedded central system, served from this process (a
thread: the child is another process either way), and its backend check runs here."""
import json
import os
import subprocess

import tools
from tools.sim import mpbuild


def micropython_runs(names, opts, quiet):
    """Run scenarios under the MicroPython unix port, one process each, two at a time.

    ``opts``: the command line's heap, json, pcap and seed (json/pcap for one scenario).
    A scenario's ``heap_kb`` raises the heap for it alone.
    """
    from tools.sim import scenarios

    out, errors = mpbuild.build()
    if errors:
        print("\n".join(errors))
        return 1
    extra = ["quiet"] if quiet else []
    for key in ("json", "pcap"):
        if opts.get(key) and len(names) == 1:
            extra.append("%s=%s" % (key, os.path.abspath(opts[key])))
    if opts.get("seed") is not None:
        extra.append("seed=%s" % opts["seed"])
    for key in ("duration", "plug-at"):
        if opts.get(key) is not None:
            extra.append("%s=%s" % (key.replace("-", "_"), float(opts[key])))
    heap = int(opts["heap"])
    # an empty working directory: MicroPython puts '' first on sys.path, and the source
    # tree there would be compiled on the capped heap instead of the .mpy files imported
    cwd = os.path.join(tools.ROOT, "build", "mpy-run")
    os.makedirs(cwd, exist_ok=True)

    def cmd(name, url):
        kb = max(heap, scenarios.find(name)[1].get("heap_kb", 0))
        return [mpbuild.micropython(), "-X", "heapsize=%dK" % kb, "-m", "tools.sim.child", name] + extra \
            + (["csms=" + url] if url else [])

    def backend(name):
        """(URL, embedded central system or None) for an OCPP scenario."""
        setup = scenarios.find(name)[1]
        if setup.get("ocpp") is None:
            return None, None
        if opts.get("csms"):
            return opts["csms"], None
        from tools.csms import InThread

        cs = InThread(**setup.get("csms", {})).__enter__()
        return cs.cs.url(setup.get("cp_id", "CP_SIM")), cs

    pending = list(names)
    running = []
    failed = []
    while pending or running:
        while pending and len(running) < 2:
            name = pending.pop(0)
            url, cs = backend(name)
            p = subprocess.Popen(cmd(name, url), cwd=cwd, env=mpbuild.env(out),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append((name, p, cs))
        name, p, cs = running.pop(0)
        text, _ = p.communicate()
        lines = text.rstrip("\n").split("\n")
        print("\n".join(ln for ln in lines if not ln.startswith("RESULT ")))
        bad = p.returncode != 0
        if cs is not None:
            result = [json.loads(ln[7:]) for ln in lines if ln.startswith("RESULT ")]
            bad = _check_backend(name, cs, result[0] if result else None, quiet) or bad
        if bad:
            failed.append(name)
    if len(names) > 1:
        more = ["%s %d" % (n, scenarios.find(n)[1]["heap_kb"]) for n in names
                if scenarios.find(n)[1].get("heap_kb", 0) > heap]
        print("MicroPython: %d scenarios passed, %d failed%s (heap %d KB%s)" % (
            len(names) - len(failed), len(failed), (" (" + ", ".join(failed) + ")") if failed else "", heap,
            ("; " + ", ".join(more)) if more else ""))
    return 1 if failed else 0


def _check_backend(name, cs, result, quiet):
    """Stop the embedded central system and check its records; True when it failed."""
    from tools.sim import ocpplink, scenarios

    try:
        records = cs.records()
    finally:
        cs.__exit__(None, None, None)
    chk = scenarios.find(name)[1].get("check_backend")
    bad = chk(records, result) if chk is not None else []
    print("micropython: backend  %-26s %s" % (name, "FAILED" if bad else "ok"))
    for f in bad:
        print("    - backend: " + f)
    if not quiet:
        ocpplink.backend_summary(records)
    return bool(bad)
