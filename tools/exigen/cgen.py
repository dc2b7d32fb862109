"""C table generator: one ``exi_<schema>.c`` per schema with const tables (no pointers in
data, so the natmod linker needs no data relocations) and a function that fills an
``exi_schema_t`` with their addresses at run time.

Output is a pure function of the grammar model: same XSDs -> byte-identical files.
"""
from . import grammar as G

# production event codes shared with native/exi/exi.h
EV = {"SE": 0, "SEL": 1, "AT": 2, "CH": 3, "EE": 4, "SEW": 5, "ATW": 6}
CNT = 0x0800          # counted production flag (arg limited to 11 bits)
DT = {"nbit": 1, "uint": 2, "int": 3, "bool": 4, "string": 5, "binary": 6, "enum": 7,
      "list": 8, "decimal": 9, "float": 10, "datetime": 11}


class Names:
    """Distinct local names (dict keys) -> id, in first-seen order of a deterministic walk."""

    def __init__(self):
        self.ids = {}
        self.order = []

    def id(self, s):
        if s not in self.ids:
            self.ids[s] = len(self.order)
            self.order.append(s)
        return self.ids[s]


def _c_str_blob(strings):
    """(blob as C string literal lines, offsets). Strings are NUL-terminated."""
    offs = []
    pos = 0
    parts = []
    for s in strings:
        offs.append(pos)
        b = s.encode("utf-8")
        pos += len(b) + 1
        parts.append(b + b"\0")
    blob = b"".join(parts)
    lines = []
    for i in range(0, len(blob), 64):
        chunk = blob[i:i + 64]
        lines.append('    "' + "".join(
            "\\%03o" % c if (c < 32 or c > 126 or c in (34, 92, 63)) else chr(c) for c in chunk) + '"')
    return lines or ['    ""'], offs, len(blob)


def _arr(ctype, name, values, per_line=16):
    out = ["static const %s %s[%d] = {" % (ctype, name, max(1, len(values)))]
    vals = list(values) or [0]
    for i in range(0, len(vals), per_line):
        out.append("    " + ", ".join(str(v) for v in vals[i:i + per_line]) + ",")
    out.append("};")
    return out


