"""Command-line splitting for the host tools that also run under MicroPython (no argparse
there): ``--key value`` and bare ``--flag`` (value "1") into a dict, the rest positional."""


def split(argv):
    """(positional list, {option: value})."""
    pos = []
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                opts[a[2:]] = argv[i + 1]
                i += 2
            else:
                opts[a[2:]] = "1"
                i += 1
        else:
            pos.append(a)
            i += 1
    return pos, opts
