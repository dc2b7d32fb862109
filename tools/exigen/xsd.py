"""XML Schema reader: the subset of XSD 1.0 the V2G schemas use, resolved into plain objects.

Only what EXI grammars need is kept: element declarations (global and local, substitution
groups, abstract), complex types (attribute uses, content particles, simple content,
mixed, extension/restriction), simple types reduced to an EXI datatype (see Datatype).
"""
import os
import xml.etree.ElementTree as ET

XS = "http://www.w3.org/2001/XMLSchema"
_T = "{%s}" % XS
UNBOUNDED = -1

# Built-in integer types: (min, max); None = unbounded on that side.
_INT_BOUNDS = {
    "integer": (None, None), "long": (-(1 << 63), (1 << 63) - 1), "int": (-(1 << 31), (1 << 31) - 1),
    "short": (-32768, 32767), "byte": (-128, 127),
    "nonNegativeInteger": (0, None), "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0), "negativeInteger": (None, -1),
    "unsignedLong": (0, (1 << 64) - 1), "unsignedInt": (0, (1 << 32) - 1),
    "unsignedShort": (0, 65535), "unsignedByte": (0, 255),
}
_STRINGISH = ("string", "normalizedString", "token", "language", "Name", "NCName", "NMTOKEN",
              "ID", "IDREF", "ENTITY", "anyURI", "anySimpleType", "QName", "NOTATION")
_BINARY = ("hexBinary", "base64Binary")


class SchemaError(Exception):
    pass


class Datatype:
    """EXI datatype of a simple type: kind is one of int, uint, nbit, bool, string, binary,
    enum, decimal, float, list, datetime. ``base`` names the XSD built-in it derives from."""

    def __init__(self, kind, base, lo=None, hi=None, enum=None, item=None, name=None):
        self.kind = kind
        self.base = base
        self.lo = lo
        self.hi = hi
        self.enum = enum
        self.item = item
        self.name = name

    def key(self):
        return (self.kind, self.base, self.lo, self.hi, tuple(self.enum or ()),
                self.item.key() if self.item else None)

    def __repr__(self):
        return "Datatype(%s %s %s..%s%s)" % (self.kind, self.base, self.lo, self.hi,
                                           " enum%d" % len(self.enum) if self.enum else "")


class ElementDecl:
    def __init__(self, ns, name):
        self.ns = ns
        self.name = name
        self.type = None          # ComplexType or Datatype
        self.abstract = False
        self.nillable = False
        self.subst_head = None    # (ns, name)
        self.is_global = False
        self.members = []         # direct substitution group members (global only)

    @property
    def qname(self):
        return (self.ns, self.name)

    def __repr__(self):
        return "Element({%s}%s)" % (self.ns, self.name)


class AttributeUse:
    def __init__(self, ns, name, dtype, required):
        self.ns = ns
        self.name = name
        self.type = dtype
        self.required = required


class Particle:
    """term: ElementDecl, ('seq', [Particle]), ('choice', [Particle]), ('all', [Particle])
    or ('any', namespace-constraint)."""

    def __init__(self, mn, mx, term):
        self.min = mn
        self.max = mx
        self.term = term


class ComplexType:
    def __init__(self, ns, name):
        self.ns = ns
        self.name = name          # None for anonymous types
        self.attrs = []           # AttributeUse
        self.attr_wildcard = False
        self.content = "empty"    # empty | simple | element
        self.simple = None        # Datatype for simple content
        self.particle = None      # Particle for element content
        self.mixed = False
        self.abstract = False
        self.base = None
        self.resolved = False
        self.node = None
        self.schema = None

    def __repr__(self):
        return "ComplexType({%s}%s)" % (self.ns, self.name)


class _Doc:
    def __init__(self, path, root):
        self.path = path
        self.root = root
        self.tns = root.get("targetNamespace", "")
        self.qualified = root.get("elementFormDefault") == "qualified"
        self.attr_qualified = root.get("attributeFormDefault") == "qualified"


