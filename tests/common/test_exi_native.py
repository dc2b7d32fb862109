"""The native `exi` module: the natmod (native/build/x64/exi.mpy) under MicroPython, the
CPython extension (native/build/exi*.so) under CPython; same tests, same vectors.

Build first: make -C native host natmod ARCH=x64. If the module or the corpus vectors
are missing, each test prints SKIP and returns."""
import binascii
import json
import os
import sys

from tests.common.support import raises

_MPY = sys.implementation.name == "micropython"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _root():
    """The project root: above this file, or above the working directory (tools.mptest runs
    the compiled tests from build/mpy-run)."""
    f = globals().get("__file__", "tests/common/test_exi_native.py").replace("\\", "/")
    bases = ["/".join(f.split("/")[:-3]) or "."]
    for up in ("", "..", "../..", "../../.."):
        bases.append(up or ".")
    for base in bases:
        if _exists(base + "/native/exi/exi.h"):
            return base
    return "."


_ROOT = _root()
_VECTORS = _ROOT + "/../shared/corpus/vectors/exi_vectors.jsonl"


def _exi():
    path = _ROOT + ("/native/build/x64" if _MPY else "/native/build")
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        import exi
        return exi
    except ImportError:
        if os.getenv("EXI_REQUIRED"):  # make test builds it first: missing there is a failure
            raise AssertionError("native exi not built in %s" % path)
        print("SKIP: native exi not built (make -C native %s)" % ("natmod ARCH=x64" if _MPY else "host"))
        return None


def _vectors():
    """The vectors one at a time (the heap of the unix-port run is small)."""
    try:
        f = open(_VECTORS)
    except OSError:
        print("SKIP: %s not found" % _VECTORS)
        return
    with f:
        for line in f:
            yield json.loads(line)


def _json(v):
    # hex like the reference decode (the vectors carry no base64Binary values)
    if isinstance(v, dict):
        return dict((k, _json(x)) for k, x in v.items())
    if isinstance(v, list):
        return [_json(x) for x in v]
    if isinstance(v, bytes):
        return binascii.hexlify(v).decode().upper()
    return v


def test_vectors_decode_and_reencode():
    exi = _exi()
    if exi is None:
        return
    n = 0
    for v in _vectors():
        data = binascii.unhexlify(v["exi_hex"])
        doc = exi.decode(v["schema"], data)
        assert _json(doc) == v["json"], v["name"]
        assert exi.encode(v["schema"], doc) == data, v["name"]
        n += 1
    assert n == 0 or n == 25


