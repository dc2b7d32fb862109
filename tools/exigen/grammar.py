"""EXI 1.0 schema-informed grammars (non-strict, no preserved fidelity options), as the V2G
standards use them: built from a SchemaSet into a flat model the generators and the
Python codec share.

Model (all lists, indices stable and deterministic):
- elements[i]: Elem(ns, name, grammar index, simple datatype index or -1)
- grammars[g]: list of states; a state is a list of productions in event-code order;
  first-level code width of a state with n productions is bits(n + 1) (non-strict mode
  always adds undeclared productions at the second level).
- production: (event, arg, target, limit, exit) with event in SE, SEW (wildcard), AT, ATW,
  EE, CH (arg = datatype index, -1 = untyped/mixed); limit/exit implement bounded
  repetitions without unrolling them: taking a counted production from its own target
  increments the frame's counter, from elsewhere sets it to 1; at ``limit`` the next
  state is ``exit``.
"""
from . import xsd

UNROLL_MAX = 32    # bounded maxOccurs above this use a counted loop instead of copies


def bits(n):
    """Width of an n-bit unsigned integer that can hold n distinct values (0 for n <= 1)."""
    w = 0
    while (1 << w) < n:
        w += 1
    return w


class Elem:
    def __init__(self, ns, name, grammar, simple, decl):
        self.ns = ns
        self.name = name
        self.grammar = grammar
        self.simple = simple
        self.decl = decl


