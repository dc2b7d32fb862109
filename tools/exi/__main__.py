"""EXI command line for the V2G schemas.

  python -m tools.exi decode --schema din|iso2|apphand|iso20_cm|iso20_ac|iso20_dc|iso20_acdp|iso20_wpt HEX
                                                               -> document as JSON
  python -m tools.exi encode --schema ... FILE|-                -> EXI as hex

Uses the native codec (native/build, ``make -C native host``) when it is built, else the
pure-Python codec of tools.exi.pycodec (``--python`` forces it). JSON follows the reference
codec's convention: hexBinary as hex, base64Binary as base64.
"""
import argparse
import json
import os
import sys

from tools.exi import jsonmap, pycodec
from tools.exigen import grammar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def codec(force_python=False):
    """The native `exi` module if built (and not forced off), else tools.exi.pycodec."""
    if not force_python:
        build = os.path.join(ROOT, "native", "build")
        if build not in sys.path:
            sys.path.insert(0, build)
        try:
            import exi
            return exi
        except ImportError:
            pass
    return pycodec


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.exi", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("decode", "encode"):
        p = sub.add_parser(name)
        p.add_argument("--schema", required=True, choices=grammar.GENERATED)
        p.add_argument("--python", action="store_true", help="use the pure-Python codec")
        p.add_argument("input", help="hex (decode) or JSON file, - for stdin (encode)")
    sub.choices["encode"].add_argument("--compat", action="store_true",
                                       help="write what OpenV2G/libcbv2g write: no string table "
                                            "hits, empty values as zero-length content")
    a = ap.parse_args(argv)
    c = codec(a.python)
    try:
        if a.cmd == "decode":
            text = a.input if a.input != "-" else sys.stdin.read()
            doc = c.decode(a.schema, bytes.fromhex("".join(text.split())))
            print(json.dumps(jsonmap.to_json(a.schema, doc), indent=1))
        else:
            f = sys.stdin if a.input == "-" else open(a.input)
            doc = jsonmap.from_json(a.schema, json.load(f))
            data = c.encode(a.schema, doc, pycodec.COMPAT if a.compat else 0)
            print(data.hex())
    except (ValueError, TypeError) as e:
        msg = "%s at bit %d" % e.args if len(e.args) == 2 else str(e)
        print("error: %s" % msg, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