def generate(schema, m):
    p = "exi_" + schema
    names = Names()
    names.id("value")     # id 0; "#", "xsi:type", "xsi:nil" take the last three (exi.h EXI_NAME_*)
    # qnames: distinct (ns, local) of elements and attributes -> string table partitions
    qn_ids = {}

    def qn(ns, local):
        k = (ns, local)
        if k not in qn_ids:
            qn_ids[k] = len(qn_ids)
        return qn_ids[k]

    elem_name = [names.id(e.name) for e in m.elements]
    elem_qn = [qn(e.ns, e.name) for e in m.elements]
    attr_name = [names.id(a[1]) for a in m.attrs]
    attr_qn = [qn(a[0], a[1]) for a in m.attrs]
    attr_dt = [a[2] for a in m.attrs]
    # states: global numbering, grammar g starts at gram_base[g]
    gram_base = []
    state_prod = []
    state_l2 = []
    prod_ev = []
    prod_tgt = []
    counted = []
    for gi, g in enumerate(m.grammars):
        base = sum(len(x) for x in m.grammars[:gi])
        gram_base.append(base)
    for gi, g in enumerate(m.grammars):
        base = gram_base[gi]
        lists = m.gram_lists[gi]
        for si, st in enumerate(g):
            state_prod.append(len(prod_ev))
            width, l2_ee = m.gram_l2[gi][si]
            l1 = G.bits(len(st) + 1)
            assert width <= 3 and l1 <= 15
            state_l2.append(width | (4 if l2_ee else 0) | (8 if m.gram_ordered[gi] else 0) | (l1 << 4))
            for ev, arg, tgt, limit, exit_ in st:
                if ev == "SE":
                    code = EV["SEL"] if m.elements[arg].name in lists else EV["SE"]
                elif ev == "CH" and arg < 0:
                    code, arg = EV["CH"], 0x7FF
                else:
                    code = EV[ev]
                if arg > 0x7FF:
                    raise ValueError("argument too large for the production encoding")
                word = (code << 12) | arg
                if limit:
                    word |= CNT
                    counted.extend([len(prod_ev), limit, base + exit_])
                prod_ev.append(word)
                prod_tgt.append(base + tgt if ev != "EE" else 0)
    state_prod.append(len(prod_ev))
    elem_state = [gram_base[e.grammar] for e in m.elements]
    elem_flags = [1 if m.gram_wrap[e.grammar] else 0 for e in m.elements]
    # datatypes
    dt_kind, dt_a, dt_b, dt_lo, dt_hi, dt_flags = [], [], [], [], [], []
    enum_strings = []
    for dt in m.datatypes:
        a = b = 0
        lo = dt.lo if dt.lo is not None else 0
        hi = dt.hi if dt.hi is not None else 0
        flags = (1 if dt.lo is not None else 0) | (2 if dt.hi is not None else 0)
        if dt.kind == "nbit":
            a = G.bits(dt.hi - dt.lo + 1)
        elif dt.kind == "enum":
            a = len(dt.enum)
            b = len(enum_strings)
            enum_strings.extend(dt.enum)
            a_bits = G.bits(len(dt.enum))
            flags |= a_bits << 4
        elif dt.kind == "list":
            a = m.datatype(dt.item)
        if hi > (1 << 63) - 1:     # unsignedLong: max 2**64-1 does not fit the int64 table
            hi = (1 << 63) - 1
            flags = (flags & ~2) | 8
        dt_kind.append(DT[dt.kind])
        dt_a.append(a)
        dt_b.append(b)
        dt_lo.append(lo)
        dt_hi.append(hi)
        dt_flags.append(flags)
    # qname string tables: the pre-populated uris and, per uri, its local names (name ids)
    uri_index = dict((u, i) for i, u in enumerate(m.uris))
    # strings only for names a document can use here (elements, attributes, xsi:type
    # types); the other pre-populated names count but have no string (0xFFFF)
    usable = set(names.order) | set(e.name for e in m.elements) | set(a[1] for a in m.attrs)
    usable |= set(l for _u, l, _g in m.type_table) | {"nil", "type", "base", "id", "lang", "space"}
    qn_local, qn_local_off = [], []
    for locs in m.uri_locals:
        qn_local_off.append(len(qn_local))
        qn_local.extend(names.id(x) if x in usable else 0xFFFF for x in locs)
    qn_local_off.append(len(qn_local))
    doc_uri = [uri_index[m.elements[ei].ns] for ei in m.doc_elements]
    types = sorted((uri_index[u], names.id(l), gram_base[gi]) for u, l, gi in m.type_table)
    # xsi:nil grammars: types with attributes have their own; the rest share the empty
    # grammar (the entry with key 0xFFFF, last)
    shared = max(set(m.gram_nil), key=lambda g: (m.gram_nil.count(g), -g))
    nil = sorted(set((gram_base[gi], gram_base[m.gram_nil[gi]]) for gi in range(len(m.grammars))
                     if m.gram_nil[gi] != gi and m.gram_nil[gi] != shared))
    nil.append((0xFFFF, gram_base[shared]))
    uri_lines, uri_offs, uri_len = _c_str_blob(m.uris)
    for reserved in ("#", "xsi:type", "xsi:nil"):
        names.id(reserved)
    name_lines, name_offs, name_len = _c_str_blob(names.order)
    name_sorted = sorted(range(len(names.order)), key=lambda i: names.order[i].encode("utf-8"))
    enum_lines, enum_offs, enum_len = _c_str_blob(enum_strings)
    out = []
    w = out.append
    w("/* Generated by tools/exigen from the %s XSDs. Do not edit: python -m tools.exigen */" % schema)
    w('#include "../exi.h"')
    w("")
    w("/* %d elements, %d attributes, %d grammars, %d states, %d productions, %d datatypes */" % (
        len(m.elements), len(m.attrs), len(m.grammars), len(state_prod) - 1, len(prod_ev), len(m.datatypes)))
    w("static const char %s_names[%d] =" % (p, name_len + 1))
    out.extend(name_lines)
    out[-1] += ";"
    out.extend(_arr("uint16_t", p + "_name_off", name_offs))
    out.extend(_arr("uint16_t", p + "_name_sorted", name_sorted))
    w("static const char %s_enums[%d] =" % (p, enum_len + 1))
    out.extend(enum_lines)
    out[-1] += ";"
    out.extend(_arr("uint16_t", p + "_enum_off", enum_offs))
    out.extend(_arr("uint16_t", p + "_elem_name", elem_name))
    out.extend(_arr("uint16_t", p + "_elem_qname", elem_qn))
    out.extend(_arr("uint16_t", p + "_elem_state", elem_state))
    out.extend(_arr("uint8_t", p + "_elem_flags", elem_flags))
    out.extend(_arr("uint16_t", p + "_attr_name", attr_name))
    out.extend(_arr("uint16_t", p + "_attr_qname", attr_qn))
    out.extend(_arr("uint16_t", p + "_attr_dt", attr_dt))
    out.extend(_arr("uint16_t", p + "_state_prod", state_prod))
    out.extend(_arr("uint8_t", p + "_state_l2", state_l2))
    out.extend(_arr("uint16_t", p + "_prod_ev", ["0x%04x" % x for x in prod_ev], 12))
    out.extend(_arr("uint16_t", p + "_prod_tgt", prod_tgt))
    out.extend(_arr("uint16_t", p + "_counted", counted, 12))
    out.extend(_arr("uint16_t", p + "_doc", m.doc_elements))
    out.extend(_arr("uint8_t", p + "_dt_kind", dt_kind))
    out.extend(_arr("uint8_t", p + "_dt_flags", dt_flags))
    out.extend(_arr("uint16_t", p + "_dt_a", dt_a))
    out.extend(_arr("uint16_t", p + "_dt_b", dt_b))
    out.extend(_arr("int64_t", p + "_dt_lo", ["%dLL" % v if v != -(1 << 63) else "(-9223372036854775807LL - 1)"
                                             for v in dt_lo], 6))
    out.extend(_arr("int64_t", p + "_dt_hi", ["%dLL" % v for v in dt_hi], 6))
    w("static const char %s_uris[%d] =" % (p, uri_len + 1))
    out.extend(uri_lines)
    out[-1] += ";"
    out.extend(_arr("uint16_t", p + "_uri_off", uri_offs))
    out.extend(_arr("uint16_t", p + "_qn_local", qn_local))
    out.extend(_arr("uint16_t", p + "_qn_local_off", qn_local_off))
    out.extend(_arr("uint8_t", p + "_doc_uri", doc_uri))
    out.extend(_arr("uint8_t", p + "_type_uri", [t[0] for t in types]))
    out.extend(_arr("uint16_t", p + "_type_name", [t[1] for t in types]))
    out.extend(_arr("uint16_t", p + "_type_state", [t[2] for t in types]))
    out.extend(_arr("uint16_t", p + "_nil_from", [x[0] for x in nil]))
    out.extend(_arr("uint16_t", p + "_nil_to", [x[1] for x in nil]))
    w("")
    w("void %s_schema(exi_schema_t *s) {" % p)
    for field, n in (("names", None), ("name_off", len(names.order)), ("name_sorted", None), ("enums", None),
                     ("enum_off", len(enum_strings)), ("elem_name", len(m.elements)),
                     ("elem_qname", None), ("elem_state", None), ("elem_flags", None),
                     ("attr_name", len(m.attrs)),
                     ("attr_qname", None), ("attr_dt", None), ("state_prod", len(state_prod) - 1),
                     ("state_l2", None),
                     ("prod_ev", len(prod_ev)), ("prod_tgt", None), ("counted", len(counted) // 3),
                     ("doc", len(m.doc_elements)), ("dt_kind", len(m.datatypes)), ("dt_flags", None),
                     ("dt_a", None), ("dt_b", None), ("dt_lo", None), ("dt_hi", None)):
        w("    s->%s = %s_%s;" % (field, p, field))
        if n is not None:
            w("    s->n_%s = %d;" % (field, n))
    for field, n in (("uris", None), ("uri_off", len(m.uris)), ("qn_local", None), ("qn_local_off", None),
                     ("doc_uri", None), ("type_uri", len(types)), ("type_name", None), ("type_state", None),
                     ("nil_from", len(nil)), ("nil_to", None)):
        w("    s->%s = %s_%s;" % (field, p, field))
        if n is not None:
            w("    s->n_%s = %d;" % (field, n))
    w("    s->n_qnames = %d;" % len(qn_ids))
    w("}")
    return "\n".join(out) + "\n", names.order
