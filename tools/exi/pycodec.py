"""Pure-Python EXI codec driven by the grammar model of tools.exigen: the second oracle of the
C codec (slow, host only). Same document representation as the native module:

- an element is its local name in the parent dict; elements that may repeat in their parent
  (maxOccurs > 1) are always lists;
- complex content -> dict; attributes are keys with their local name; simple content with
  attributes -> dict with the content under "value";
- simple-typed elements -> int / bool / str (strings, enumerations) / bytes (hex/base64Binary)
  / list (xs:list); None for an element without content whose type has no empty value
  (EE at the second level where content was expected);
- elements with wildcards, mixed content or repeated choices (the xmldsig types; anyType):
  attributes as keys, the content in document order under "#": a list of one-key dicts
  {name: value} (declared children by local name, wildcard elements as "{uri}local") and
  str (text); undeclared elements are dicts (xs:anyType: attributes "{uri}local" or
  "local" with str values, "#"); "xsi:type": "{uri}local" and "xsi:nil": bool keys where
  the stream has them (native/STATUS.md).
"""
from tools.exigen import grammar as _g


class ExiError(ValueError):
    """Malformed, truncated or unsupported input; ``bitpos`` is where decoding stopped."""

    def __init__(self, reason, bitpos=-1):
        ValueError.__init__(self, "%s at bit %d" % (reason, bitpos))
        self.reason = reason
        self.bitpos = bitpos


_EMPTY = {"string": "", "binary": b"", "list": []}

# encode flags (same values in the native module). Default: the bytes EXIficient (the
# reference codec, as the V2G stacks configure it) writes: strings always literal (no
# value string table in the V2G profile), empty values as a second-level EE. COMPAT: what
# the C stacks in cars and chargers (OpenV2G, libcbv2g) write and all they can read: empty
# values as zero-length content. STRING_TABLE: plain EXI 1.0 string table hits.
STRING_TABLE = 1
EMPTY_AS_CH = 2
COMPAT = 2
LENIENT = 4     # missing required content: 2nd-level EE instead of an error


class _Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0
        self.end = len(self.data) * 8

    def bits(self, n):
        if self.pos + n > self.end:
            raise ExiError("truncated", self.pos)
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def uint(self):
        v = 0
        shift = 0
        while True:
            b = self.bits(8)
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
            if shift > 7 * 1024:
                raise ExiError("unsigned integer too long", self.pos)


