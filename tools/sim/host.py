"""Host side of ``python -m tools.sim --runtime micropython``: compiles the tree to .mpy
and runs each scenario in its own MicroPython process (CPython only)."""
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
    heap = int(opts["heap"])
    # an empty working directory: MicroPython puts '' first on sys.path, and the source
    # tree there would be compiled on the capped heap instead of the .mpy files imported
    cwd = os.path.join(tools.ROOT, "build", "mpy-run")
    os.makedirs(cwd, exist_ok=True)

    def cmd(name):
        kb = max(heap, scenarios.find(name)[1].get("heap_kb", 0))
        return [mpbuild.micropython(), "-X", "heapsize=%dK" % kb, "-m", "tools.sim.child", name] + extra

    pending = list(names)
    running = []
    failed = []
    while pending or running:
        while pending and len(running) < 2:
            name = pending.pop(0)
            p = subprocess.Popen(cmd(name), cwd=cwd, env=mpbuild.env(out),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append((name, p))
        name, p = running.pop(0)
        text, _ = p.communicate()
        print(text.rstrip("\n"))
        if p.returncode != 0:
            failed.append(name)
    if len(names) > 1:
        more = ["%s %d" % (n, scenarios.find(n)[1]["heap_kb"]) for n in names
                if scenarios.find(n)[1].get("heap_kb", 0) > heap]
        print("MicroPython: %d scenarios passed, %d failed%s (heap %d KB%s)" % (
            len(names) - len(failed), len(failed), (" (" + ", ".join(failed) + ")") if failed else "", heap,
            ("; " + ", ".join(more)) if more else ""))
    return 1 if failed else 0
