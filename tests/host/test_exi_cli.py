"""python -m tools.exi decode/encode, native and pure-Python (CPython only: subprocesses)."""
import json
import os
import subprocess
import sys

import pytest

from tools.exigen import grammar, xsd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEX = "809a02000000000000000011d01a121dc983cd6000"


try:
    grammar.schema_dir()
    _SCHEMAS = True
except xsd.SchemaError:
    _SCHEMAS = False

# JSON <-> document needs the datatypes, hence the XSDs (make peers)
pytestmark = pytest.mark.skipif(not _SCHEMAS, reason="V2G XSDs not found (make peers)")


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tools.exi"] + list(args), cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_decode_then_encode_roundtrip():
    for extra in ([], ["--python"]):
        r = _run("decode", "--schema", "din", HEX, *extra)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "84877260F358"
        r = _run("encode", "--schema", "din", "-", *extra, stdin=r.stdout)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == HEX


def test_errors_are_reported_with_bit_position():
    r = _run("decode", "--schema", "din", "809a02")
    assert r.returncode == 1 and "at bit" in r.stderr
    r = _run("encode", "--schema", "apphand", "-", stdin='{"nope": {}}')
    assert r.returncode == 1 and "error" in r.stderr


def test_ordered_content_through_json():
    """xmldsig content in document order, text, a wildcard element, base64 inside "#"."""
    rich = "804284020240373100813000dad0"     # KeyInfo: X509Data(SKI, SubjectName, SKI), KeyName
    for extra in ([], ["--python"]):
        r = _run("decode", "--schema", "iso2", rich, *extra)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["KeyInfo"]["#"][0]["X509Data"]["#"][0] == {"X509SKI": "AQ=="}
        r = _run("encode", "--schema", "iso2", "-", *extra, stdin=r.stdout)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == rich
    doc = {"Object": {"#": ["x", {"{urn:y}c": {"a": "1", "#": ["t"]}}]}}
    r = _run("encode", "--schema", "iso2", "-", stdin=json.dumps(doc))
    assert r.returncode == 0, r.stderr
    r = _run("decode", "--schema", "iso2", r.stdout.strip(), "--python")
    assert json.loads(r.stdout) == doc