class SchemaSet:
    """All global components of a set of XSD files, by qualified name."""

    def __init__(self, paths):
        self.docs = []
        self.elements = {}
        self.ctypes = {}
        self.stypes = {}
        self.groups = {}
        self.agroups = {}
        self.gattrs = {}
        seen = set()
        todo = [os.path.abspath(p) for p in paths]
        while todo:
            p = todo.pop(0)
            if p in seen:
                continue
            seen.add(p)
            doc = _Doc(p, ET.parse(p).getroot())
            self.docs.append(doc)
            for child in doc.root:
                if child.tag in (_T + "import", _T + "include") and child.get("schemaLocation"):
                    loc = os.path.join(os.path.dirname(p), child.get("schemaLocation"))
                    if not os.path.exists(loc):   # the package keeps xmldsig one level up
                        loc = os.path.join(os.path.dirname(os.path.dirname(p)),
                                           child.get("schemaLocation"))
                    todo.append(os.path.normpath(loc))
        for doc in self.docs:
            self._index(doc)
        self._stype_cache = {}
        for el in list(self.elements.values()):
            self._resolve_element(el, el._node, el._doc)
        for el in self.elements.values():
            if el.subst_head:
                head = self.elements.get(el.subst_head)
                if head is None:
                    raise SchemaError("unknown substitution group head %s" % (el.subst_head,))
                head.members.append(el)

    # -- indexing -------------------------------------------------------------------
    def _index(self, doc):
        for child in doc.root:
            tag = child.tag
            name = child.get("name")
            key = (doc.tns, name)
            if tag == _T + "element":
                el = ElementDecl(doc.tns, name)
                el.is_global = True
                el._node = child
                el._doc = doc
                self.elements[key] = el
            elif tag == _T + "complexType":
                self.ctypes[key] = (child, doc)
            elif tag == _T + "simpleType":
                self.stypes[key] = (child, doc)
            elif tag == _T + "group":
                self.groups[key] = (child, doc)
            elif tag == _T + "attributeGroup":
                self.agroups[key] = (child, doc)
            elif tag == _T + "attribute":
                self.gattrs[key] = (child, doc)

    def qname(self, node, value):
        """Resolve a QName attribute value using the in-scope namespaces of the file."""
        if ":" in value:
            prefix, local = value.split(":", 1)
        else:
            prefix, local = "", value
        nsmap = self._nsmaps.get(id(node))
        if nsmap is None:
            raise SchemaError("no namespace map")
        if prefix not in nsmap:
            raise SchemaError("unknown prefix %r in %r" % (prefix, value))
        return (nsmap[prefix], local)

    # ElementTree drops xmlns declarations: collect them per file once.
    @property
    def _nsmaps(self):
        if not hasattr(self, "_nsmaps_cache"):
            self._nsmaps_cache = {}
            for doc in self.docs:
                ns = {}
                for _ev, (prefix, uri) in ET.iterparse(doc.path, events=("start-ns",)):
                    ns[prefix] = uri
                for node in doc.root.iter():
                    self._nsmaps_cache[id(node)] = ns
        return self._nsmaps_cache

    # -- elements ---------------------------------------------------------------------
    def _resolve_element(self, el, node, doc):
        el.abstract = node.get("abstract") == "true"
        el.nillable = node.get("nillable") == "true"
        if node.get("substitutionGroup"):
            el.subst_head = self.qname(node, node.get("substitutionGroup"))
        t = node.get("type")
        if t:
            el.type = self.type_by_qname(self.qname(node, t))
        else:
            ct = node.find(_T + "complexType")
            st = node.find(_T + "simpleType")
            if ct is not None:
                el.type = self._complex(ct, doc, None)
            elif st is not None:
                el.type = self._simple(st, doc)
            elif el.subst_head:
                head = self.elements[el.subst_head]
                if head.type is None:
                    self._resolve_element(head, head._node, head._doc)
                el.type = head.type
            else:
                el.type = self.anytype()

    def anytype(self):
        if not hasattr(self, "_anytype"):
            ct = ComplexType(XS, "anyType")
            ct.mixed = True
            ct.attr_wildcard = True
            ct.content = "element"
            ct.particle = Particle(0, UNBOUNDED, ("any", "##any"))
            ct.resolved = True
            self._anytype = ct
        return self._anytype

    def type_by_qname(self, qn):
        ns, local = qn
        if ns == XS:
            if local == "anyType":
                return self.anytype()
            return self.builtin(local)
        if qn in self.ctypes:
            key = ("c",) + qn
            if key not in self._stype_cache:
                node, doc = self.ctypes[qn]
                self._stype_cache[key] = ComplexType(ns, local)
                self._complex(node, doc, self._stype_cache[key])
            return self._stype_cache[key]
        if qn in self.stypes:
            key = ("s",) + qn
            if key not in self._stype_cache:
                node, doc = self.stypes[qn]
                dt = self._simple(node, doc)
                dt.name = local
                self._stype_cache[key] = dt
            return self._stype_cache[key]
        raise SchemaError("unknown type %s" % (qn,))

    def builtin(self, local):
        """The built-in type (one object per name: elements of the same built-in type share a
        grammar, and xsi:type can name it)."""
        cache = self.__dict__.setdefault("_builtins", {})
        if local not in cache:
            cache[local] = self._builtin(local)
        return cache[local]

    def _builtin(self, local):
        if local in _INT_BOUNDS:
            lo, hi = _INT_BOUNDS[local]
            return _int_type(local, lo, hi)
        if local == "boolean":
            return Datatype("bool", local)
        if local in _BINARY:
            return Datatype("binary", local)
        if local in _STRINGISH:
            return Datatype("string", local)
        if local == "decimal":
            return Datatype("decimal", local)
        if local in ("float", "double"):
            return Datatype("float", local)
        if local in ("dateTime", "date", "time", "gYear", "gYearMonth", "gMonthDay", "gDay", "gMonth"):
            return Datatype("datetime", local)
        if local == "duration":
            return Datatype("string", local)
        if local in ("IDREFS", "NMTOKENS", "ENTITIES"):
            return Datatype("list", local, item=Datatype("string", local[:-1]))
        raise SchemaError("unsupported built-in type xs:%s" % local)

    # -- simple types -----------------------------------------------------------------
    def _simple(self, node, doc):
        r = node.find(_T + "restriction")
        if r is not None:
            if r.get("base"):
                base = self.type_by_qname(self.qname(r, r.get("base")))
            else:
                base = self._simple(r.find(_T + "simpleType"), doc)
            return _restrict(base, r)
        lst = node.find(_T + "list")
        if lst is not None:
            if lst.get("itemType"):
                item = self.type_by_qname(self.qname(lst, lst.get("itemType")))
            else:
                item = self._simple(lst.find(_T + "simpleType"), doc)
            return Datatype("list", "list", item=item)
        if node.find(_T + "union") is not None:
            return Datatype("string", "union")
        raise SchemaError("unsupported simpleType in %s" % doc.path)

    # -- complex types ----------------------------------------------------------------
    def _complex(self, node, doc, ct):
        if ct is None:
            ct = ComplexType(doc.tns, None)
        ct.node = node
        ct.schema = doc
        ct.abstract = node.get("abstract") == "true"
        ct.mixed = node.get("mixed") == "true"
        cc = node.find(_T + "complexContent")
        sc = node.find(_T + "simpleContent")
        if sc is not None:
            self._simple_content(ct, sc, doc)
        elif cc is not None:
            if cc.get("mixed") == "true":
                ct.mixed = True
            self._complex_content(ct, cc, doc)
        else:
            ct.attrs = self._attrs(node, doc)
            ct.attr_wildcard = node.find(_T + "anyAttribute") is not None
            p = self._particle_child(node, doc)
            if p is not None:
                ct.content = "element"
                ct.particle = p
            elif ct.mixed:
                ct.content = "element"
                ct.particle = Particle(1, 1, ("seq", []))
        ct.resolved = True
        return ct

    def _simple_content(self, ct, sc, doc):
        der = sc[0] if sc[0].tag != _T + "annotation" else sc[1]
        base = self.type_by_qname(self.qname(der, der.get("base")))
        ct.content = "simple"
        if isinstance(base, ComplexType):
            ct.simple = base.simple
            inherited = list(base.attrs)
        else:
            ct.simple = base
            inherited = []
        if der.tag == _T + "restriction":
            ct.simple = _restrict(ct.simple, der)
        ct.attrs = _merge_attrs(inherited, self._attrs(der, doc))

    def _complex_content(self, ct, cc, doc):
        der = [c for c in cc if c.tag != _T + "annotation"][0]
        base = self.type_by_qname(self.qname(der, der.get("base")))
        ct.base = base
        own = self._particle_child(der, doc)
        if der.tag == _T + "extension":
            ct.attrs = _merge_attrs(list(base.attrs), self._attrs(der, doc))
            if base.content == "element" and own is not None:
                ct.content = "element"
                ct.particle = Particle(1, 1, ("seq", [base.particle, own]))
            elif base.content == "element":
                ct.content = "element"
                ct.particle = base.particle
            elif own is not None:
                ct.content = "element"
                ct.particle = own
            ct.mixed = ct.mixed or base.mixed
        else:
            ct.attrs = _merge_attrs(list(base.attrs), self._attrs(der, doc))
            if own is not None:
                ct.content = "element"
                ct.particle = own

    def _attrs(self, node, doc):
        out = []
        for a in node:
            if a.tag == _T + "attribute":
                if a.get("use") == "prohibited":
                    continue
                if a.get("ref"):
                    qn = self.qname(a, a.get("ref"))
                    gnode, gdoc = self.gattrs[qn]
                    name, ns, tnode = qn[1], qn[0], gnode
                else:
                    name = a.get("name")
                    form = a.get("form")
                    qual = form == "qualified" if form else doc.attr_qualified
                    ns = doc.tns if qual else ""
                    tnode = a
                if tnode.get("type"):
                    dt = self.type_by_qname(self.qname(tnode, tnode.get("type")))
                elif tnode.find(_T + "simpleType") is not None:
                    dt = self._simple(tnode.find(_T + "simpleType"), doc)
                else:
                    dt = Datatype("string", "anySimpleType")
                out.append(AttributeUse(ns, name, dt, a.get("use") == "required"))
            elif a.tag == _T + "attributeGroup":
                gnode, gdoc = self.agroups[self.qname(a, a.get("ref"))]
                out.extend(self._attrs(gnode, gdoc))
        return out

    def _particle_child(self, node, doc):
        for c in node:
            if c.tag in (_T + "sequence", _T + "choice", _T + "all", _T + "group"):
                return self._particle(c, doc)
        return None

    def _particle(self, node, doc):
        mn = int(node.get("minOccurs", "1"))
        mx = node.get("maxOccurs", "1")
        mx = UNBOUNDED if mx == "unbounded" else int(mx)
        tag = node.tag
        if tag == _T + "element":
            if node.get("ref"):
                term = self.elements[self.qname(node, node.get("ref"))]
            else:
                form = node.get("form")
                qual = form == "qualified" if form else doc.qualified
                el = ElementDecl(doc.tns if qual else "", node.get("name"))
                self._resolve_element(el, node, doc)
                term = el
            return Particle(mn, mx, term)
        if tag == _T + "any":
            return Particle(mn, mx, ("any", node.get("namespace", "##any")))
        if tag == _T + "group":
            gnode, gdoc = self.groups[self.qname(node, node.get("ref"))]
            inner = self._particle_child(gnode, gdoc)
            return Particle(mn, mx, ("seq", [inner]))
        kind = {"sequence": "seq", "choice": "choice", "all": "all"}[tag[len(_T):]]
        kids = [self._particle(c, doc) for c in node
                if c.tag in (_T + "element", _T + "sequence", _T + "choice", _T + "group", _T + "any")]
        return Particle(mn, mx, (kind, kids))


