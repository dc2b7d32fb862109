"""python -m tools.exigen [--schemas DIR] [--out DIR] [--check]: regenerate native/exi/gen/."""
import argparse
import os
import sys

from . import cgen, grammar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.exigen", description=__doc__)
    ap.add_argument("--schemas", help="directory of the V2G XSDs (iso15118/shared/schemas)")
    ap.add_argument("--out", default=os.path.join(ROOT, "native", "exi", "gen"))
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    a = ap.parse_args(argv)
    stale = []
    for schema in grammar.GENERATED:
        text, _names = cgen.generate(schema, grammar.load(schema, a.schemas))
        path = os.path.join(a.out, "exi_%s.c" % schema)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(path)
            if not a.check:
                os.makedirs(a.out, exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)
    if a.check and stale:
        print("stale: %s" % " ".join(stale))
        return 1
    print("%s: %d file(s) %s" % (a.out, len(stale), "stale" if a.check else "written"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
