"""The native codec against the reference: EXICodec.jar (EXIficient, as Josev uses it),
driven through py4j. Hypothesis walks the EXI grammars to make schema-valid documents of
every message type; both codecs encode them and must write identical bytes, and each
decodes the other's output to the same document. Two ways into the jar: its JSON layer
(what Josev uses), and its EXIficient core fed XML (tools.exi.xmlmap) for what the JSON
layer cannot carry: wildcards, mixed text, document order, xsi:type/xsi:nil, AC-DP, WPT.

CPython only: a JVM through py4j, hypothesis. Needs py4j and the jar from the iso15118
wheel under .deps/ (see native/STATUS.md); skipped otherwise.
EXI_JAR_EXAMPLES=N raises the examples per message type (default 8).
"""
import glob
import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "native", "build"))

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tools.exi import docgen, jsonmap, pycodec  # noqa: E402

try:
    import exi
except ImportError:
    exi = None

JARS = sorted(glob.glob(os.path.join(ROOT, ".deps", "iso15118", "iso15118", "shared", "EXICodec.jar")) +
              glob.glob(os.path.join(ROOT, ".deps", "*", "lib", "python3*", "site-packages",
                                     "iso15118", "shared", "EXICodec.jar")))
NS = {"apphand": "urn:iso:15118:2:2010:AppProtocol", "din": "urn:din:70121:2012:MsgDef",
      "iso2": "urn:iso:15118:2:2013:MsgDef"}
EXAMPLES = int(os.environ.get("EXI_JAR_EXAMPLES", "8"))
# The jar's JSON layer needs javax.mail for base64Binary (Debian: libmail-java)
MAIL = [p for p in ("/usr/share/java/javax.mail.jar",) if os.path.exists(p)]

try:
    import py4j  # noqa: F401
    _PY4J = True
except ImportError:
    _PY4J = False

pytestmark = [
    pytest.mark.skipif(exi is None, reason="native exi not built: make -C native host"),
    pytest.mark.skipif(not JARS, reason="EXICodec.jar not under .deps (iso15118 wheel)"),
    pytest.mark.skipif(not _PY4J, reason="py4j not installed"),
]

_GATEWAY = []
STATS = {}