class Model:
    """Grammars for one schema set (one V2G schema)."""

    def __init__(self, schemaset):
        self.s = schemaset
        self.elements = []
        self.elem_index = {}
        self.grammars = []
        self.gram_index = {}
        self.gram_names = []
        self.gram_lists = []     # per grammar: sorted element names that repeat (-> list)
        self.gram_simple = []    # per grammar: datatype of simple content or -1
        self.gram_wrap = []      # per grammar: complex type with simple content -> always a dict
        self.gram_types = []
        self.gram_l2 = []        # per grammar, per state: (second-level code width, EE at 2nd level)
        self.datatypes = []
        self.dt_index = {}
        self.attrs = []          # (ns, name, datatype index)
        self.attr_index = {}
        self._pending = []
        self._nil = {}
        globals_ = sorted(self.s.elements.values(), key=lambda e: (e.name, e.ns))
        self.doc_elements = [self.elem(e) for e in globals_]
        self.drain()
        # xsi:type can name any type: grammars for all named types (schema and built-in);
        # xsi:nil="true" continues in the type's empty grammar
        # xsi:type: the named types (schema and built-in) that some element uses, and
        # xs:anyType (undeclared elements); others are "unsupported" (keeps the tables small)
        used = set(id(self.gram_types[e.grammar]) for e in self.elements)
        self.type_table = []
        names = [k for k in sorted(self.s.ctypes) + sorted(self.s.stypes)]
        names += [(xsd.XS, t) for t in _XSD_TYPES]
        for qn in sorted(set(names)):
            try:
                t = self.s.type_by_qname(qn)
            except xsd.SchemaError:
                continue
            if id(t) in used or qn == (xsd.XS, "anyType"):
                self.type_table.append((qn[0], qn[1], self.grammar_for(t)))
                self.drain()
        self.gram_nil = []
        nils = set()
        while len(self.gram_nil) < len(self.grammars):
            gi = len(self.gram_nil)
            if gi in nils:
                self.gram_nil.append(gi)     # an empty grammar is its own
                continue
            ng = self.nil_grammar(gi)
            nils.add(ng)
            self.gram_nil.append(ng)
        self.gram_ordered = [_ordered(g, self) for g in self.grammars]
        self.uris, self.uri_locals = _qname_preload(self.s)
        self.globals_by_qname = dict(((self.elements[i].ns, self.elements[i].name), i)
                                     for i in self.doc_elements)

    def drain(self):
        while self._pending:
            self._build(*self._pending.pop(0))

    def type_grammar(self, qn):
        """Grammar index of a named type (xsi:type)."""
        for uri, local, gi in self.type_table:
            if (uri, local) == qn:
                return gi
        raise xsd.SchemaError("unknown type {%s}%s" % qn)

    def nil_grammar(self, gi):
        """The empty grammar of grammar gi's type (after xsi:nil="true": attributes, then EE);
        types without attributes share one."""
        t = self.gram_types[gi]
        attrs = list(getattr(t, "attrs", None) or [])
        wild = getattr(t, "attr_wildcard", False)
        key = gi if attrs or wild else "empty"
        if key not in self._nil:
            ct = xsd.ComplexType(None, None)
            ct.attrs = attrs
            ct.attr_wildcard = wild
            ct.resolved = True
            self._nil[key] = (ct, self.grammar_for(ct))
            self.drain()
        return self._nil[key][1]

    # -- tables ----------------------------------------------------------------------
    def datatype(self, dt):
        k = dt.key()
        if k not in self.dt_index:
            self.dt_index[k] = len(self.datatypes)
            self.datatypes.append(dt)
            if dt.item is not None and dt.kind == "list":
                self.datatype(dt.item)
        return self.dt_index[k]

    def attr(self, a):
        dt = self.datatype(a.type)
        k = (a.ns, a.name, dt)
        if k not in self.attr_index:
            self.attr_index[k] = len(self.attrs)
            self.attrs.append(k)
        return self.attr_index[k]

    def elem(self, decl):
        t = decl.type
        k = (decl.ns, decl.name, id(t))
        if k in self.elem_index:
            return self.elem_index[k]
        g = self.grammar_for(t)
        simple = self.datatype(t) if isinstance(t, xsd.Datatype) else -1
        idx = len(self.elements)
        self.elements.append(Elem(decl.ns, decl.name, g, simple, decl))
        self.elem_index[k] = idx
        return idx

    def grammar_for(self, t):
        k = id(t)
        if k not in self.gram_index:
            self.gram_index[k] = len(self.grammars)
            self.grammars.append(None)
            self.gram_lists.append(())
            self.gram_simple.append(-1)
            self.gram_wrap.append(not isinstance(t, xsd.Datatype) and t.content == "simple")
            self.gram_l2.append(None)
            self.gram_types.append(t)
            if isinstance(t, xsd.Datatype):
                self.gram_names.append("simple:%s" % (t.name or t.base))
            else:
                self.gram_names.append(t.name or "anon")
            self._pending.append((self.gram_index[k], t))
        return self.gram_index[k]

    # -- grammar construction --------------------------------------------------------
    def _build(self, gi, t):
        b = _Builder(self)
        final = b.state([("EE", 0, None)])
        head = set()          # start-tag states (attributes + content start): more L2 events
        has_attrs = False
        if isinstance(t, xsd.Datatype):
            dt = self.datatype(t)
            self.gram_simple[gi] = dt
            start = b.state([("CH", dt, final)])
            head.add(start)
        else:
            content_states_from = len(b.states)
            if t.content == "simple":
                dt = self.datatype(t.simple)
                self.gram_simple[gi] = dt
                start = b.state([("CH", dt, final)])
            elif t.content == "element":
                start = b.particle(t.particle, final)
            else:
                start = final
            if t.mixed:
                for i in list(range(content_states_from, len(b.states))) + [final]:
                    b.states[i].append(("CH", -1, i))
            nxt = start
            head.add(start)
            has_attrs = bool(t.attrs)
            if t.attr_wildcard:
                nxt = b.state([("ATW", 0, None), ("EPS", 0, nxt)])
                b.states[nxt][0] = ("ATW", 0, nxt)
            for a in sorted(t.attrs, key=lambda a: (a.name, a.ns), reverse=True):
                prods = [("AT", self.attr(a), nxt)]
                if not a.required:
                    prods.append(("EPS", 0, nxt))
                nxt = b.state(prods)
                head.add(nxt)
            start = nxt
            self.gram_lists[gi] = tuple(sorted(b.repeated))
        self.grammars[gi], self.gram_l2[gi] = b.finish(start, self.gram_names[gi], head, has_attrs)


