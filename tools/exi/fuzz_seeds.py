"""Write fuzzing seeds for native/exi/test/exi_fuzz.c: one file per unique corpus payload,
plus generated xmldsig content the corpus lacks (wildcards, mixed text, xsi:type/xsi:nil,
document order); first byte = schema (0 apphand, 1 din, 2 iso2).
Usage: python tools/exi/fuzz_seeds.py DIR"""
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


def rich_seeds(n=160):
    """(schema index, payload) of n generated documents with the xmldsig constructs the
    corpus lacks (tools.exi.docgen rich=True, encoded by the Python codec); none without
    the XSDs."""
    import random
    sys.path.insert(0, ROOT)
    try:
        from tools.exi import docgen, pycodec
        pycodec.model("iso2")
    except Exception:
        return
    rnd = random.Random(15118)
    roots = ("Signature", "KeyInfo", "Object", "X509Data", "Transform", "SignatureProperties",
             "SignatureMethod", "PGPData", "SPKIData", "KeyValue")
    for i in range(n):
        schema = ("din", "iso2")[i % 2]
        gen = docgen.Generator(schema, rnd.randint, max_depth=5, rich=True)
        yield (1 if schema == "din" else 2), pycodec.encode(schema, gen.document(root=roots[i % len(roots)]))


def main(out):
    os.makedirs(out, exist_ok=True)
    n = 0
    import itertools
    for n, (schema, data) in enumerate(itertools.chain(seeds(), rich_seeds()), 1):
        with open(os.path.join(out, "seed%05d" % n), "wb") as f:
            f.write(bytes([schema]) + data)
    print("%d seeds in %s" % (n, out))


if __name__ == "__main__":
    main(sys.argv[1])
