"""Document <-> JSON, in the reference codec's convention (EXICodec.jar as Josev uses it):
hexBinary as upper-case hex, base64Binary as base64, everything else as is."""
import base64

from tools.exi import pycodec


def _maps(m):
    """Per grammar: {child name: element index} and {attribute name: datatype index}."""
    cache = getattr(m, "_json_maps", None)
    if cache is None:
        cache = []
        for g in m.grammars:
            kids, attrs = {}, {}
            for st in g:
                for ev, arg, _t, _l, _x in st:
                    if ev == "SE":
                        kids.setdefault(m.elements[arg].name, arg)
                    elif ev == "AT":
                        attrs.setdefault(m.attrs[arg][1], m.attrs[arg][2])
            cache.append((kids, attrs))
        m._json_maps = cache
    return cache


def _conv(m, dti, v, out):
    dt = m.datatypes[dti]
    if dt.kind == "binary":
        if out:
            return v.hex().upper() if dt.base == "hexBinary" else base64.b64encode(v).decode()
        return bytes.fromhex(v) if dt.base == "hexBinary" else base64.b64decode(v)
    if dt.kind == "list":
        item = m.datatype(dt.item)
        return [_conv(m, item, x, out) for x in v]
    return v


def _walk(m, ei, v, out):
    el = m.elements[ei]
    simple = m.gram_simple[el.grammar]
    kids, attrs = _maps(m)[el.grammar]
    if not isinstance(v, dict):
        return _conv(m, simple, v, out) if simple >= 0 else v
    res = {}
    for k, x in v.items():
        if k == pycodec.CONTENT and isinstance(x, list):
            res[k] = [_item(m, kids, y, out) for y in x]
        elif k in kids:
            if isinstance(x, list):
                res[k] = [_walk(m, kids[k], y, out) for y in x]
            else:
                res[k] = _walk(m, kids[k], x, out)
        elif k in attrs:
            res[k] = _conv(m, attrs[k], x, out)
        elif k == "value" and simple >= 0:
            res[k] = _conv(m, simple, x, out)
        else:
            res[k] = x
    return res


def _item(m, kids, y, out):
    """An ordered content item: text, a declared child, or a wildcard element."""
    if not isinstance(y, dict) or len(y) != 1:
        return y
    (k, x), = y.items()
    if k in kids:
        return {k: _walk(m, kids[k], x, out)}
    ei = m.globals_by_qname.get(pycodec.split_qkey(k))
    if ei is not None:
        return {k: _walk(m, ei, x, out)}
    if isinstance(x, dict):      # undeclared: xs:anyType content (str values, items)
        return {k: dict((a, [_item(m, {}, z, out) for z in b] if a == pycodec.CONTENT else b)
                        for a, b in x.items())}
    return y


def _root(schema, doc, out):
    m = pycodec.model(schema)
    (name, v), = doc.items()
    for ei in m.doc_elements:
        if m.elements[ei].name == name:
            return {name: _walk(m, ei, v, out)}
    raise pycodec.ExiError("unknown root element %r" % name)


def to_json(schema, doc):
    """Decoded document -> JSON-ready object (bytes become hex/base64 strings)."""
    return _root(schema, doc, True)


def from_json(schema, obj):
    """JSON object (reference convention) -> document for encode()."""
    return _root(schema, obj, False)