class _Builder:
    def __init__(self, model):
        self.m = model
        self.states = []
        self.counted = {}     # (state, elem) -> (limit, exit)
        self.repeated = set()
        self.seen_names = {}

    def state(self, prods):
        self.states.append(list(prods))
        return len(self.states) - 1

    def _note(self, name, repeats):
        self.seen_names[name] = self.seen_names.get(name, 0) + 1
        if repeats or self.seen_names[name] > 1:
            self.repeated.add(name)

    def term(self, term, k, repeats):
        """Grammar of a particle term with continuation state k; returns its entry state."""
        if isinstance(term, xsd.ElementDecl):
            prods = []
            for e in _substitutes(term):
                self._note(e.name, repeats)
                prods.append(("SE", self.m.elem(e), k))
            return self.state(prods)
        kind, arg = term
        if kind == "any":
            self._note("*", True)
            return self.state([("SEW", 0, k)])
        if kind == "seq":
            cur = k
            for p in reversed(arg):
                cur = self.particle(p, cur, repeats)
            return cur
        if kind == "choice":
            if not arg:
                return self.state([("EPS", 0, k)])
            return self.state([("EPS", 0, self.particle(p, k, repeats)) for p in arg])
        raise xsd.SchemaError("unsupported particle %s" % kind)

    def particle(self, p, k, repeats=False):
        rep = repeats or p.max == xsd.UNBOUNDED or p.max > 1
        if p.max == xsd.UNBOUNDED:
            loop = self.state([])
            body = self.term(p.term, loop, rep)
            self.states[loop] = [("EPS", 0, body), ("EPS", 0, k)]
            cur = loop
            for _ in range(p.min):
                cur = self.term(p.term, cur, rep)
            return cur
        if p.max - p.min > UNROLL_MAX and isinstance(p.term, xsd.ElementDecl):
            # counted loop: L = SE(e)* -> L (counted, exit X) | rest; X = rest
            exit_ = self.state([("EPS", 0, k)])
            loop = self.state([])
            body = self.term(p.term, loop, rep)
            self.states[loop] = [("EPS", 0, body), ("EPS", 0, k)]
            for prod in self.states[body]:
                self.counted[(loop, prod[1])] = (p.max - p.min, exit_)
            cur = self.state([("EPS", 0, loop)])    # required copies land here, uncounted
            for _ in range(p.min):
                cur = self.term(p.term, cur, rep)
            return cur
        cur = k
        for _ in range(p.max - p.min):
            body = self.term(p.term, cur, rep)
            cur = self.state([("EPS", 0, body), ("EPS", 0, k)])
        for _ in range(p.min):
            cur = self.term(p.term, cur, rep)
        return cur

    def finish(self, start, name, head, has_attrs):
        """Epsilon elimination, duplicate-terminal merging (8.5.4.2), event-code order,
        second-level widths, renumbering. States of the result are ordered sets of builder
        states: a production whose terminal leads to several states (mixed content: CH
        loops meeting through epsilon) leads to their union."""
        n = len(self.states)
        closed = [None] * n

        def close(i, stack):
            if closed[i] is not None:
                return closed[i]
            if i in stack:
                return []
            stack.add(i)
            out = []
            for prod in self.states[i]:
                ev, arg, tgt = prod
                if ev == "EPS":
                    for q in close(tgt, stack):
                        if q not in out:
                            out.append(q)
                else:
                    q = (ev, arg, tgt, self.counted.get((tgt, arg), (0, 0)) if ev == "SE" else (0, 0))
                    if q not in out:
                        out.append(q)
            stack.discard(i)
            closed[i] = out
            return out

        for i in range(n):
            close(i, set())

        def merged(key):
            """Productions of a set of builder states, one per terminal (targets united)."""
            terms = []
            targets = {}
            counts = {}
            for member in key:
                for ev, arg, tgt, cnt in closed[member]:
                    k = (ev, arg)
                    if k not in targets:
                        terms.append(k)
                        targets[k] = []
                        counts[k] = cnt
                    elif counts[k] != cnt:
                        raise xsd.SchemaError("non-deterministic counted loop in %s" % name)
                    if tgt is not None and tgt not in targets[k]:
                        targets[k].append(tgt)
            return [(k[0], k[1], tuple(targets[k]), counts[k]) for k in terms]

        start_key = (start,)
        order = [start_key]
        pos = {start_key: 0}
        prods_of = {}
        i = 0
        while i < len(order):
            key = order[i]
            prods_of[key] = merged(key)
            for ev, arg, tgt, cnt in prods_of[key]:
                for t in (tgt, (cnt[1],) if cnt[0] else None):
                    if t and t not in pos:
                        pos[t] = len(order)
                        order.append(t)
            i += 1
        m = self.m
        out = []
        l2 = []

        def rank(p):
            ev, arg = p[0], p[1]
            if ev == "AT":
                ns, nm, _ = m.attrs[arg]
                return (0, nm, ns)
            if ev == "ATW":
                return (2, "", "")
            if ev == "SE":
                return (3, "", "")     # stable: schema order
            if ev == "SEW":
                return (5, "", "")
            if ev == "EE":
                return (6, "", "")
            return (7, "", "")

        for key in order:
            prods = sorted(prods_of[key], key=rank)
            st = []
            for ev, arg, tgt, cnt in prods:
                if ev == "EE":
                    st.append(("EE", 0, 0, 0, 0))
                else:
                    st.append((ev, arg, pos[tgt], cnt[0], pos[(cnt[1],)] if cnt[0] else 0))
            out.append(st)
            # second level (8.5.4.4.1, non-strict, nothing preserved): EE when the state
            # has none, xsi:type + xsi:nil in the first state, AT(*) (+ the container of
            # AT(qname)[untyped] when the type declares attributes) in start-tag states,
            # then SE(*) and CH[untyped] everywhere. Only EE (code 0) is decoded/encoded.
            missing_ee = not any(p[0] == "EE" for p in st)
            if any(k in head for k in key):
                n = missing_ee + (2 if not out[:-1] else 0) + 1 + (1 if has_attrs else 0) + 2
            else:
                n = missing_ee + 2
            l2.append((bits(n), missing_ee))
        return out, l2