def _merge_attrs(inherited, own):
    names = set((a.ns, a.name) for a in own)
    return [a for a in inherited if (a.ns, a.name) not in names] + own


def _int_type(base, lo, hi):
    if lo is not None and hi is not None and hi - lo < 4096:
        return Datatype("nbit", base, lo, hi)
    if lo is not None and lo >= 0:
        return Datatype("uint", base, lo, hi)
    return Datatype("int", base, lo, hi)


def _restrict(base, r):
    enum = [e.get("value") for e in r.findall(_T + "enumeration")]
    if enum:
        return Datatype("enum", base.base, enum=enum, item=base)
    lo, hi = base.lo, base.hi
    for tag, adj in (("minInclusive", 0), ("minExclusive", 1)):
        f = r.find(_T + tag)
        if f is not None and base.kind in ("int", "uint", "nbit"):
            v = int(f.get("value")) + adj
            lo = v if lo is None else max(lo, v)
    for tag, adj in (("maxInclusive", 0), ("maxExclusive", -1)):
        f = r.find(_T + tag)
        if f is not None and base.kind in ("int", "uint", "nbit"):
            v = int(f.get("value")) + adj
            hi = v if hi is None else min(hi, v)
    if base.kind in ("int", "uint", "nbit"):
        return _int_type(base.base, lo, hi)
    dt = Datatype(base.kind, base.base, base.lo, base.hi, base.enum, base.item)
    return dt
