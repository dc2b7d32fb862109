"""Pure-Python EXI codec driven by the grammar model of tools.exigen: the second oracle of the
C codec (slow, host only). Same document representation as the native module:

- an element is its local name in the parent dict; elements that may repeat in their parent
  (maxOccurs > 1) are always lists;
- complex content -> dict; attributes are keys with their local name; simple content with
  attributes -> dict with the content under "value";
- simple-typed elements -> int / bool / str (strings, enumerations) / bytes (hex/base64Binary)
  / list (xs:list); None for an element without content whose type has no empty value
  (EE at the second level where content was expected).
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


class _Dec:
    def __init__(self, m, data):
        self.m = m
        self.r = _Reader(data)
        self.st = _Strings()

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
        s = "".join(chr(r.uint()) for _ in range(n))
        self.st.add(qn, s)
        return s

    def element(self, ei, depth=0):
        m = self.m
        el = m.elements[ei]
        if depth > 64:
            raise ExiError("nesting too deep", self.r.pos)
        g = m.grammars[el.grammar]
        lists = m.gram_lists[el.grammar]
        qn = (el.ns, el.name)
        out = {}
        val = None
        has_value = False
        state = 0
        count = 0
        while True:
            prods = g[state]
            code = self.r.bits(_g.bits(len(prods) + 1))
            if code >= len(prods):
                width, l2_ee = m.gram_l2[el.grammar][state]
                if self.r.bits(width) != 0 or not l2_ee:
                    raise ExiError("second-level event (schema deviation) unsupported", self.r.pos)
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
                    raise ExiError("mixed content unsupported", self.r.pos)
                val = self.value(arg, qn)
                has_value = True
            elif ev == "SE":
                child = m.elements[arg]
                v = self.element(arg, depth + 1)
                if child.name in lists:
                    out.setdefault(child.name, []).append(v)
                else:
                    out[child.name] = v
            else:
                raise ExiError("wildcard content unsupported", self.r.pos)
            if limit:
                count = count + 1 if tgt == state else 1
                state = exit_ if count >= limit else tgt
            else:
                state = tgt
        if has_value:
            if out or m.gram_wrap[el.grammar]:
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
        m = self.m
        el = m.elements[ei]
        g = m.grammars[el.grammar]
        lists = m.gram_lists[el.grammar]
        simple = m.gram_simple[el.grammar]
        qn = (el.ns, el.name)
        if isinstance(v, dict):
            d = v
        elif simple >= 0:
            d = {"value": v}
        else:
            raise ExiError("%s: dict expected" % el.name)
        used = {}
        state = 0
        count = 0
        while True:
            prods = g[state]
            width = _g.bits(len(prods) + 1)
            chosen = None
            for code, p in enumerate(prods):
                ev, arg = p[0], p[1]
                if ev == "AT":
                    name = m.attrs[arg][1]
                    if name in d and name not in used:
                        chosen = code
                        break
                elif ev == "SE":
                    name = m.elements[arg].name
                    if name in d and used.get(name, 0) < (len(d[name]) if name in lists else 1):
                        chosen = code
                        break
                elif ev == "CH":
                    if "value" in d and "value" not in used:
                        chosen = code
                        break
                elif ev == "EE":
                    if all(k in used for k in d) and all(
                            used[k] == len(d[k]) for k in d if k in lists):
                        chosen = code
                        break
            if chosen is None:
                left = [k for k in d if k not in used or (k in lists and used[k] < len(d[k]))]
                if not left and self.lenient and m.gram_l2[el.grammar][state][1]:
                    self.w.bits(width, len(prods))      # required content missing: 2nd-level EE
                    self.w.bits(m.gram_l2[el.grammar][state][0], 0)
                    return
                raise ExiError("%s: cannot encode %s here (schema order/required element?)" % (el.name, left))
            ev, arg, tgt, limit, exit_ = prods[chosen]
            if (ev == "CH" and m.gram_l2[el.grammar][state][1] and (d["value"] is None or (
                    not self.empty_ch and d["value"] in ("", b"", [])))):
                # empty content: EE at the second level, as EXIficient writes it
                self.w.bits(width, len(prods))
                self.w.bits(m.gram_l2[el.grammar][state][0], 0)
                if not all(k in used or k == "value" for k in d):
                    raise ExiError("%s: content after an empty value" % el.name)
                return
            self.w.bits(width, chosen)
            if ev == "EE":
                return
            if ev == "AT":
                ans, an, adt = m.attrs[arg]
                self.value(adt, (ans, an), d[an])
                used[an] = 1
            elif ev == "CH":
                self.value(arg, qn, d["value"])
                used["value"] = 1
            elif ev == "SE":
                name = m.elements[arg].name
                if name in lists:
                    i = used.get(name, 0)
                    self.element(arg, d[name][i])
                    used[name] = i + 1
                else:
                    self.element(arg, d[name])
                    used[name] = 1
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


def decode(schema, data):
    """EXI bytes -> document (dict)."""
    return _Dec(model(schema), data).document()


def encode(schema, doc, flags=0, hexbytes=False):
    """Document -> EXI bytes. flags: see STRING_TABLE, EMPTY_AS_CH, COMPAT; hexbytes:
    accept hex strings for binary values."""
    return _Enc(model(schema), hexbytes, flags).document(doc)