def test_encode_into_preallocated_buffer():
    exi = _exi()
    if exi is None:
        return
    doc = {"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 1}}
    buf = bytearray(64)
    n = exi.encode_into("apphand", doc, buf)
    assert bytes(buf[:n]) == b"\x80\x40\x00\x40"
    assert exi.decode("apphand", memoryview(buf)[:n]) == doc
    e = raises(ValueError, exi.encode_into, "apphand", doc, bytearray(2))
    assert "too small" in e.args[0]


def test_truncated_input_raises_with_bit_position():
    exi = _exi()
    if exi is None:
        return
    data = binascii.unhexlify("809a02000000000000000011d01a121dc983cd6000")
    for n in range(len(data) - 2):
        e = raises(ValueError, exi.decode, "din", data[:n])
        assert 0 <= e.args[1] <= 8 * n
    assert raises(ValueError, exi.decode, "din", b"\x81").args[1] == 0


def test_bad_documents_raise():
    exi = _exi()
    if exi is None:
        return
    raises(TypeError, exi.encode, "din",
           {"V2G_Message": {"Header": {"SessionID": 1}, "Body": {}}})
    raises(ValueError, exi.encode, "din",
           {"V2G_Message": {"Header": {"SessionID": b"\x01"}, "Body": {"SessionSetupReq": {}}}})
    raises(ValueError, exi.encode, "apphand", {"unknown": {}})
    raises(ValueError, exi.decode, "nope", b"\x80")


def test_integers_of_all_widths():
    exi = _exi()
    if exi is None:
        return
    # DIN SessionSetupRes DateTimeNow is xs:long
    for t in (0, 1, -1, 1700000000, (1 << 62) + 5, -(1 << 63), (1 << 63) - 1):
        doc = {"V2G_Message": {"Header": {"SessionID": b"\x01\x02"}, "Body": {"SessionSetupRes": {
            "ResponseCode": "OK", "EVSEID": b"\x00", "DateTimeNow": t}}}}
        assert exi.decode("din", exi.encode("din", doc)) == doc
    doc["V2G_Message"]["Body"]["SessionSetupRes"]["DateTimeNow"] = 1 << 63
    raises(ValueError, exi.encode, "din", doc)


def test_unbounded_integers_beyond_64_bits():
    """xs:integer (X509SerialNumber in ISO-2 Plug & Charge) keeps its full width."""
    exi = _exi()
    if exi is None:
        return
    for sn in (0, -1, 1 << 63, (1 << 64) - 1, 1 << 64, -(1 << 64) - 1, (1 << 100) + 3,
               -(1 << 159) + 7, 1 << 511):
        doc = {"V2G_Message": {"Header": {"SessionID": b"\x01"}, "Body": {"CertificateInstallationReq": {
            "Id": "i1", "OEMProvisioningCert": b"\x30\x82", "ListOfRootCertificateIDs": {
                "RootCertificateID": [{"X509IssuerName": "CN=V2G", "X509SerialNumber": sn}]}}}}}
        assert exi.decode("iso2", exi.encode("iso2", doc)) == doc
    # bounded types stay bounded: EVSETimeStamp is xs:long
    doc = {"V2G_Message": {"Header": {"SessionID": b"\x01"}, "Body": {"SessionSetupRes": {
        "ResponseCode": "OK", "EVSEID": "x", "EVSETimeStamp": 1 << 63}}}}
    raises(ValueError, exi.encode, "iso2", doc)


_XS = "{http://www.w3.org/2001/XMLSchema}"
# xmldsig content the JSON layer of the reference cannot carry: bytes written by
# EXICodec.jar's EXIficient core from the equivalent XML (tests/host/test_exi_jar.py)
_ORDERED = (
    ("804284020240373100813000dad0",     # repeated choices keep document order
     {"KeyInfo": {"#": [{"X509Data": {"#": [{"X509SKI": b"\x01"}, {"X509SubjectName": "s"},
                                             {"X509SKI": b"\x02"}]}}, {"KeyName": "k"}]}}),
    ("8042006d300ed0cad8d8de0036b4833a30b4b640",     # mixed text
     {"KeyInfo": {"Id": "i", "#": ["hello", {"KeyName": "k"}, "tail"]}}),
    ("8043000aeae4dc74f008ccdede9805000c0204c20662c0dd0a046261724c02800625e8014c02800630375600",
     {"KeyInfo": {"#": [{"{urn:x}foo": {"a": "1", "#": ["t", {"{urn:x}bar": {}}]}},
                        {"{urn:x}foo": {"#": ["u"]}}]}}),      # undeclared elements (xs:anyType)
    ("80423504a004e0373400",     # xsi:nil, xsi:type
     {"KeyInfo": {"#": [{"KeyName": {"xsi:nil": True}},
                        {"KeyName": {"xsi:type": _XS + "string", "value": "s"}}]}}),
    ("8050d400800dad01bc000aeae4dc74f204c69805001d4088",
     {"Object": {"#": [{"{http://www.w3.org/2000/09/xmldsig#}KeyName": "k"}, "x",
                       {"{urn:y}c": {"xsi:type": _XS + "int", "value": -3}}]}}),
    ("80880361002800575726e3a7802704c028006240",
     {"SignatureMethod": {"Algorithm": "a", "#": [{"HMACOutputLength": 5}, {"{urn:x}p": {}}]}}),
)


def test_wildcards_mixed_text_order_and_xsi():
    exi = _exi()
    if exi is None:
        return
    for hexdata, doc in _ORDERED:
        data = binascii.unhexlify(hexdata)
        assert exi.decode("iso2", data) == doc, hexdata
        assert exi.encode("iso2", doc) == data, hexdata
    # children grouped by name (no "#") still encode, in schema order
    grouped = {"KeyInfo": {"KeyName": ["k"], "X509Data": [{"X509SKI": [b"\x01"]}]}}
    assert exi.decode("iso2", exi.encode("iso2", grouped)) == {
        "KeyInfo": {"#": [{"KeyName": "k"}, {"X509Data": {"#": [{"X509SKI": b"\x01"}]}}]}}
    raises(TypeError, exi.encode, "iso2", {"KeyInfo": {"#": [{"KeyName": "k", "x": 1}]}})
    raises(ValueError, exi.encode, "iso2", {"KeyInfo": {"#": [""]}})
    raises(ValueError, exi.encode, "iso2",
           {"KeyInfo": {"#": [{"KeyName": {"xsi:type": _XS + "nope", "value": "s"}}]}})