def _ordered(g, m):
    """Does the grammar need an ordered representation of its content? Yes with wildcards,
    mixed text, or when two different child names can follow each other both ways (a
    repeated choice: grouping children by name would lose their order)."""
    if any(p[0] in ("SEW", "ATW") or (p[0] == "CH" and p[1] < 0) for st in g for p in st):
        return True
    after = []
    for st in g:
        seen, todo = set(), [p[2] for p in st if p[0] == "SE"]
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            todo.extend(p[2] for p in g[t] if p[0] != "EE")
        after.append(set(m.elements[p[1]].name for q in seen for p in g[q] if p[0] == "SE"))
    for st in g:
        for p in st:
            if p[0] != "SE":
                continue
            a = m.elements[p[1]].name
            for b in after[p[2]]:
                if b != a and any(a in after[q[2]] for s2 in g for q in s2
                                  if q[0] == "SE" and m.elements[q[1]].name == b):
                    return True
    return False


XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_XSD_TYPES = ("ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS",
              "NOTATION", "Name", "QName", "anySimpleType", "anyType", "anyURI", "base64Binary",
              "boolean", "byte", "date", "dateTime", "decimal", "double", "duration", "float",
              "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int", "integer",
              "language", "long", "negativeInteger", "nonNegativeInteger", "nonPositiveInteger",
              "normalizedString", "positiveInteger", "short", "string", "time", "token",
              "unsignedByte", "unsignedInt", "unsignedLong", "unsignedShort")