def _jar():
    if not _GATEWAY:
        from py4j.java_gateway import JavaGateway
        gw = JavaGateway.launch_gateway(classpath=":".join([JARS[0]] + MAIL), die_on_exit=True,
                                        javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"])
        _GATEWAY.append(gw)
        _GATEWAY.append(gw.jvm.com.siemens.ct.exi.main.cmd.EXICodec())
    return _GATEWAY[1]


def teardown_module(module):
    if _GATEWAY:
        _GATEWAY[0].shutdown()
    for k in sorted(STATS):
        print("jar %-40s %s" % (k, STATS[k]))


def _jar_cannot_map(schema, doc, js):
    """Documents the jar's JSON/JAXB layer cannot express (not EXI questions): base64Binary
    without javax.mail on the class path, IDREF attributes (JAXB resolves them as object
    references: DIN's Id attributes), empty strings inside lists (dropped)."""
    m = pycodec.model(schema)
    idref = set(a[1] for a in m.attrs if m.datatypes[a[2]].base == "IDREF")
    if any('"%s":' % n in js for n in idref):
        return "IDREF attribute"
    # xmldsig repeated choices: the jar keeps the JSON key order of the children, the dict
    # representation groups them by name and the encoder writes them in schema order
    if any('"%s":' % n in js for n in REPEATED_CHOICE):
        return "repeated choice"
    if re.search(r'\[[^\[\]]*""', js):
        return "empty list item"     # the jar's JSON layer drops it
    b64 = [m.elements[i].name for i in range(len(m.elements))
           if m.gram_simple[m.elements[i].grammar] >= 0
           and m.datatypes[m.gram_simple[m.elements[i].grammar]].base == "base64Binary"]
    if not MAIL and any('"%s":' % n in js for n in b64):
        return "base64Binary"
    return None


REPEATED_CHOICE = ("KeyInfo", "X509Data", "PGPData", "SPKIData", "XPath")


def _added_defaults(theirs, ours):
    """True if `theirs` is `ours` plus keys holding 0/False: JAXB maps some optional elements
    to Java primitives and writes their default when the JSON leaves them out."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        extra = set(theirs) - set(ours)
        if set(ours) - set(theirs) or any(theirs[k] not in (0, False) for k in extra):
            return False
        return all(_added_defaults(theirs[k], ours[k]) for k in ours)
    if isinstance(theirs, list) and isinstance(ours, list):
        return len(theirs) == len(ours) and all(_added_defaults(a, b) for a, b in zip(theirs, ours))
    return theirs == ours


def _reads_back(schema, data, doc):
    """Both decoders read data as doc; docgen's default documents give xmldsig repeated
    choices grouped by name (an input form the encoders accept), decoding gives them in
    document order under "#": then the decoded form must encode to the same bytes."""
    got = exi.decode(schema, data)
    assert pycodec.decode(schema, data) == got
    if got != doc:
        assert '"#"' in json.dumps(got, default=repr), (got, doc)
        assert exi.encode(schema, got) == data == pycodec.encode(schema, got)


CASES = [(s, n) for s in ("apphand", "din", "iso2") for n in docgen.message_names(s)] if exi and JARS else []


@pytest.mark.parametrize("schema,message", CASES)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(data=st.data())
def test_same_bytes_as_reference(schema, message, data):
    gen = docgen.Generator(schema, lambda lo, hi: data.draw(st.integers(lo, hi)))
    if schema == "apphand":
        doc = gen.document(root=message)
    else:
        doc = gen.document(body=message)
    ours = exi.encode(schema, doc)
    _reads_back(schema, ours, doc)
    assert pycodec.encode(schema, doc) == ours          # second oracle
    js = json.dumps(jsonmap.to_json(schema, doc))
    why = _jar_cannot_map(schema, doc, js)
    key = "%s %s" % (schema, message)
    s = STATS.setdefault(key, {"compared": 0, "skipped": 0})
    if why:
        s["skipped"] += 1
        return
    codec = _jar()
    theirs = codec.encode(js, NS[schema])
    assert theirs is not None, codec.get_last_encoding_error()
    theirs = bytes(theirs)
    if ours != theirs:
        seen = codec.decode(theirs, NS[schema])
        if seen is not None and _added_defaults(json.loads(seen), json.loads(js)):
            s["skipped"] += 1        # the jar encoded a document with JAXB defaults added
            return
    assert ours == theirs, (js, ours.hex(), theirs.hex())
    _reads_back(schema, theirs, doc)
    back = codec.decode(ours, NS[schema])
    assert back is not None, codec.get_last_decoding_error()
    if json.loads(back) != json.loads(js):
        # the jar's JSON differs in form for some xmldsig content (mixed types as lists):
        # then its own round trip must give our bytes back
        again = codec.encode(back, NS[schema])
        assert again is not None and bytes(again) == ours, (js, back)
    s["compared"] += 1


def test_reference_rejects_string_table_hits():
    """Why STRING_TABLE is off by default: the V2G profile of the reference has no value
    string table; it writes literals and cannot read a hit."""
    doc = {"supportedAppProtocolReq": {"AppProtocol": [
        {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2,
         "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1},
        {"ProtocolNamespace": "urn:din:70121:2012:MsgDef", "VersionNumberMajor": 2,
         "VersionNumberMinor": 1, "SchemaID": 2, "Priority": 2}]}}
    codec = _jar()
    assert bytes(codec.encode(json.dumps(doc), NS["apphand"])) == exi.encode("apphand", doc)
    assert codec.decode(exi.encode("apphand", doc, exi.STRING_TABLE), NS["apphand"]) is None


# ISO 15118-20 (CommonMessages, AC, DC): the native codec (host build, -DEXI_ISO20) and the
# pure-Python oracle against the reference. (The jar's JSON layer has no ACDP/WPT mapping.)
CASES20 = [(s, n) for s in ("iso20_cm", "iso20_ac", "iso20_dc") for n in docgen.message_names(s)] if JARS else []
NS20 = {"iso20_cm": "urn:iso:std:iso:15118:-20:CommonMessages", "iso20_ac": "urn:iso:std:iso:15118:-20:AC",
        "iso20_dc": "urn:iso:std:iso:15118:-20:DC"}


@pytest.mark.parametrize("schema,message", CASES20)
@settings(max_examples=max(2, EXAMPLES // 2), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(data=st.data())
def test_iso20_same_bytes_as_reference(schema, message, data):
    gen = docgen.Generator(schema, lambda lo, hi: data.draw(st.integers(lo, hi)))
    doc = gen.document(root=message)
    ours = exi.encode(schema, doc)
    _reads_back(schema, ours, doc)
    assert pycodec.encode(schema, doc) == ours
    js = json.dumps(jsonmap.to_json(schema, doc))
    if _jar_cannot_map(schema, doc, js):
        return
    codec = _jar()
    theirs = bytes(codec.encode(js, NS20[schema]))
    if ours != theirs:
        seen = codec.decode(theirs, NS20[schema])
        if seen is not None and _added_defaults(json.loads(seen), json.loads(js)):
            return
    assert ours == theirs, (js, ours.hex(), theirs.hex())
    _reads_back(schema, theirs, doc)


# ---- the reference's XML front end -------------------------------------------------------
# EXICodec.jar's JSON/JAXB layer cannot express wildcard content, mixed text, xsi:type /
# xsi:nil or the order of repeated choices, and has no ACDP/WPT mapping. Its EXIficient core
# can: documents go in as XML (tools.exi.xmlmap) through EXIficient's SAX encoder with the
# factory configured as EXICodec configures its own (no value string table, no built-in
# element grammars or productions) and the jar's precompiled grammars for each schema.
GRAMMARS = {"apphand": "CommonAppProtocol", "din": "DINSpec_70121", "iso2": "ISO15118_2Grammar",
            "iso20_cm": "ISO15118_20_V2G_CI_CommonMessages", "iso20_ac": "ISO15118_20_V2G_CI_AC",
            "iso20_dc": "ISO15118_20_V2G_CI_DC", "iso20_acdp": "ISO15118_20_V2G_CI_ACDP",
            "iso20_wpt": "ISO15118_20_V2G_CI_WPT"}
_XML = {}
NATIVE = ("apphand", "din", "iso2", "iso20_cm", "iso20_ac", "iso20_dc", "iso20_acdp", "iso20_wpt")   # host build


def _factory(schema):
    if schema not in _XML:
        _jar()
        jvm = _GATEWAY[0].jvm
        f = jvm.com.siemens.ct.exi.core.helpers.DefaultEXIFactory.newInstance()
        f.setGrammars(getattr(jvm.com.siemens.ct.exi.main.generatedgrammar, GRAMMARS[schema])())
        f.setValueMaxLength(0)
        f.setValuePartitionCapacity(0)
        f.setMaximumNumberOfBuiltInElementGrammars(0)
        f.setMaximumNumberOfBuiltInProductions(0)
        _XML[schema] = f
    return _GATEWAY[0].jvm, _XML[schema]


def jar_encode_xml(schema, xml):
    jvm, f = _factory(schema)
    bos = jvm.java.io.ByteArrayOutputStream()
    res = jvm.com.siemens.ct.exi.main.api.sax.EXIResult(f)
    res.setOutputStream(bos)
    spf = jvm.javax.xml.parsers.SAXParserFactory.newInstance()
    spf.setNamespaceAware(True)
    reader = spf.newSAXParser().getXMLReader()
    reader.setContentHandler(res.getHandler())
    reader.parse(jvm.org.xml.sax.InputSource(jvm.java.io.StringReader(xml)))
    return bytes(bos.toByteArray())


def jar_decode_to_xml(schema, data):
    jvm, f = _factory(schema)
    src = jvm.com.siemens.ct.exi.main.api.sax.EXISource(f)
    src.setInputSource(jvm.org.xml.sax.InputSource(jvm.java.io.ByteArrayInputStream(data)))
    sw = jvm.java.io.StringWriter()
    jvm.javax.xml.transform.TransformerFactory.newInstance().newTransformer().transform(
        src, jvm.javax.xml.transform.stream.StreamResult(sw))
    return sw.toString()


def _xml_case(schema, doc, key):
    from tools.exi import xmlmap
    ours = pycodec.encode(schema, doc)
    assert pycodec.decode(schema, ours) == doc
    if schema in NATIVE:
        assert exi.encode(schema, doc) == ours
    theirs = jar_encode_xml(schema, xmlmap.to_xml(schema, doc))
    assert ours == theirs, (doc, ours.hex(), theirs.hex())
    if schema in NATIVE:
        assert exi.decode(schema, theirs) == doc
    assert jar_decode_to_xml(schema, ours)          # the reference reads our bytes
    s = STATS.setdefault(key, {"compared": 0, "skipped": 0})
    s["compared"] += 1
    return ours


XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
DSIG_ROOTS = sorted(set(
    pycodec.model("iso2").elements[ei].name for ei in pycodec.model("iso2").doc_elements
    if pycodec.model("iso2").elements[ei].ns == XMLDSIG)) if JARS else []
_SET = dict(deadline=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.large_base_example, HealthCheck.filter_too_much])


@pytest.mark.parametrize("root", DSIG_ROOTS)
@settings(max_examples=EXAMPLES * 3, **_SET)
@given(data=st.data())
def test_xmldsig_rich_content_same_bytes_as_reference(root, data):
    """Every xmldsig element as the document root (global elements of the ISO-2 schema),
    with wildcard elements, mixed text, document order, xsi:type and xsi:nil."""
    gen = docgen.Generator("iso2", lambda lo, hi: data.draw(st.integers(lo, hi)), rich=True)
    _xml_case("iso2", gen.document(root=root), "xml iso2 " + root)


RICH = [(s, n) for s in ("din", "iso2") for n in docgen.message_names(s, rich=True)] if JARS else []


@pytest.mark.parametrize("schema,message", RICH)
@settings(max_examples=max(2, EXAMPLES // 2), **_SET)
@given(data=st.data())
def test_rich_messages_same_bytes_as_reference(schema, message, data):
    """Whole V2G messages (headers with signatures) through the XML front end."""
    gen = docgen.Generator(schema, lambda lo, hi: data.draw(st.integers(lo, hi)), rich=True)
    _xml_case(schema, gen.document(body=message), "xml %s %s" % (schema, message))


ISO20_XML = [(s, n) for s in ("iso20_cm", "iso20_ac", "iso20_dc", "iso20_acdp", "iso20_wpt")
             for n in docgen.message_names(s, rich=True)] if JARS else []


@pytest.mark.parametrize("schema,message", ISO20_XML)
@settings(max_examples=max(2, EXAMPLES // 2), **_SET)
@given(data=st.data())
def test_iso20_all_grammars_same_bytes_as_reference(schema, message, data):
    """ISO 15118-20 including AC-DP and WPT (the jar carries their grammars; only its JSON
    layer lacks them): the Python codec against the reference."""
    gen = docgen.Generator(schema, lambda lo, hi: data.draw(st.integers(lo, hi)), rich=True)
    _xml_case(schema, gen.document(root=message), "xml %s %s" % (schema, message))
