"""Host side of ``python -m tools.sim --runtime micropython``: compiles the tree to .mpy
and runs each scenario in its own MicroPython process (CPython only)."""
import os
import subprocess

import tools
from tools.sim import mpbuild


def micropython_runs(names, argv, heap, jobs=2):
    """Run scenarios under the MicroPython unix port, one process each, ``jobs`` at once."""
    out, errors = mpbuild.build()
    if errors:
        print("\n".join(errors))
        return 1
    keep = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a in ("--runtime", "--heap", "--scenario"):
            skip = True
        elif i and argv[i - 1] in ("--json", "--pcap"):
            keep.append(os.path.abspath(a))
        elif a != "--all":
            keep.append(a)
    # an empty working directory: MicroPython puts '' first on sys.path, and the source
    # tree there would be compiled on the capped heap instead of the .mpy files imported
    cwd = os.path.join(tools.ROOT, "build", "mpy-run")
    os.makedirs(cwd, exist_ok=True)
    if len(names) > 1 and "--quiet" not in keep:
        keep.append("--quiet")
    from tools.sim import scenarios

    def cmd(name):
        need = scenarios.find(name)[1].get("heap_kb", 0)
        kb = max(int(heap), need)
        return [mpbuild.micropython(), "-X", "heapsize=%dK" % kb, "-m", "tools.sim"] + keep + [
            "--scenario", name]

    pending = list(names)
    running = []
    failed = []
    while pending or running:
        while pending and len(running) < jobs:
            name = pending.pop(0)
            p = subprocess.Popen(cmd(name), cwd=cwd, env=mpbuild.env(out),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append((name, p))
        name, p = running.pop(0)
        text, _ = p.communicate()
        lines = [ln for ln in text.splitlines() if not ln.startswith("MicroPython:")]
        print("\n".join(lines))
        if p.returncode != 0:
            failed.append(name)
    if len(names) > 1:
        more = ["%s %d" % (n, scenarios.find(n)[1]["heap_kb"]) for n in names
                if scenarios.find(n)[1].get("heap_kb", 0) > int(heap)]
        print("MicroPython: %d scenarios passed, %d failed%s (heap %s KB%s)" % (
            len(names) - len(failed), len(failed), (" (" + ", ".join(failed) + ")") if failed else "", heap,
            ("; " + ", ".join(more)) if more else ""))
    return 1 if failed else 0
