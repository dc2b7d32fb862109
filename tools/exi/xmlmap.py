"""Document -> XML text, through the events the Python codec writes for it: feeds the
reference codec's own XML front end (EXIficient's SAX encoder in EXICodec.jar), which takes
every construct of the schemas (wildcards, mixed text, xsi:type/xsi:nil, document order)
where its JSON layer cannot. Host only (tests/host/test_exi_jar.py)."""
import base64

from tools.exi import pycodec


def _esc(s, attr=False):
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attr:
        s = s.replace('"', "&quot;")
    return s.replace("\r", "&#13;")


def _lexical(m, dti, v):
    dt = m.datatypes[dti]
    if dt.kind == "bool":
        return "true" if v else "false"
    if dt.kind == "binary":
        return v.hex().upper() if dt.base == "hexBinary" else base64.b64encode(v).decode()
    if dt.kind == "list":
        item = m.datatype(dt.item)
        return " ".join(_lexical(m, item, x) for x in v)
    return str(v)


def to_xml(schema, doc):
    """The XML document whose EXI encoding is pycodec.encode(schema, doc)."""
    m = pycodec.model(schema)
    ev = pycodec.events(schema, doc)
    prefixes = {}
    decl = []

    def pfx(uri):
        if not uri:
            return ""
        if uri not in prefixes:
            prefixes[uri] = "n%d" % len(prefixes)
            decl.append(uri)
        return prefixes[uri] + ":"

    out = []
    stack = []
    open_tag = False
    for e in ev:
        if e[0] == "SE":
            if open_tag:
                out.append(">")
            out.append("<" + pfx(e[1]) + e[2])
            stack.append(pfx(e[1]) + e[2])
            open_tag = True
        elif e[0] == "AT":
            v = e[3]
            if e[1] == pycodec.XSI_NS and e[2] == "type":
                v = pfx(v[0]) + v[1]
            elif isinstance(v, tuple):
                v = _lexical(m, v[0], v[1])
            out.append(" %s%s=\"%s\"" % (pfx(e[1]), e[2], _esc(v, True)))
        elif e[0] == "CH":
            if open_tag:
                out.append(">")
                open_tag = False
            v = e[1]
            out.append(_esc(v if isinstance(v, str) else _lexical(m, v[0], v[1])))
        else:
            name = stack.pop()
            if open_tag:
                out.append("/>")
                open_tag = False
            else:
                out.append("</%s>" % name)
    text = "".join(out)
    # every namespace is declared on the root element, after its name
    first = text.split(">")[0].rstrip("/")
    i = first.index(" ") if " " in first else len(first)
    ns = "".join(' xmlns:%s="%s"' % (prefixes[u], _esc(u, True)) for u in decl)
    return text[:i] + ns + text[i:]