def _qname_preload(schemaset):
    """Initial uri and local-name string tables of a schema-informed stream (EXI 1.0 7.3.1,
    D.3): "", xml, xsi, xsd, then the schemas' namespaces sorted; per uri the local names
    of the elements, attributes and named types declared in it, sorted."""
    names = {"": set(), XML_NS: {"base", "id", "lang", "space"}, XSI_NS: {"nil", "type"},
             xsd.XS: set(_XSD_TYPES)}
    T = "{%s}" % xsd.XS
    for doc in schemaset.docs:
        names.setdefault(doc.tns, set())
        for node in doc.root.iter():
            nm = node.get("name")
            if nm is None:
                continue
            top = node in list(doc.root)
            if node.tag == T + "element":
                q = top or node.get("form", "qualified" if doc.qualified else "unqualified") == "qualified"
            elif node.tag == T + "attribute":
                q = top or node.get("form", "qualified" if doc.attr_qualified else "unqualified") == "qualified"
            elif node.tag in (T + "complexType", T + "simpleType"):
                q = True
            else:
                continue
            names.setdefault(doc.tns if q else "", set()).add(nm)
    extra = sorted(u for u in names if u not in ("", XML_NS, XSI_NS, xsd.XS))
    uris = ["", XML_NS, XSI_NS, xsd.XS] + extra
    return uris, [sorted(names[u]) for u in uris]


def _substitutes(decl):
    """The element and its substitution group members (abstract ones included), in EXI order."""
    out = []
    todo = [decl]
    seen = set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        # abstract elements keep their event code: the reference codec (EXIficient) and
        # the C codecs built for V2G count them (observed on ISO-2 Body)
        out.append(e)
        todo.extend(e.members)
    return sorted(out, key=lambda e: (e.name, e.ns))


# schemas with generated C tables (native/exi/gen); the -20 ones build with EXI_ISO20
GENERATED = ("apphand", "din", "iso2", "iso20_cm", "iso20_ac", "iso20_dc", "iso20_acdp", "iso20_wpt")

SCHEMAS = {
    "apphand": ["V2G_CI_AppProtocol.xsd"],
    "din": ["din_spec/V2G_CI_MsgDef.xsd", "din_spec/V2G_CI_MsgHeader.xsd",
            "din_spec/V2G_CI_MsgBody.xsd", "din_spec/V2G_CI_MsgDataTypes.xsd"],
    "iso2": ["iso15118_2/V2G_CI_MsgDef.xsd", "iso15118_2/V2G_CI_MsgHeader.xsd",
             "iso15118_2/V2G_CI_MsgBody.xsd", "iso15118_2/V2G_CI_MsgDataTypes.xsd"],
    "iso20_cm": ["iso15118_20/V2G_CI_CommonMessages.xsd"],
    "iso20_ac": ["iso15118_20/V2G_CI_AC.xsd"],
    "iso20_dc": ["iso15118_20/V2G_CI_DC.xsd"],
    "iso20_acdp": ["iso15118_20/V2G_CI_ACDP.xsd"],
    "iso20_wpt": ["iso15118_20/V2G_CI_WPT.xsd"],
}
NAMESPACES = {
    "apphand": "urn:iso:15118:2:2010:AppProtocol",
    "din": "urn:din:70121:2012:MsgDef",
    "iso2": "urn:iso:15118:2:2013:MsgDef",
    "iso20_cm": "urn:iso:std:iso:15118:-20:CommonMessages",
    "iso20_ac": "urn:iso:std:iso:15118:-20:AC",
    "iso20_dc": "urn:iso:std:iso:15118:-20:DC",
    "iso20_acdp": "urn:iso:std:iso:15118:-20:ACDP",
    "iso20_wpt": "urn:iso:std:iso:15118:-20:WPT",
}


def schema_dir():
    """Where the V2G XSDs are: $EXIGEN_SCHEMAS, else the iso15118 package in .deps or on sys.path."""
    import os
    env = os.environ.get("EXIGEN_SCHEMAS")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import glob
    # the wheel unzipped into .deps/iso15118 (make exigen-deps), or a venv under .deps/
    for pattern in (("iso15118",), ("*", "lib", "python3*", "site-packages")):
        for cand in sorted(glob.glob(os.path.join(root, ".deps", *pattern) + "/iso15118/shared/schemas")):
            return cand
    try:
        import iso15118.shared.schemas as pkg
        return os.path.dirname(pkg.__file__)
    except ImportError:
        raise xsd.SchemaError("V2G schemas not found: set EXIGEN_SCHEMAS or install iso15118")


def load(schema, directory=None):
    import os
    d = directory or schema_dir()
    return Model(xsd.SchemaSet([os.path.join(d, p) for p in SCHEMAS[schema]]))
