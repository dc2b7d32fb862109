"""Write fuzzing seeds for native/exi/test/exi_fuzz.c: one file per unique corpus payload,
first byte = schema (0 apphand, 1 din, 2 iso2). Usage: python tools/exi/fuzz_seeds.py DIR"""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
SCHEMA = {"SAP": 0, "DIN": 1, "ISO-2": 2}


def seeds():
    """(schema index, payload bytes) of every unique EXI payload in ../shared/corpus."""
    seen = set()
    for path in sorted(glob.glob(os.path.join(CORPUS, "v2gtp", "*.jsonl"))):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                k = (SCHEMA.get(r.get("protocol")), r.get("exi_hex"))
                if k[0] is not None and k[1] and k not in seen:
                    seen.add(k)
                    yield k[0], bytes.fromhex(k[1])


def main(out):
    os.makedirs(out, exist_ok=True)
    n = 0
    for n, (schema, data) in enumerate(seeds(), 1):
        with open(os.path.join(out, "seed%05d" % n), "wb") as f:
            f.write(bytes([schema]) + data)
    print("%d seeds in %s" % (n, out))


if __name__ == "__main__":
    main(sys.argv[1])