class _Writer:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, n, v):
        for i in range(n - 1, -1, -1):
            self.acc = (self.acc << 1) | ((v >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                self.acc = 0
                self.n = 0

    def uint(self, v):
        if v < 0:
            raise ExiError("negative unsigned", -1)
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.bits(8, b | 0x80)
            else:
                self.bits(8, b)
                return

    def finish(self):
        if self.n:
            self.out.append(self.acc << (8 - self.n))
            self.acc = 0
            self.n = 0
        return bytes(self.out)


_MODELS = {}


def model(schema):
    m = _MODELS.get(schema)
    if m is None:
        if schema not in _g.SCHEMAS:
            raise ValueError("unknown schema %r" % (schema,))
        m = _MODELS[schema] = _g.load(schema)
    return m


class _Strings:
    """The value string tables of one EXI stream (global + per qname local)."""

    def __init__(self):
        self.glob = []
        self.gidx = {}
        self.local = {}

    def add(self, qn, s):
        if not s:
            return
        loc = self.local.setdefault(qn, ([], {}))
        loc[1][s] = len(loc[0])
        loc[0].append(s)
        if s not in self.gidx:
            self.gidx[s] = len(self.glob)
        self.glob.append(s)


CONTENT = "#"          # key of the ordered content list (wildcards, mixed text, repeated choices)
XSI_TYPE = "xsi:type"  # keys of the xsi attributes (second-level events)
XSI_NIL = "xsi:nil"
XSI_NS = _g.XSI_NS
ANYTYPE = ("http://www.w3.org/2001/XMLSchema", "anyType")


def qkey(uri, local):
    """Key of an element or attribute matched by a wildcard: "{uri}local" ("local" if no uri)."""
    return "{%s}%s" % (uri, local) if uri else local


def split_qkey(k):
    if k.startswith("{"):
        i = k.rfind("}")     # a local name has no "}"; a (broken) uri may
        if i > 0:
            return k[1:i], k[i + 1:]
    return "", k


class _QNames:
    """The uri and local-name string tables of one stream (pre-populated from the schema)."""

    def __init__(self, m):
        self.uris = list(m.uris)
        self.locals = [list(x) for x in m.uri_locals]

    def read(self, r, dec):
        i = r.bits(_g.bits(len(self.uris) + 1))
        if i == 0:
            uri = dec.literal(r.uint())
            self.uris.append(uri)
            self.locals.append([])
            u = len(self.uris) - 1
        elif i - 1 < len(self.uris):
            u = i - 1
        else:
            raise ExiError("uri index out of range", r.pos)
        return self.uris[u], self.local(r, dec, u)

    def local(self, r, dec, u):
        n = r.uint()
        loc = self.locals[u]
        if n == 0:
            i = r.bits(_g.bits(len(loc)))
            if i >= len(loc):
                raise ExiError("local-name index out of range", r.pos)
            return loc[i]
        name = dec.literal(n - 1)
        loc.append(name)
        return name

    def write(self, w, uri, local):
        if uri in self.uris:
            u = self.uris.index(uri)
            w.bits(_g.bits(len(self.uris) + 1), u + 1)
        else:
            w.bits(_g.bits(len(self.uris) + 1), 0)
            _lit(w, uri)
            self.uris.append(uri)
            self.locals.append([])
            u = len(self.uris) - 1
        loc = self.locals[u]
        if local in loc:
            w.uint(0)
            w.bits(_g.bits(len(loc)), loc.index(local))
        else:
            w.uint(len(local) + 1)
            for c in local:
                w.uint(ord(c))
            loc.append(local)


def _char(r):
    cp = r.uint()
    if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        raise ExiError("invalid code point", r.pos)
    return chr(cp)


def _lit(w, s):
    w.uint(len(s))
    for c in s:
        w.uint(ord(c))


class _Dec:
    def __init__(self, m, data):
        self.m = m
        self.r = _Reader(data)
        self.st = _Strings()
        self.qn = _QNames(m)
        self.seen = set()     # undeclared qnames met so far

    def literal(self, n):
        r = self.r
        if n > (r.end - r.pos) // 8:
            raise ExiError("string length %d beyond end" % n, r.pos)
        return "".join(_char(r) for _ in range(n))

    def second_level(self, gi, state, out):
        """A second-level event in the first state: xsi:type or xsi:nil; returns the grammar
        to continue with (state 0), or None for EE."""
        m = self.m
        width, l2_ee = m.gram_l2[gi][state]
        code = self.r.bits(width)
        if l2_ee:
            if code == 0:
                return None
            code -= 1
        if state == 0 and code == 0:
            uri, local = self.qn.read(self.r, self)
            out[XSI_TYPE] = qkey(uri, local)
            try:
                return m.type_grammar((uri, local))
            except Exception:
                raise ExiError("xsi:type: unknown type {%s}%s" % (uri, local), self.r.pos)
        if state == 0 and code == 1:
            nil = bool(self.r.bits(1))
            out[XSI_NIL] = nil
            if nil:
                return m.gram_nil[gi]
            return gi
        raise ExiError("second-level event (schema deviation) unsupported", self.r.pos)

    def wildcard(self, depth):
        """SE(*): the element's qname, then its content: declared global elements with their
        own grammar, undeclared ones with xs:anyType's."""
        uri, local = self.qn.read(self.r, self)
        ei = self.m.globals_by_qname.get((uri, local))
        if ei is not None:
            return qkey(uri, local), self.element(ei, depth + 1)
        return qkey(uri, local), self.builtin((uri, local), depth + 1)

    def builtin(self, qn, depth):
        """Content of an undeclared element. The reference's V2G profile allows no built-in
        element grammars (maximumNumberOfBuiltInElementGrammars = 0): its encoder starts such
        an element with AT(xsi:type) through AT(*) of the built-in StartTagContent (no
        first-level productions: 0 bits; second level EE, AT(*), SE(*), CH: 2 bits) and goes
        on in the named type's grammar (xs:anyType for text and elements)."""
        r = self.r
        # observed: from an undeclared qname's second occurrence in a stream on, the
        # reference's built-in StartTagContent has one first-level production (1 bit), yet it
        # still writes xsi:type through the escape and AT(*)
        if qn in self.seen and r.bits(1) != 1:
            raise ExiError("undeclared element: learned production unsupported", r.pos)
        self.seen.add(qn)
        if r.bits(2) != 1 or self.qn.read(r, self) != (XSI_NS, "type"):
            raise ExiError("undeclared element without xsi:type (built-in grammar) unsupported", r.pos)
        uri, local = self.qn.read(r, self)
        try:
            gi = self.m.type_grammar((uri, local))
        except Exception:
            raise ExiError("xsi:type: unknown type {%s}%s" % (uri, local), r.pos)
        v = self.content(gi, qn, depth)
        if (uri, local) != ANYTYPE:
            if not isinstance(v, dict):
                v = {"value": v}
            v[XSI_TYPE] = qkey(uri, local)
        return v

    def value(self, dti, qn):
        dt = self.m.datatypes[dti]
        r = self.r
        k = dt.kind
        if k == "nbit":
            return dt.lo + r.bits(_g.bits(dt.hi - dt.lo + 1))
        if k == "uint" or k == "int":
            neg = r.bits(1) if k == "int" else 0
            v = r.uint()
            v = -v - 1 if neg else v
            if (dt.lo is not None and v < dt.lo) or (dt.hi is not None and v > dt.hi):
                raise ExiError("integer out of the type's range", r.pos)
            return v
        if k == "bool":
            return bool(r.bits(1))
        if k == "binary":
            n = r.uint()
            if n > (r.end - r.pos) // 8:
                raise ExiError("binary length %d beyond end" % n, r.pos)
            return bytes(r.bits(8) for _ in range(n))
        if k == "enum":
            i = r.bits(_g.bits(len(dt.enum)))
            if i >= len(dt.enum):
                raise ExiError("enumeration index %d out of range" % i, r.pos)
            return dt.enum[i]
        if k == "string":
            return self.string(qn)
        if k == "list":
            n = r.uint()
            item = self.m.datatype(dt.item)
            return [self.value(item, qn) for _ in range(n)]
        if k == "decimal":
            neg = r.bits(1)
            i = r.uint()
            f = str(r.uint())[::-1]
            return ("-" if neg else "") + "%d.%s" % (i, f)
        if k == "float":
            neg = r.bits(1)
            mant = r.uint()
            mant = -mant - 1 if neg else mant
            eneg = r.bits(1)
            e = r.uint()
            e = -e - 1 if eneg else e
            return "%dE%d" % (mant, e)
        raise ExiError("unsupported datatype %s" % k, r.pos)

    def string(self, qn):
        r = self.r
        n = r.uint()
        if n == 0:
            loc = self.st.local.get(qn, ([], {}))[0]
            i = r.bits(_g.bits(len(loc)))
            if i >= len(loc):
                raise ExiError("local string index out of range", r.pos)
            return loc[i]
        if n == 1:
            i = r.bits(_g.bits(len(self.st.glob)))
            if i >= len(self.st.glob):
                raise ExiError("global string index out of range", r.pos)
            return self.st.glob[i]
        n -= 2
        if n > (r.end - r.pos) // 8:
            raise ExiError("string length %d beyond end" % n, r.pos)
        s = "".join(_char(r) for _ in range(n))
        self.st.add(qn, s)
        return s

    def element(self, ei, depth=0):
        el = self.m.elements[ei]
        return self.content(el.grammar, (el.ns, el.name), depth)

    def content(self, gi, qn, depth):
        m = self.m
        if depth > 64:
            raise ExiError("nesting too deep", self.r.pos)
        g = m.grammars[gi]
        lists = m.gram_lists[gi]
        ordered = m.gram_ordered[gi]
        items = []
        out = {}
        val = None
        has_value = False
        state = 0
        count = 0
        while True:
            prods = g[state]
            code = self.r.bits(_g.bits(len(prods) + 1))
            if code >= len(prods):
                ng = self.second_level(gi, state, out)
                if ng is not None:
                    gi, g, lists, ordered, state = ng, m.grammars[ng], m.gram_lists[ng], m.gram_ordered[ng], 0
                    continue
                # EE where content was expected: an empty value (what EXIficient writes
                # for "" and b"")
                # (None for types that have no empty value)
                for p in prods:
                    if p[0] == "CH" and p[1] >= 0:
                        val = _EMPTY.get(m.datatypes[p[1]].kind)
                        has_value = True
                break
            ev, arg, tgt, limit, exit_ = prods[code]
            if ev == "EE":
                break
            if ev == "AT":
                ans, an, adt = m.attrs[arg]
                out[an] = self.value(adt, (ans, an))
            elif ev == "CH":
                if arg < 0:
                    items.append(self.string(qn))
                else:
                    val = self.value(arg, qn)
                    has_value = True
            elif ev == "SE":
                child = m.elements[arg]
                v = self.element(arg, depth + 1)
                if ordered:
                    items.append({child.name: v})
                elif child.name in lists:
                    out.setdefault(child.name, []).append(v)
                else:
                    out[child.name] = v
            elif ev == "SEW":
                k, v = self.wildcard(depth)
                items.append({k: v})
            elif ev == "ATW":
                uri, local = self.qn.read(self.r, self)
                out[qkey(uri, local)] = self.string((uri, local))
            else:
                raise ExiError("unsupported event %s" % ev, self.r.pos)
            if limit:
                count = count + 1 if tgt == state else 1
                state = exit_ if count >= limit else tgt
            else:
                state = tgt
        if items:
            out[CONTENT] = items
        if has_value:
            if out or m.gram_wrap[gi]:
                out["value"] = val
                return out
            return val
        return out

    def document(self):
        r = self.r
        if r.bits(2) != 2:
            raise ExiError("not an EXI stream (distinguishing bits)", 0)
        if r.bits(1):
            raise ExiError("EXI options in header unsupported", 2)
        if r.bits(5) != 0:
            raise ExiError("unsupported EXI version", 3)
        els = self.m.doc_elements
        code = r.bits(_g.bits(len(els) + 1))
        if code >= len(els):
            raise ExiError("SE(*) at document level unsupported", r.pos)
        ei = els[code]
        return {self.m.elements[ei].name: self.element(ei)}


class _Enc:
    def __init__(self, m, hexbytes=False, flags=0):
        self.literal = not flags & STRING_TABLE
        self.empty_ch = flags & EMPTY_AS_CH
        self.lenient = flags & LENIENT
        self.m = m
        self.w = _Writer()
        self.st = _Strings()
        self.hexbytes = hexbytes
        self.qn = _QNames(m)
        self.seen = set()
        self.ev = []       # events written (for tools.exi.xmlmap)

    def value(self, dti, qn, v):
        dt = self.m.datatypes[dti]
        w = self.w
        k = dt.kind
        if k in ("nbit", "uint", "int"):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ExiError("%s: integer expected, got %r" % (qn[1], v))
            if (dt.lo is not None and v < dt.lo) or (dt.hi is not None and v > dt.hi):
                raise ExiError("%s: %d out of range" % (qn[1], v))
            if k == "nbit":
                w.bits(_g.bits(dt.hi - dt.lo + 1), v - dt.lo)
            elif k == "uint":
                w.uint(v)
            elif v < 0:
                w.bits(1, 1)
                w.uint(-v - 1)
            else:
                w.bits(1, 0)
                w.uint(v)
        elif k == "bool":
            if not isinstance(v, bool):
                raise ExiError("%s: bool expected" % qn[1])
            w.bits(1, 1 if v else 0)
        elif k == "binary":
            if self.hexbytes and isinstance(v, str):
                v = bytes.fromhex(v)
            if not isinstance(v, (bytes, bytearray)):
                raise ExiError("%s: bytes expected" % qn[1])
            w.uint(len(v))
            for b in v:
                w.bits(8, b)
        elif k == "enum":
            if v not in dt.enum:
                raise ExiError("%s: %r not in enumeration" % (qn[1], v))
            w.bits(_g.bits(len(dt.enum)), dt.enum.index(v))
        elif k == "string":
            if not isinstance(v, str):
                raise ExiError("%s: str expected" % qn[1])
            self.string(qn, v)
        elif k == "list":
            w.uint(len(v))
            item = self.m.datatype(dt.item)
            for x in v:
                self.value(item, qn, x)
        else:
            raise ExiError("unsupported datatype %s" % k)

    def string(self, qn, s):
        loc = self.st.local.get(qn)
        if self.literal:
            loc = None
        if loc is not None and s in loc[1]:
            self.w.uint(0)
            self.w.bits(_g.bits(len(loc[0])), loc[1][s])
            return
        if s in self.st.gidx and not self.literal:
            self.w.uint(1)
            self.w.bits(_g.bits(len(self.st.glob)), self.st.gidx[s])
            return
        self.w.uint(len(s) + 2)
        for c in s:
            self.w.uint(ord(c))
        self.st.add(qn, s)

    def element(self, ei, v):
        el = self.m.elements[ei]
        self.ev.append(("SE", el.ns, el.name))
        self.content(el.grammar, (el.ns, el.name), v)
        self.ev.append(("EE",))

    def _l2(self, gi, state, width, code, nprods):
        """A second-level event: code within the second level of (gi, state)."""
        self.w.bits(width, nprods)
        self.w.bits(self.m.gram_l2[gi][state][0], code)

    def builtin(self, qn, d):
        """Undeclared element: AT(xsi:type) in the built-in grammar, then the type's grammar
        (xs:anyType unless the document names one); see _Dec.builtin."""
        tq = ANYTYPE
        if isinstance(d, dict) and XSI_TYPE in d:
            tq = split_qkey(d[XSI_TYPE])
            d = dict((k, v) for k, v in d.items() if k != XSI_TYPE)
            if list(d) == ["value"]:
                d = d["value"]
        try:
            gi = self.m.type_grammar(tq)
        except Exception:
            raise ExiError("{%s}%s: unknown xsi:type" % qn)
        if qn in self.seen:
            self.w.bits(1, 1)
        self.seen.add(qn)
        self.w.bits(2, 1)
        self.qn.write(self.w, XSI_NS, "type")
        self.qn.write(self.w, tq[0], tq[1])
        self.ev.append(("AT", XSI_NS, "type", tq))
        self.content(gi, qn, d)

    def content(self, gi, qn, v):
        m = self.m
        g = m.grammars[gi]
        lists = m.gram_lists[gi]
        simple = m.gram_simple[gi]
        ordered = m.gram_ordered[gi]
        name = qn[1]
        if isinstance(v, dict):
            d = v
        elif simple >= 0:
            d = {"value": v}
        else:
            raise ExiError("%s: dict expected" % name)
        items = d.get(CONTENT, []) if ordered else []
        if ordered and not isinstance(items, list):
            raise ExiError("%s: %s must be a list" % (name, CONTENT))
        nitem = 0
        used = {CONTENT: 1} if CONTENT in d and ordered else {}
        state = 0
        count = 0
        # xsi:type / xsi:nil: second-level events of the first state
        if XSI_TYPE in d:
            uri, local = split_qkey(d[XSI_TYPE])
            try:
                ng = m.type_grammar((uri, local))
            except Exception:
                raise ExiError("%s: unknown xsi:type %r" % (name, d[XSI_TYPE]))
            self._l2(gi, 0, _g.bits(len(g[0]) + 1), m.gram_l2[gi][0][1], len(g[0]))
            self.qn.write(self.w, uri, local)
            self.ev.append(("AT", XSI_NS, "type", (uri, local)))
            used[XSI_TYPE] = 1
            gi, g, lists, simple, ordered = ng, m.grammars[ng], m.gram_lists[ng], m.gram_simple[ng], m.gram_ordered[ng]
            items = d.get(CONTENT, []) if ordered else []
            if CONTENT in d and ordered:
                used[CONTENT] = 1
        if XSI_NIL in d:
            nil = d[XSI_NIL]
            if not isinstance(nil, bool):
                raise ExiError("%s: xsi:nil must be a bool" % name)
            self._l2(gi, 0, _g.bits(len(g[0]) + 1), m.gram_l2[gi][0][1] + 1, len(g[0]))
            self.w.bits(1, 1 if nil else 0)
            self.ev.append(("AT", XSI_NS, "nil", "true" if nil else "false"))
            used[XSI_NIL] = 1
            if nil:
                gi = m.gram_nil[gi]
                g, lists, simple, ordered, items = m.grammars[gi], (), -1, False, []
        anames = set(m.attrs[p[1]][1] for st in g for p in st if p[0] == "AT")
        enames = set(m.elements[p[1]].name for st in g for p in st if p[0] == "SE")
        anyattr = any(p[0] == "ATW" for st in g for p in st)
        if ordered and CONTENT not in d and any(k in enames for k in d):
            ordered = False      # children grouped by name (the native codec's form): schema order
        while True:
            prods = g[state]
            width = _g.bits(len(prods) + 1)
            chosen = None
            attrs_left = [k for k in d if k not in used and k not in ("value", CONTENT, XSI_TYPE, XSI_NIL)
                          and (k in anames or (anyattr and k not in enames))]
            item = items[nitem] if nitem < len(items) else None
            ikey = None
            if isinstance(item, dict):
                if len(item) != 1:
                    raise ExiError("%s: content items are single-key dicts or str" % name)
                (ikey, ival), = item.items()
            for code, p in enumerate(prods):
                ev, arg = p[0], p[1]
                if ev == "AT":
                    an = m.attrs[arg][1]
                    if an in d and an not in used:
                        chosen = code
                        break
                elif ev == "ATW":
                    if [k for k in attrs_left if not any(
                            q[0] == "AT" and m.attrs[q[1]][1] == k for q in prods)]:
                        chosen = code
                        break
                elif attrs_left and any(q[0] in ("AT", "ATW") for q in prods):
                    continue     # attributes first
                elif ev == "SE":
                    el = m.elements[arg]
                    if ordered:
                        if ikey is not None and (ikey == el.name or split_qkey(ikey) == (el.ns, el.name)):
                            chosen = code
                            break
                    elif el.name in d and used.get(el.name, 0) < (len(d[el.name]) if el.name in lists else 1):
                        chosen = code
                        break
                elif ev == "SEW":
                    if ordered and ikey is not None and ikey.startswith("{"):
                        chosen = code
                        break
                elif ev == "CH":
                    if arg < 0:
                        if isinstance(item, str):
                            chosen = code
                            break
                    elif "value" in d and "value" not in used:
                        chosen = code
                        break
                elif ev == "EE":
                    if nitem == len(items) and all(k in used for k in d) and all(
                            used[k] == len(d[k]) for k in d if k in lists):
                        chosen = code
                        break
            if chosen is None:
                left = [k for k in d if k not in used or (k in lists and used[k] < len(d[k]))]
                if not left and nitem == len(items) and self.lenient and m.gram_l2[gi][state][1]:
                    self._l2(gi, state, width, 0, len(prods))     # required content missing
                    return
                raise ExiError("%s: cannot encode %s here (schema order/required element?)" % (
                    name, left + items[nitem:nitem + 1]))
            ev, arg, tgt, limit, exit_ = prods[chosen]
            if (ev == "CH" and arg >= 0 and m.gram_l2[gi][state][1] and (d["value"] is None or (
                    not self.empty_ch and d["value"] in ("", b"", [])))):
                # empty content: EE at the second level, as EXIficient writes it
                self._l2(gi, state, width, 0, len(prods))
                if not all(k in used or k == "value" for k in d):
                    raise ExiError("%s: content after an empty value" % name)
                return
            self.w.bits(width, chosen)
            if ev == "EE":
                return
            if ev == "AT":
                ans, an, adt = m.attrs[arg]
                self.ev.append(("AT", ans, an, (adt, d[an])))
                self.value(adt, (ans, an), d[an])
                used[an] = 1
            elif ev == "ATW":
                k = [k for k in attrs_left if not any(q[0] == "AT" and m.attrs[q[1]][1] == k for q in prods)][0]
                uri, local = split_qkey(k)
                if not isinstance(d[k], str):
                    raise ExiError("%s: attribute %s: str expected" % (name, k))
                self.qn.write(self.w, uri, local)
                self.ev.append(("AT", uri, local, d[k]))
                self.string((uri, local), d[k])
                used[k] = 1
            elif ev == "CH":
                if arg < 0:
                    if not item:
                        raise ExiError("%s: empty text item" % name)
                    self.ev.append(("CH", item))
                    self.string(qn, item)
                    nitem += 1
                else:
                    self.ev.append(("CH", (arg, d["value"])))
                    self.value(arg, qn, d["value"])
                    used["value"] = 1
            elif ev == "SE":
                el = m.elements[arg]
                if ordered:
                    self.element(arg, ival)
                    nitem += 1
                elif el.name in lists:
                    i = used.get(el.name, 0)
                    self.element(arg, d[el.name][i])
                    used[el.name] = i + 1
                else:
                    self.element(arg, d[el.name])
                    used[el.name] = 1
            elif ev == "SEW":
                uri, local = split_qkey(ikey)
                self.qn.write(self.w, uri, local)
                ei = m.globals_by_qname.get((uri, local))
                self.ev.append(("SE", uri, local))
                if ei is not None:
                    self.content(m.elements[ei].grammar, (uri, local), ival)
                else:
                    self.builtin((uri, local), ival)
                self.ev.append(("EE",))
                nitem += 1
            if limit:
                count = count + 1 if tgt == state else 1
                state = exit_ if count >= limit else tgt
            else:
                state = tgt

    def document(self, doc):
        if not isinstance(doc, dict) or len(doc) != 1:
            raise ExiError("document must be a dict with one root element")
        (name, v), = doc.items()
        els = self.m.doc_elements
        for code, ei in enumerate(els):
            if self.m.elements[ei].name == name:
                break
        else:
            raise ExiError("unknown root element %r" % name)
        self.w.bits(8, 0x80)
        self.w.bits(_g.bits(len(els) + 1), code)
        self.element(ei, v)
        return self.w.finish()


def events(schema, doc, flags=0):
    """The events encode() writes for doc: ("SE", uri, local), ("AT", uri, local, value),
    ("CH", value), ("EE",); typed values as (datatype index, value). For tools.exi.xmlmap."""
    e = _Enc(model(schema), False, flags)
    e.document(doc)
    return e.ev


def decode(schema, data):
    """EXI bytes -> document (dict)."""
    return _Dec(model(schema), data).document()


def encode(schema, doc, flags=0, hexbytes=False):
    """Document -> EXI bytes. flags: see STRING_TABLE, EMPTY_AS_CH, COMPAT; hexbytes:
    accept hex strings for binary values."""
    return _Enc(model(schema), hexbytes, flags).document(doc)
