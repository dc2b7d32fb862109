/* EXI core: bit stream, EXI primitives, grammar interpreter. See exi.h. */
#include "exi.h"

#define FAIL(c, code, msg) return fail((c), (code), (msg))

/* rare paths (xsi, wildcards, ordered content) and values stay out of the interpreter
   loops: inlined there they cost the loops registers (measured by callgrind) */
#if defined(__GNUC__)
#define COLD __attribute__((noinline))
#else
#define COLD
#endif

static int fail(exi_ctx_t *c, int code, const char *msg) {
    if (!c->error) {
        c->error = code;
        c->error_pos = c->pos;
        c->error_msg = msg;
    }
    return code;
}

static unsigned width(unsigned n) {
    unsigned w = 0;
    while ((1u << w) < n) {
        w++;
    }
    return w;
}

static int streq(const char *a, const uint8_t *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != (char)b[i] || a[i] == 0) {
            return 0;
        }
    }
    return a[n] == 0;
}

int exi_schema_index(const char *name, size_t len) {
    if (streq("apphand", (const uint8_t *)name, len)) {
        return 0;
    }
    if (streq("din", (const uint8_t *)name, len)) {
        return 1;
    }
    if (streq("iso2", (const uint8_t *)name, len)) {
        return 2;
    }
#ifdef EXI_ISO20
    if (streq("iso20_cm", (const uint8_t *)name, len)) {
        return 3;
    }
    if (streq("iso20_ac", (const uint8_t *)name, len)) {
        return 4;
    }
    if (streq("iso20_dc", (const uint8_t *)name, len)) {
        return 5;
    }
    if (streq("iso20_acdp", (const uint8_t *)name, len)) {
        return 6;
    }
    if (streq("iso20_wpt", (const uint8_t *)name, len)) {
        return 7;
    }
#endif
    return -1;
}

int exi_schema_by_name(exi_schema_t *s, const char *name, size_t len) {
    switch (exi_schema_index(name, len)) {
        case 0:
            exi_apphand_schema(s);
            return 0;
        case 1:
            exi_din_schema(s);
            return 0;
        case 2:
            exi_iso2_schema(s);
            return 0;
#ifdef EXI_ISO20
        case 3:
            exi_iso20_cm_schema(s);
            return 0;
        case 4:
            exi_iso20_ac_schema(s);
            return 0;
        case 5:
            exi_iso20_dc_schema(s);
            return 0;
        case 6:
            exi_iso20_acdp_schema(s);
            return 0;
        case 7:
            exi_iso20_wpt_schema(s);
            return 0;
#endif
        default:
            return -1;
    }
}

const char *exi_name(const exi_schema_t *s, unsigned name_id) {
    return s->names + s->name_off[name_id];
}

int exi_name_id(const exi_schema_t *s, const char *p, size_t len) {
    int lo = 0, hi = (int)s->n_name_off - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, r = 0;
        const uint8_t *a = (const uint8_t *)s->names + s->name_off[s->name_sorted[mid]];
        size_t i;
        for (i = 0; i < len && a[i]; i++) {
            if (a[i] != (uint8_t)p[i]) {
                r = a[i] < (uint8_t)p[i] ? -1 : 1;
                break;
            }
        }
        if (!r) {
            r = i < len ? -1 : (a[i] ? 1 : 0);
        }
        if (!r) {
            return s->name_sorted[mid];
        }
        if (r < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -1;
}

const char *exi_errstr(int err) {
    switch (err) {
        case EXI_E_TRUNCATED: return "truncated";
        case EXI_E_HEADER: return "bad header";
        case EXI_E_UNSUPPORTED: return "unsupported";
        case EXI_E_MALFORMED: return "malformed";
        case EXI_E_LIMIT: return "limit exceeded";
        case EXI_E_OUTPUT: return "output buffer too small";
        case EXI_E_DOC: return "document does not fit the schema";
        case EXI_E_CALLBACK: return "callback error";
        default: return "ok";
    }
}

/* ---- bit stream: reading ------------------------------------------------------------ */

static inline int rd(exi_ctx_t *c, unsigned n, uint32_t *out) {
    size_t p = c->pos, byte = p >> 3;
    uint32_t v = 0;
    if (n > c->bits - p) {
        FAIL(c, EXI_E_TRUNCATED, "input ends inside a value");
    }
    if (n == 0) {
        *out = 0;
        return 0;
    }
    if (n <= 25 && byte + 4 <= c->len) {   /* one big-endian word holds the whole field */
        const uint8_t *b = c->buf + byte;
        uint32_t w = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
        *out = (w << (p & 7)) >> (32 - n);
        c->pos = p + n;
        return 0;
    }
    while (n) {
        unsigned off = p & 7, take = 8 - off;
        if (take > n) {
            take = n;
        }
        v = (v << take) | ((c->buf[p >> 3] >> (8 - off - take)) & ((1u << take) - 1));
        p += take;
        n -= take;
    }
    c->pos = p;
    *out = v;
    return 0;
}

static int rd_uint(exi_ctx_t *c, uint64_t *out) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint32_t b;
    for (;;) {
        int e = rd(c, 8, &b);
        if (e) {
            return e;
        }
        if (shift == 63 && (b & 0x7E)) {
            FAIL(c, EXI_E_UNSUPPORTED, "integer wider than 64 bits");
        }
        if (shift > 63) {
            FAIL(c, EXI_E_UNSUPPORTED, "integer wider than 64 bits");
        }
        v |= (uint64_t)(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
}

/* may an integer of this datatype exceed 64 bits? (xs:integer, nonNegativeInteger...) */
static int big_ok(const exi_schema_t *s, unsigned dt) {
    uint8_t fl = s->dt_flags[dt];
    return !(fl & (2 | 8)) && (s->dt_kind[dt] == EXI_DT_UINT || !(fl & 1));
}

/* unsigned integer of any length (up to EXI_BIG_MAX bytes): v->mag, or if wider than
   64 bits little-endian magnitude bytes in the scratch buffer (v->big) */
static int rd_ubig(exi_ctx_t *c, exi_value_t *v) {
    uint32_t b, acc = 0;
    unsigned accn = 0;
    size_t o = 0, i;
    int e;
    for (;;) {
        if ((e = rd(c, 8, &b)) != 0) {
            return e;
        }
        acc |= (b & 0x7Fu) << accn;
        accn += 7;
        while (accn >= 8) {
            if (o >= EXI_BIG_MAX) {
                FAIL(c, EXI_E_LIMIT, "integer too wide");
            }
            c->scratch[o++] = (uint8_t)acc;
            acc >>= 8;
            accn -= 8;
        }
        if (!(b & 0x80)) {
            break;
        }
    }
    if (acc) {
        if (o >= EXI_BIG_MAX) {
            FAIL(c, EXI_E_LIMIT, "integer too wide");
        }
        c->scratch[o++] = (uint8_t)acc;
    }
    while (o && !c->scratch[o - 1]) {
        o--;
    }
    v->big = o > 8;
    v->mag = 0;
    if (v->big) {
        v->ptr = c->scratch;
        v->len = o;
    } else {
        for (i = o; i > 0; i--) {
            v->mag = (v->mag << 8) | c->scratch[i - 1];
        }
    }
    return 0;
}

/* magnitude + 1 (a negative EXI integer codes -(u + 1)) */
static void big_inc(exi_ctx_t *c, exi_value_t *v) {
    size_t i;
    if (!v->big) {
        if (v->mag != UINT64_MAX) {
            v->mag++;
            return;
        }
        for (i = 0; i < 8; i++) {
            c->scratch[i] = 0;
        }
        c->scratch[8] = 1;
        v->big = 1;
        v->ptr = c->scratch;
        v->len = 9;
        return;
    }
    for (i = 0; i < v->len; i++) {
        if (++c->scratch[i] != 0) {
            return;
        }
    }
    c->scratch[v->len++] = 1;
}

/* ---- bit stream: writing ------------------------------------------------------------ */

/* bits collect in a 64-bit accumulator; whole bytes go out as they complete */
static inline int wr(exi_ctx_t *c, unsigned n, uint32_t v) {
    c->acc = (c->acc << n) | (v & (uint32_t)((1ull << n) - 1));
    c->nacc += n;
    c->pos += n;
    while (c->nacc >= 8) {
        if (c->outn >= c->len) {
            FAIL(c, EXI_E_OUTPUT, "output buffer too small");
        }
        c->nacc -= 8;
        c->buf[c->outn++] = (uint8_t)(c->acc >> c->nacc);
    }
    return 0;
}

static int wr_flush(exi_ctx_t *c) {
    if (c->nacc) {
        if (c->outn >= c->len) {
            FAIL(c, EXI_E_OUTPUT, "output buffer too small");
        }
        c->buf[c->outn++] = (uint8_t)(c->acc << (8 - c->nacc));
        c->nacc = 0;
    }
    return 0;
}

/* unsigned integer from little-endian magnitude bytes; minus_one: write magnitude - 1 */
static int wr_ubig(exi_ctx_t *c, const uint8_t *p, size_t len, int minus_one) {
    uint8_t t[EXI_BIG_MAX];
    size_t i, nbits, bit = 0;
    for (i = 0; i < len; i++) {
        t[i] = p[i];
    }
    if (minus_one) {
        for (i = 0; i < len && t[i]-- == 0; i++) {
        }
    }
    while (len && !t[len - 1]) {
        len--;
    }
    nbits = len * 8;
    while (nbits && !((t[(nbits - 1) >> 3] >> ((nbits - 1) & 7)) & 1)) {
        nbits--;
    }
    do {
        unsigned g = 0, k;
        int e;
        for (k = 0; k < 7; k++, bit++) {
            if (bit < nbits && ((t[bit >> 3] >> (bit & 7)) & 1)) {
                g |= 1u << k;
            }
        }
        if ((e = wr(c, 8, bit < nbits ? (g | 0x80) : g)) != 0) {
            return e;
        }
    } while (bit < nbits);
    return 0;
}

static int wr_uint(exi_ctx_t *c, uint64_t v) {
    for (;;) {
        unsigned b = (unsigned)(v & 0x7F);
        int e;
        v >>= 7;
        e = wr(c, 8, v ? (b | 0x80) : b);
        if (e || !v) {
            return e;
        }
    }
}

/* ---- string tables -------------------------------------------------------------------- */

static int str_add(exi_ctx_t *c, unsigned qname, const uint8_t *p, size_t len) {
    exi_str_t *e;
    size_t i;
    if (len == 0) {
        return 0;
    }
    if (c->nstr >= EXI_MAX_STRINGS || len > (size_t)(EXI_STRING_ARENA - c->arena_used)) {
        /* V2G peers never use hits: keep decoding, fail only if a hit comes later */
        c->str_full = 1;
        return 0;
    }
    e = &c->str[c->nstr++];
    e->off = c->arena_used;
    e->len = (uint16_t)len;
    e->qname = (uint16_t)qname;
    e->local = c->local_count[qname]++;
    for (i = 0; i < len; i++) {
        c->arena[c->arena_used++] = (char)p[i];
    }
    return 0;
}

static int str_eq(const exi_ctx_t *c, const exi_str_t *e, const uint8_t *p, size_t len) {
    size_t i;
    if (e->len != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((uint8_t)c->arena[e->off + i] != p[i]) {
            return 0;
        }
    }
    return 1;
}

static size_t utf8_put(uint8_t *d, uint32_t cp) {
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* next code point of UTF-8 p[*i:len]; -1 if invalid */
static int32_t utf8_get(const uint8_t *p, size_t len, size_t *i) {
    uint32_t cp;
    unsigned n, k;
    uint8_t b = p[*i];
    if (b < 0x80) {
        (*i)++;
        return b;
    }
    if ((b & 0xE0) == 0xC0) {
        cp = b & 0x1F;
        n = 1;
    } else if ((b & 0xF0) == 0xE0) {
        cp = b & 0x0F;
        n = 2;
    } else if ((b & 0xF8) == 0xF0) {
        cp = b & 0x07;
        n = 3;
    } else {
        return -1;
    }
    if (*i + n >= len) {
        return -1;
    }
    for (k = 1; k <= n; k++) {
        if ((p[*i + k] & 0xC0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (p[*i + k] & 0x3F);
    }
    *i += n + 1;
    return (int32_t)cp;
}

static int dec_string(exi_ctx_t *c, unsigned qname, exi_value_t *v) {
    uint64_t n;
    uint32_t idx;
    size_t out = 0, i;
    int e = rd_uint(c, &n);
    if (e) {
        return e;
    }
    if (n < 2) {
        unsigned count = n == 0 ? c->local_count[qname] : c->nstr;
        if (c->str_full) {
            FAIL(c, EXI_E_LIMIT, "string table hit after the table filled up");
        }
        if ((e = rd(c, width(count), &idx)) != 0) {
            return e;
        }
        if (idx >= count) {
            FAIL(c, EXI_E_MALFORMED, "string table index out of range");
        }
        for (i = 0; i < c->nstr; i++) {
            const exi_str_t *s = &c->str[i];
            if (n == 1 ? i == idx : (s->qname == qname && s->local == idx)) {
                v->ptr = (const uint8_t *)c->arena + s->off;
                v->len = s->len;
                return 0;
            }
        }
        FAIL(c, EXI_E_MALFORMED, "string table index out of range");
    }
    n -= 2;
    if (n > (c->bits - c->pos) / 8) {
        FAIL(c, EXI_E_TRUNCATED, "string longer than the input");
    }
    for (i = 0; i < n; i++) {
        uint64_t cp;
        if ((e = rd_uint(c, &cp)) != 0) {
            return e;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            FAIL(c, EXI_E_MALFORMED, "invalid code point");
        }
        if (out + 4 > EXI_SCRATCH) {
            FAIL(c, EXI_E_LIMIT, "string longer than the scratch buffer");
        }
        out += utf8_put(c->scratch + out, (uint32_t)cp);
    }
    v->ptr = c->scratch;
    v->len = out;
    return str_add(c, qname, c->scratch, out);
}

static int enc_string(exi_ctx_t *c, unsigned qname, const uint8_t *p, size_t len) {
    size_t i, n = 0;
    int e;
    if ((c->flags & EXI_ENC_STRING_TABLE) && len) {
        unsigned k;
        for (k = 0; k < c->nstr; k++) {
            const exi_str_t *s = &c->str[k];
            if (s->qname == qname && str_eq(c, s, p, len)) {
                if ((e = wr_uint(c, 0)) != 0) {
                    return e;
                }
                return wr(c, width(c->local_count[qname]), s->local);
            }
        }
        for (k = 0; k < c->nstr; k++) {
            if (str_eq(c, &c->str[k], p, len)) {
                if ((e = wr_uint(c, 1)) != 0) {
                    return e;
                }
                return wr(c, width(c->nstr), k);
            }
        }
    }
    for (i = 0; i < len;) {
        if (utf8_get(p, len, &i) < 0) {
            FAIL(c, EXI_E_DOC, "invalid UTF-8 in string");
        }
        n++;
    }
    if ((e = wr_uint(c, n + 2)) != 0) {
        return e;
    }
    for (i = 0; i < len;) {
        if ((e = wr_uint(c, (uint32_t)utf8_get(p, len, &i))) != 0) {
            return e;
        }
    }
    return (c->flags & EXI_ENC_STRING_TABLE) ? str_add(c, qname, p, len) : 0;
}

/* ---- qname string tables (uris, local names), xsi, wildcards ------------------------- */

#define XSI_URI 2       /* pre-populated uri indices (EXI 7.3.1) */
#define XSD_URI 3

static size_t cstrlen(const char *p) {
    size_t n = 0;
    while (p[n]) {
        n++;
    }
    return n;
}

static int bytes_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t i;
    if (al != bl) {
        return 0;
    }
    for (i = 0; i < al; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static unsigned n_uris(const exi_ctx_t *c) {
    return c->s.n_uri_off + c->nuris;
}

static const uint8_t *uri_str(const exi_ctx_t *c, unsigned u, size_t *len) {
    const char *p;
    if (u < c->s.n_uri_off) {
        p = c->s.uris + c->s.uri_off[u];
        *len = cstrlen(p);
        return (const uint8_t *)p;
    }
    u -= c->s.n_uri_off;
    *len = c->uri_add[u].len;
    return (const uint8_t *)c->arena + c->uri_add[u].off;
}

static unsigned n_pre_locals(const exi_ctx_t *c, unsigned u) {
    return u < c->s.n_uri_off ? (unsigned)(c->s.qn_local_off[u + 1] - c->s.qn_local_off[u]) : 0;
}

static unsigned n_locals(const exi_ctx_t *c, unsigned u) {
    unsigned n = n_pre_locals(c, u), i;
    for (i = 0; i < c->nlocals; i++) {
        n += c->local_add[i].uri == u;
    }
    return n;
}

static const uint8_t *local_str(const exi_ctx_t *c, unsigned u, unsigned idx, size_t *len) {
    unsigned pre = n_pre_locals(c, u), i;
    if (idx < pre) {
        unsigned id = c->s.qn_local[c->s.qn_local_off[u] + idx];
        /* 0xFFFF: a pre-populated name no document of this build can use (a type name
           without an element): it has no string; "\x01" matches no key */
        const char *p = id == 0xFFFF ? "\x01" : exi_name(&c->s, id);
        *len = cstrlen(p);
        return (const uint8_t *)p;
    }
    idx -= pre;
    for (i = 0; i < c->nlocals; i++) {
        if (c->local_add[i].uri == u && idx-- == 0) {
            *len = c->local_add[i].len;
            return (const uint8_t *)c->arena + c->local_add[i].off;
        }
    }
    *len = 0;
    return (const uint8_t *)"";
}

/* store UTF-8 text in the arena: its offset, or -1 when full */
static int arena_put(exi_ctx_t *c, const uint8_t *p, size_t len) {
    size_t i;
    int off = c->arena_used;
    if (len > (size_t)(EXI_STRING_ARENA - c->arena_used)) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        c->arena[c->arena_used++] = (char)p[i];
    }
    return off;
}

static int add_uri(exi_ctx_t *c, const uint8_t *p, size_t len) {
    int off;
    if (c->nuris >= EXI_MAX_URIS || n_uris(c) >= 255 || (off = arena_put(c, p, len)) < 0) {
        FAIL(c, EXI_E_LIMIT, "too many namespaces");
    }
    c->uri_add[c->nuris].off = (uint16_t)off;
    c->uri_add[c->nuris].len = (uint16_t)len;
    c->uri_add[c->nuris++].uri = 0;
    return 0;
}

static int add_local(exi_ctx_t *c, unsigned u, const uint8_t *p, size_t len) {
    int off;
    if (c->nlocals >= EXI_MAX_LOCALS || (off = arena_put(c, p, len)) < 0) {
        FAIL(c, EXI_E_LIMIT, "too many element/attribute names");
    }
    c->local_add[c->nlocals].off = (uint16_t)off;
    c->local_add[c->nlocals].len = (uint16_t)len;
    c->local_add[c->nlocals++].uri = (uint8_t)u;
    return 0;
}

/* n code points of a literal into the scratch buffer as UTF-8 */
static int rd_chars(exi_ctx_t *c, uint64_t n, size_t *out) {
    size_t i;
    *out = 0;
    if (n > (c->bits - c->pos) / 8) {
        FAIL(c, EXI_E_TRUNCATED, "string longer than the input");
    }
    for (i = 0; i < n; i++) {
        uint64_t cp;
        int e;
        if ((e = rd_uint(c, &cp)) != 0) {
            return e;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            FAIL(c, EXI_E_MALFORMED, "invalid code point");
        }
        if (*out + 4 > 255) {
            FAIL(c, EXI_E_LIMIT, "name too long");
        }
        *out += utf8_put(c->scratch + *out, (uint32_t)cp);
    }
    return 0;
}

/* a qname (uri, local-name index in its partition) */
static int rd_qname(exi_ctx_t *c, unsigned *uri, unsigned *local) {
    uint32_t i;
    uint64_t n;
    size_t len;
    int e;
    if ((e = rd(c, width(n_uris(c) + 1), &i)) != 0) {
        return e;
    }
    if (i == 0) {
        if ((e = rd_uint(c, &n)) != 0 || (e = rd_chars(c, n, &len)) != 0 || (e = add_uri(c, c->scratch, len)) != 0) {
            return e;
        }
        *uri = n_uris(c) - 1;
    } else if (i - 1 < n_uris(c)) {
        *uri = i - 1;
    } else {
        FAIL(c, EXI_E_MALFORMED, "uri index out of range");
    }
    if ((e = rd_uint(c, &n)) != 0) {
        return e;
    }
    if (n == 0) {
        unsigned cnt = n_locals(c, *uri);
        if ((e = rd(c, width(cnt), &i)) != 0) {
            return e;
        }
        if (i >= cnt) {
            FAIL(c, EXI_E_MALFORMED, "local-name index out of range");
        }
        *local = i;
        return 0;
    }
    *local = n_locals(c, *uri);
    if ((e = rd_chars(c, n - 1, &len)) != 0) {
        return e;
    }
    return add_local(c, *uri, c->scratch, len);
}

/* uint(count + add) and the code points of UTF-8 text */
static int wr_lit(exi_ctx_t *c, const uint8_t *p, size_t len, unsigned add) {
    size_t i, n = 0;
    int e;
    for (i = 0; i < len;) {
        if (utf8_get(p, len, &i) < 0) {
            FAIL(c, EXI_E_DOC, "invalid UTF-8 in a name");
        }
        n++;
    }
    if ((e = wr_uint(c, n + add)) != 0) {
        return e;
    }
    for (i = 0; i < len;) {
        if ((e = wr_uint(c, (uint32_t)utf8_get(p, len, &i))) != 0) {
            return e;
        }
    }
    return 0;
}

static int find_uri(const exi_ctx_t *c, const uint8_t *p, size_t len) {
    unsigned u;
    for (u = 0; u < n_uris(c); u++) {
        size_t l;
        const uint8_t *q = uri_str(c, u, &l);
        if (bytes_eq(q, l, p, len)) {
            return (int)u;
        }
    }
    return -1;
}

static int find_local(const exi_ctx_t *c, unsigned u, const uint8_t *p, size_t len) {
    unsigned i, n = n_locals(c, u);
    for (i = 0; i < n; i++) {
        size_t l;
        const uint8_t *q = local_str(c, u, i, &l);
        if (bytes_eq(q, l, p, len)) {
            return (int)i;
        }
    }
    return -1;
}

static int wr_qname(exi_ctx_t *c, const uint8_t *up, size_t ul, const uint8_t *lp, size_t ll,
                    unsigned *uri, unsigned *local) {
    int u = find_uri(c, up, ul), i, e;
    if (u >= 0) {
        if ((e = wr(c, width(n_uris(c) + 1), (uint32_t)u + 1)) != 0) {
            return e;
        }
    } else {
        if ((e = wr(c, width(n_uris(c) + 1), 0)) != 0 || (e = wr_lit(c, up, ul, 0)) != 0 ||
            (e = add_uri(c, up, ul)) != 0) {
            return e;
        }
        u = (int)n_uris(c) - 1;
    }
    *uri = (unsigned)u;
    i = find_local(c, (unsigned)u, lp, ll);
    if (i >= 0) {
        *local = (unsigned)i;
        if ((e = wr_uint(c, 0)) != 0) {
            return e;
        }
        return wr(c, width(n_locals(c, (unsigned)u)), (uint32_t)i);
    }
    *local = n_locals(c, (unsigned)u);
    if ((e = wr_lit(c, lp, ll, 1)) != 0) {
        return e;
    }
    return add_local(c, (unsigned)u, lp, ll);
}

/* "{uri}local" ("local" without a uri) of a qname into c->qbuf */
static size_t qkey(exi_ctx_t *c, unsigned u, unsigned local) {
    size_t ul, ll, n = 0, i;
    const uint8_t *up = uri_str(c, u, &ul), *lp = local_str(c, u, local, &ll);
    if (ul + ll + 2 > sizeof(c->qbuf)) {
        ul = 0;   /* cannot happen: names are at most 255 bytes, uris too */
    }
    if (ul) {
        c->qbuf[n++] = '{';
        for (i = 0; i < ul; i++) {
            c->qbuf[n++] = up[i];
        }
        c->qbuf[n++] = '}';
    }
    for (i = 0; i < ll && n < sizeof(c->qbuf); i++) {
        c->qbuf[n++] = lp[i];
    }
    return n;
}

/* split a "{uri}local" key */
static void split_key(const uint8_t *p, size_t len, const uint8_t **up, size_t *ul, const uint8_t **lp, size_t *ll) {
    size_t j;
    *up = p;
    *ul = 0;
    *lp = p;
    *ll = len;
    if (len && p[0] == '{') {
        for (j = len - 1; j > 0; j--) {     /* the last '}': a local name has none */
            if (p[j] == '}') {
                *up = p + 1;
                *ul = j - 1;
                *lp = p + j + 1;
                *ll = len - j - 1;
                return;
            }
        }
    }
}

static int local_is(const exi_ctx_t *c, unsigned u, unsigned local, const char *name) {
    size_t l;
    const uint8_t *p = local_str(c, u, local, &l);
    return streq(name, p, l);
}

/* global element with this qname, -1 if none */
static int global_elem(const exi_ctx_t *c, unsigned u, unsigned local) {
    unsigned i;
    for (i = 0; i < c->s.n_doc; i++) {
        if (c->s.doc_uri[i] == u && local_is(c, u, local, exi_name(&c->s, c->s.elem_name[c->s.doc[i]]))) {
            return c->s.doc[i];
        }
    }
    return -1;
}

/* start state of the grammar of a named type, -1 if none */
static int type_state(const exi_ctx_t *c, unsigned u, unsigned local) {
    unsigned i;
    for (i = 0; i < c->s.n_type_uri; i++) {
        if (c->s.type_uri[i] == u && local_is(c, u, local, exi_name(&c->s, c->s.type_name[i]))) {
            return c->s.type_state[i];
        }
    }
    return -1;
}

/* the xsi:nil grammar of the grammar starting at start: its own (types with attributes), or
   the shared empty one (last entry, key 0xFFFF) */
static uint32_t nil_state(const exi_schema_t *s, uint32_t start) {
    unsigned i;
    for (i = 0; i < s->n_nil_from; i++) {
        if (s->nil_from[i] == start || s->nil_from[i] == 0xFFFF) {
            return s->nil_to[i];
        }
    }
    return start;
}

/* an undeclared element name met before in this stream? (then the reference's built-in
   grammar for it has one first-level production); records it */
static int seen_before(exi_ctx_t *c, unsigned u, unsigned local) {
    unsigned i;
    for (i = 0; i < c->nseen; i++) {
        if (c->seen[i][0] == u && c->seen[i][1] == local) {
            return 1;
        }
    }
    if (c->nseen >= EXI_MAX_SEEN) {
        return -1;
    }
    c->seen[c->nseen][0] = (uint16_t)u;
    c->seen[c->nseen++][1] = (uint16_t)local;
    return 0;
}

static int sink_item(const exi_sink_t *k, int what, const uint8_t *key, size_t klen, const exi_value_t *v) {
    return k->item ? k->item(k->ctx, what, key, klen, v) : -1;
}

static unsigned frame_qname(const exi_ctx_t *c, const exi_frame_t *f) {
    return f->elem == EXI_ELEM_NONE ? c->s.n_qnames : c->s.elem_qname[f->elem];
}

/* ---- values --------------------------------------------------------------------------- */

/* field by field: a struct initialiser becomes a memset call, and natmods have no libc */
static void vzero(exi_value_t *v) {
    v->kind = 0;
    v->neg = 0;
    v->big = 0;
    v->mag = 0;
    v->ptr = 0;
    v->len = 0;
    v->count = 0;
}

static void set_int(exi_value_t *v, int64_t x) {
    if (x < 0) {
        v->neg = 1;
        v->mag = (uint64_t)(-(x + 1)) + 1;
    } else {
        v->neg = 0;
        v->mag = (uint64_t)x;
    }
}

static int dec_value(exi_ctx_t *c, unsigned dt, unsigned qname, exi_value_t *v) {
    const exi_schema_t *s = &c->s;
    uint32_t b;
    uint64_t u;
    int e = 0;
    v->kind = s->dt_kind[dt];
    v->big = 0;
    v->neg = 0;
    v->mag = 0;
    v->ptr = 0;
    v->len = 0;
    v->count = 0;
    switch (v->kind) {
        case EXI_DT_NBIT:
            if ((e = rd(c, s->dt_a[dt], &b)) != 0) {
                return e;
            }
            if (s->dt_lo[dt] + (int64_t)b > s->dt_hi[dt]) {
                FAIL(c, EXI_E_MALFORMED, "n-bit integer out of range");
            }
            set_int(v, s->dt_lo[dt] + (int64_t)b);
            return 0;
        case EXI_DT_UINT:
            if ((e = rd_ubig(c, v)) != 0) {
                return e;
            }
            if (v->big ? !big_ok(s, dt) : ((s->dt_flags[dt] & 2) && v->mag > (uint64_t)s->dt_hi[dt])) {
                FAIL(c, EXI_E_MALFORMED, "integer above the type's maximum");
            }
            return 0;
        case EXI_DT_INT:
            if ((e = rd(c, 1, &b)) != 0 || (e = rd_ubig(c, v)) != 0) {
                return e;
            }
            u = v->mag;
            if (b) {
                v->neg = 1;
                big_inc(c, v);
                if (v->big ? !big_ok(s, dt)
                           : ((s->dt_flags[dt] & 1) && (u > 0x7FFFFFFFFFFFFFFFULL || -(int64_t)u - 1 < s->dt_lo[dt]))) {
                    FAIL(c, EXI_E_MALFORMED, "integer below the type's minimum");
                }
            } else if (v->big ? !big_ok(s, dt)
                              : ((s->dt_flags[dt] & 2) && (s->dt_hi[dt] < 0 || u > (uint64_t)s->dt_hi[dt]))) {
                FAIL(c, EXI_E_MALFORMED, "integer above the type's maximum");
            }
            return 0;
        case EXI_DT_BOOL:
            if ((e = rd(c, 1, &b)) != 0) {
                return e;
            }
            v->mag = b;
            return 0;
        case EXI_DT_BINARY: {
            size_t i;
            if ((e = rd_uint(c, &u)) != 0) {
                return e;
            }
            if (u > (c->bits - c->pos) / 8) {
                FAIL(c, EXI_E_TRUNCATED, "binary longer than the input");
            }
            if (u > EXI_SCRATCH) {
                FAIL(c, EXI_E_LIMIT, "binary longer than the scratch buffer");
            }
            for (i = 0; i < u; i++) {
                if ((e = rd(c, 8, &b)) != 0) {
                    return e;
                }
                c->scratch[i] = (uint8_t)b;
            }
            v->ptr = c->scratch;
            v->len = (size_t)u;
            return 0;
        }
        case EXI_DT_ENUM: {
            const char *name;
            if ((e = rd(c, s->dt_flags[dt] >> 4, &b)) != 0) {
                return e;
            }
            if (b >= s->dt_a[dt]) {
                FAIL(c, EXI_E_MALFORMED, "enumeration index out of range");
            }
            name = s->enums + s->enum_off[s->dt_b[dt] + b];
            v->ptr = (const uint8_t *)name;
            while (name[v->len]) {
                v->len++;
            }
            v->mag = b;
            return 0;
        }
        case EXI_DT_STRING:
            return dec_string(c, qname, v);
        default:
            FAIL(c, EXI_E_UNSUPPORTED, "datatype not supported");
    }
}

/* decode simple content (lists: header then items) and hand it to the sink */
static int dec_content(exi_ctx_t *c, unsigned dt, unsigned qname, const exi_sink_t *k, int attr) {
    exi_value_t v;
    int e;
    if (c->s.dt_kind[dt] == EXI_DT_LIST) {
        uint64_t n, i;
        if (attr >= 0) {
            FAIL(c, EXI_E_UNSUPPORTED, "list-typed attribute");
        }
        if ((e = rd_uint(c, &n)) != 0) {
            return e;
        }
        if (n > c->bits - c->pos) {
            FAIL(c, EXI_E_TRUNCATED, "list longer than the input");
        }
        v.kind = EXI_DT_LIST;
        v.count = (uint16_t)(n > 0xFFFF ? 0xFFFF : n);
        v.ptr = 0;
        v.len = 0;
        if (n > 0xFFFF) {
            FAIL(c, EXI_E_LIMIT, "list too long");
        }
        if (k->value(k->ctx, &c->s, &v)) {
            FAIL(c, EXI_E_CALLBACK, "sink");
        }
        for (i = 0; i < n; i++) {
            if ((e = dec_value(c, c->s.dt_a[dt], qname, &v)) != 0) {
                return e;
            }
            if (k->value(k->ctx, &c->s, &v)) {
                FAIL(c, EXI_E_CALLBACK, "sink");
            }
        }
        return 0;
    }
    if ((e = dec_value(c, dt, qname, &v)) != 0) {
        return e;
    }
    if (attr >= 0 ? k->attr(k->ctx, &c->s, (unsigned)attr, &v) : k->value(k->ctx, &c->s, &v)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    return 0;
}

static int setup(exi_ctx_t *c, const char *schema, size_t schema_len, uint8_t *buf, size_t len) {
    unsigned i;
    c->error = 0;
    c->error_pos = 0;
    c->error_msg = 0;
    c->pos = 0;
    c->buf = buf;
    c->len = len;
    c->bits = len * 8;
    c->acc = 0;
    c->nacc = 0;
    c->outn = 0;
    c->nstr = 0;
    c->arena_used = 0;
    c->str_full = 0;
    c->depth = 0;
    if (exi_schema_by_name(&c->s, schema, schema_len)) {
        FAIL(c, EXI_E_DOC, "unknown schema");
    }
    if (c->s.n_qnames >= EXI_MAX_QNAMES) {
        FAIL(c, EXI_E_LIMIT, "schema has too many qnames");
    }
    c->nuris = 0;
    c->nlocals = 0;
    c->nseen = 0;
    for (i = 0; i <= c->s.n_qnames; i++) {
        c->local_count[i] = 0;
    }
    return 0;
}

/* next state after production pi taken in state st of frame f */
static uint32_t advance(const exi_schema_t *s, exi_frame_t *f, unsigned pi) {
    uint32_t next = s->prod_tgt[pi];
    if (s->prod_ev[pi] & EXI_PROD_COUNTED) {
        unsigned i;
        for (i = 0; i < s->n_counted; i++) {
            if (s->counted[3 * i] == pi) {
                f->count = next == f->state ? f->count + 1 : 1;
                if (f->count >= s->counted[3 * i + 1]) {
                    next = s->counted[3 * i + 2];
                }
                break;
            }
        }
    }
    return next;
}

/* an xsi:type value (a qname): "xsi:type" = "{uri}local" to the sink (not for xs:anyType
   when skip_any); *state: the type's start state */
COLD static int xsi_type_value(exi_ctx_t *c, const exi_sink_t *k, int skip_any, uint32_t *state) {
    unsigned u, l;
    int st, e;
    exi_value_t v;
    if ((e = rd_qname(c, &u, &l)) != 0) {
        return e;
    }
    st = type_state(c, u, l);
    if (st < 0) {
        FAIL(c, EXI_E_UNSUPPORTED, "xsi:type names a type the schema does not have");
    }
    *state = (uint32_t)st;
    if (skip_any && u == XSD_URI && local_is(c, u, l, "anyType")) {
        return 0;
    }
    vzero(&v);
    v.kind = EXI_DT_STRING;
    v.len = qkey(c, u, l);
    /* the value is in qbuf, the key is a literal */
    v.ptr = c->qbuf;
    if (sink_item(k, EXI_ITEM_ATTR, (const uint8_t *)"xsi:type", 8, &v)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    return 0;
}

/* second-level AT(xsi:type) (code 0) or AT(xsi:nil) (code 1) in a start state */
COLD static int dec_xsi(exi_ctx_t *c, exi_frame_t *f, uint32_t code, const exi_sink_t *k) {
    uint32_t b, st;
    exi_value_t v;
    int e;
    if (code == 0) {
        if ((e = xsi_type_value(c, k, 0, &st)) != 0) {
            return e;
        }
        f->state = f->start = (uint16_t)st;
        return 0;
    }
    if ((e = rd(c, 1, &b)) != 0) {
        return e;
    }
    vzero(&v);
    v.kind = EXI_DT_BOOL;
    v.mag = b;
    if (sink_item(k, EXI_ITEM_ATTR, (const uint8_t *)"xsi:nil", 7, &v)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    if (b) {
        f->state = f->start = (uint16_t)nil_state(&c->s, f->start);
    }
    return 0;
}

/* SE(*): the qname, then a declared global element with its grammar, or an undeclared one:
   the reference's V2G profile has no built-in element grammars, so it writes AT(xsi:type)
   through AT(*) of the built-in StartTagContent (2-bit second level; one first-level
   production, 1 bit, from the name's second occurrence on) and continues in that type */
COLD static int dec_wild_elem(exi_ctx_t *c, const exi_sink_t *k) {
    const exi_schema_t *s = &c->s;
    unsigned u, l, xu, xl;
    uint32_t code, st;
    exi_frame_t *f;
    int g, e, seen;
    size_t n;
    if (c->depth >= EXI_MAX_DEPTH) {
        FAIL(c, EXI_E_LIMIT, "nesting too deep");
    }
    if ((e = rd_qname(c, &u, &l)) != 0) {
        return e;
    }
    n = qkey(c, u, l);
    if (sink_item(k, EXI_ITEM_START, c->qbuf, n, 0)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    f = &c->frame[c->depth++];
    f->count = 0;
    g = global_elem(c, u, l);
    if (g >= 0) {
        f->elem = (uint16_t)g;
        f->state = f->start = s->elem_state[g];
        return 0;
    }
    f->elem = EXI_ELEM_NONE;
    seen = seen_before(c, u, l);
    if (seen < 0) {
        FAIL(c, EXI_E_LIMIT, "too many undeclared element names");
    }
    if (seen && ((e = rd(c, 1, &code)) != 0 || code != 1)) {
        FAIL(c, e ? e : EXI_E_UNSUPPORTED, "undeclared element: learned production");
    }
    if ((e = rd(c, 2, &code)) != 0) {
        return e;
    }
    if (code != 1) {
        FAIL(c, EXI_E_UNSUPPORTED, "undeclared element without xsi:type (built-in grammar)");
    }
    if ((e = rd_qname(c, &xu, &xl)) != 0) {
        return e;
    }
    if (xu != XSI_URI || !local_is(c, xu, xl, "type")) {
        FAIL(c, EXI_E_UNSUPPORTED, "undeclared element without xsi:type (built-in grammar)");
    }
    /* the type; reported as "xsi:type" unless it is xs:anyType (implied) */
    if ((e = xsi_type_value(c, k, 1, &st)) != 0) {
        return e;
    }
    f->state = f->start = (uint16_t)st;
    return 0;
}

/* text in mixed content (CH) or a wildcard attribute (ATW) */
COLD static int dec_misc(exi_ctx_t *c, exi_frame_t *f, unsigned ev, const exi_sink_t *k) {
    exi_value_t v;
    unsigned u = 0, l = 0;
    size_t n = 0;
    int e;
    if (ev == EXI_EV_ATW && (e = rd_qname(c, &u, &l)) != 0) {
        return e;
    }
    vzero(&v);
    if ((e = dec_string(c, ev == EXI_EV_ATW ? c->s.n_qnames : frame_qname(c, f), &v)) != 0) {
        return e;
    }
    v.kind = EXI_DT_STRING;
    if (ev == EXI_EV_ATW) {
        n = qkey(c, u, l);
    }
    if (sink_item(k, ev == EXI_EV_ATW ? EXI_ITEM_ATTR : EXI_ITEM_TEXT, c->qbuf, n, &v)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    return 0;
}

int exi_decode(exi_ctx_t *c, const char *schema, size_t schema_len,
               const uint8_t *data, size_t len, const exi_sink_t *k) {
    const exi_schema_t *s = &c->s;
    uint32_t code;
    unsigned elem;
    int e;
    if ((e = setup(c, schema, schema_len, (uint8_t *)data, len)) != 0) {
        return e;
    }
    if ((e = rd(c, 8, &code)) != 0) {
        return e;
    }
    if (code != 0x80) {
        c->pos = 0;
        FAIL(c, EXI_E_HEADER, "not an EXI 1.0 header without options (0x80)");
    }
    if ((e = rd(c, width(s->n_doc + 1u), &code)) != 0) {
        return e;
    }
    if (code >= s->n_doc) {
        FAIL(c, EXI_E_UNSUPPORTED, "SE(*) at document level");
    }
    elem = s->doc[code];
    if (k->start(k->ctx, s, elem, 0)) {
        FAIL(c, EXI_E_CALLBACK, "sink");
    }
    c->frame[0].state = c->frame[0].start = s->elem_state[elem];
    c->frame[0].count = 0;
    c->frame[0].elem = (uint16_t)elem;
    c->depth = 1;
    while (c->depth > 0) {
        exi_frame_t *f = &c->frame[c->depth - 1];
        unsigned p0 = s->state_prod[f->state];
        unsigned np = s->state_prod[f->state + 1] - p0;
        unsigned pi, ev, arg;
        if ((e = rd(c, s->state_l2[f->state] >> 4, &code)) != 0) {
            return e;
        }
        if (code >= np) {
            unsigned l2 = s->state_l2[f->state], j;
            if ((e = rd(c, l2 & 3, &code)) != 0) {
                return e;
            }
            if (code != 0 || !(l2 & EXI_L2_EE)) {
                /* xsi:type, xsi:nil: the first two second-level events of a start state */
                code -= (l2 & EXI_L2_EE) ? 1 : 0;
                if (f->state != f->start || code > 1) {
                    FAIL(c, EXI_E_UNSUPPORTED, "second-level event (schema deviation)");
                }
                if ((e = dec_xsi(c, f, code, k)) != 0) {
                    return e;
                }
                continue;
            }
            /* EE where content was expected: an empty value (EXIficient writes "" so) */
            for (j = 0; j < np; j++) {
                unsigned pev = s->prod_ev[p0 + j];
                if ((pev >> 12) == EXI_EV_CH && (pev & 0x7FF) != EXI_ARG_UNTYPED) {
                    unsigned kind = s->dt_kind[pev & 0x7FF];
                    exi_value_t v;
                    vzero(&v);
                    if (kind == EXI_DT_STRING || kind == EXI_DT_BINARY || kind == EXI_DT_LIST) {
                        v.kind = (uint8_t)kind;   /* "", b"", [] */
                        v.ptr = c->scratch;
                    }                             /* else kind 0: None */
                    if (k->value(k->ctx, s, &v)) {
                        FAIL(c, EXI_E_CALLBACK, "sink");
                    }
                }
            }
            if (k->end(k->ctx, s, f->elem)) {
                FAIL(c, EXI_E_CALLBACK, "sink");
            }
            c->depth--;
            continue;
        }
        pi = p0 + code;
        ev = s->prod_ev[pi] >> 12;
        arg = s->prod_ev[pi] & 0x7FF;
        switch (ev) {
            case EXI_EV_EE:
                if (k->end(k->ctx, s, f->elem)) {
                    FAIL(c, EXI_E_CALLBACK, "sink");
                }
                c->depth--;
                continue;
            case EXI_EV_AT:
                if ((e = dec_content(c, s->attr_dt[arg], s->attr_qname[arg], k, (int)arg)) != 0) {
                    return e;
                }
                break;
            case EXI_EV_CH:
                if (arg == EXI_ARG_UNTYPED) {   /* text in mixed content */
                    if ((e = dec_misc(c, f, EXI_EV_CH, k)) != 0) {
                        return e;
                    }
                    break;
                }
                if ((e = dec_content(c, arg, frame_qname(c, f), k, -1)) != 0) {
                    return e;
                }
                break;
            case EXI_EV_SE:
            case EXI_EV_SEL:
                f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
                if (c->depth >= EXI_MAX_DEPTH) {
                    FAIL(c, EXI_E_LIMIT, "nesting too deep");
                }
                if (k->start(k->ctx, s, arg, (s->state_l2[f->state] & EXI_L2_ORDERED) ? EXI_START_ITEM
                                                                                      : ev == EXI_EV_SEL)) {
                    FAIL(c, EXI_E_CALLBACK, "sink");
                }
                f = &c->frame[c->depth++];
                f->state = f->start = s->elem_state[arg];
                f->count = 0;
                f->elem = (uint16_t)arg;
                continue;
            case EXI_EV_SEW:
                f->state = s->prod_tgt[pi];
                if ((e = dec_wild_elem(c, k)) != 0) {
                    return e;
                }
                continue;
            case EXI_EV_ATW:
                if ((e = dec_misc(c, f, EXI_EV_ATW, k)) != 0) {
                    return e;
                }
                break;
            default:
                FAIL(c, EXI_E_UNSUPPORTED, "event");
        }
        f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
    }
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------- */

static int enc_value(exi_ctx_t *c, const exi_source_t *src, unsigned dt, unsigned qname, void *obj) {
    const exi_schema_t *s = &c->s;
    unsigned kind = s->dt_kind[dt];
    exi_value_t v;
    int e;
    v.count = 0;
    v.ptr = 0;
    v.len = 0;
    v.neg = 0;
    v.big = 0;
    v.mag = 0;
    if (src->leaf(src->ctx, obj, kind, &v)) {
        FAIL(c, EXI_E_CALLBACK, "value of the wrong type (None only where content may be absent)");
    }
    switch (kind) {
        case EXI_DT_NBIT:
        case EXI_DT_UINT:
        case EXI_DT_INT: {
            uint8_t fl = s->dt_flags[dt];
            if (v.neg && kind == EXI_DT_UINT) {
                FAIL(c, EXI_E_DOC, "negative value for an unsigned type");
            }
            if (v.big) {
                size_t i;
                while (v.len && !v.ptr[v.len - 1]) {
                    v.len--;
                }
                if (v.len <= 8) {   /* fits 64 bits after all (unsignedLong) */
                    for (i = v.len; i > 0; i--) {
                        v.mag = (v.mag << 8) | v.ptr[i - 1];
                    }
                    v.big = 0;
                }
            }
            if (v.big) {
                if (kind == EXI_DT_NBIT || !big_ok(s, dt) || v.len > EXI_BIG_MAX) {
                    FAIL(c, EXI_E_DOC, "integer out of range");
                }
                if (kind == EXI_DT_INT && (e = wr(c, 1, v.neg)) != 0) {
                    return e;
                }
                return wr_ubig(c, v.ptr, v.len, v.neg);
            }
            if (!big_ok(s, dt) &&
                (v.neg ? v.mag > 0x8000000000000000ULL : (kind != EXI_DT_UINT && v.mag > 0x7FFFFFFFFFFFFFFFULL))) {
                FAIL(c, EXI_E_DOC, "integer out of range");
            }
            if ((fl & 1) && (v.neg ? -(int64_t)(v.mag - 1) - 1 < s->dt_lo[dt]
                                   : (s->dt_lo[dt] > 0 && v.mag < (uint64_t)s->dt_lo[dt]))) {
                FAIL(c, EXI_E_DOC, "integer below the type's minimum");
            }
            if ((fl & 2) && (v.neg ? -(int64_t)(v.mag - 1) - 1 > s->dt_hi[dt]
                                   : (s->dt_hi[dt] < 0 || v.mag > (uint64_t)s->dt_hi[dt]))) {
                FAIL(c, EXI_E_DOC, "integer above the type's maximum");
            }
            if (kind == EXI_DT_NBIT) {
                int64_t x = v.neg ? -(int64_t)(v.mag - 1) - 1 : (int64_t)v.mag;
                return wr(c, s->dt_a[dt], (uint32_t)(x - s->dt_lo[dt]));
            }
            if (kind == EXI_DT_UINT) {
                return wr_uint(c, v.mag);
            }
            if ((e = wr(c, 1, v.neg)) != 0) {
                return e;
            }
            return wr_uint(c, v.neg ? v.mag - 1 : v.mag);
        }
        case EXI_DT_BOOL:
            return wr(c, 1, v.mag ? 1 : 0);
        case EXI_DT_BINARY: {
            size_t i;
            if ((e = wr_uint(c, v.len)) != 0) {
                return e;
            }
            for (i = 0; i < v.len; i++) {
                if ((e = wr(c, 8, v.ptr[i])) != 0) {
                    return e;
                }
            }
            return 0;
        }
        case EXI_DT_ENUM: {
            unsigned i, n = s->dt_a[dt];
            for (i = 0; i < n; i++) {
                if (streq(s->enums + s->enum_off[s->dt_b[dt] + i], v.ptr, v.len)) {
                    return wr(c, s->dt_flags[dt] >> 4, i);
                }
            }
            FAIL(c, EXI_E_DOC, "value not in the enumeration");
        }
        case EXI_DT_STRING:
            return enc_string(c, qname, v.ptr, v.len);
        case EXI_DT_LIST: {
            unsigned i, n = v.count;
            if ((e = wr_uint(c, n)) != 0) {
                return e;
            }
            for (i = 0; i < n; i++) {
                void *item = src->item(src->ctx, obj, (int)i);
                if (!item) {
                    FAIL(c, EXI_E_CALLBACK, "list item");
                }
                if ((e = enc_value(c, src, s->dt_a[dt], qname, item)) != 0) {
                    return e;
                }
            }
            return 0;
        }
        default:
            FAIL(c, EXI_E_UNSUPPORTED, "datatype not supported");
    }
}

static uint16_t *key_slot(exi_frame_t *f, unsigned name) {
    unsigned i;
    for (i = 0; i < f->nkeys; i++) {
        if (f->key[i] == name) {
            return &f->key_used[i];
        }
    }
    if (f->nkeys >= EXI_MAX_KEYS) {
        return 0;
    }
    f->key[f->nkeys] = (uint16_t)name;
    f->key_used[f->nkeys] = 0;
    return &f->key_used[f->nkeys++];
}

static int push_state(exi_ctx_t *c, const exi_source_t *src, unsigned elem, uint32_t state, void *node);

static int push(exi_ctx_t *c, const exi_source_t *src, unsigned elem, void *node) {
    return push_state(c, src, elem, c->s.elem_state[elem], node);
}

static int push_state(exi_ctx_t *c, const exi_source_t *src, unsigned elem, uint32_t state, void *node) {
    exi_frame_t *f;
    int n;
    if (c->depth >= EXI_MAX_DEPTH) {
        FAIL(c, EXI_E_LIMIT, "nesting too deep");
    }
    f = &c->frame[c->depth++];
    f->state = state;
    f->count = 0;
    f->elem = (uint16_t)elem;
    f->used = 0;
    f->nkeys = 0;
    f->simple_done = 0;
    f->node = node;
    f->npresent = 0xFF;
    /* ordered grammars and the slow key path look for xsi keys and "#" (enc_xsi) */
    f->mode = EXI_MODE_XSI;
    if (src->keys) {
        n = src->keys(src->ctx, node, c->keybuf, EXI_MAX_PRESENT);
        if (n < -1) {
            FAIL(c, EXI_E_CALLBACK, "dict keys");
        }
        f->bare = n < 0;
        f->nsize = (uint16_t)(n < 0 ? 0 : n);
        if (f->bare) {
            f->mode = 0;
        }
        if (n >= 0 && n <= EXI_MAX_PRESENT) {
            int i;
            unsigned special = EXI_NAME_CONTENT(&c->s);
            /* xsi keys and "#" need enc_xsi(); plain dicts of plain grammars skip it */
            f->mode = (c->s.state_l2[state] & EXI_L2_ORDERED) ? EXI_MODE_XSI : 0;
            for (i = 0; i < n; i++) {
                int id = c->keybuf[i].name ? exi_name_id(&c->s, c->keybuf[i].name, c->keybuf[i].len)
                                           : c->keybuf[i].id;
                if ((unsigned)id >= special) {    /* unknown (< 0) or reserved: rare */
                    if (id >= 0) {
                        f->mode = EXI_MODE_XSI;
                    } else if (c->s.state_l2[state] & EXI_L2_ORDERED) {
                        id = 0xFFFF;   /* a wildcard attribute */
                    } else {
                        FAIL(c, EXI_E_DOC, "unknown key (no such element or attribute in the schema)");
                    }
                }
                f->pkey[i] = (uint16_t)id;
                f->pval[i] = c->keybuf[i].value;
            }
            f->npresent = (uint8_t)n;
        }
        return 0;
    }
    n = src->size(src->ctx, node);
    f->bare = n < 0;
    f->nsize = (uint16_t)(n < 0 ? 0 : n);
    if (f->bare) {
        f->mode = 0;
    }
    return 0;
}

/* value of key `name` in the frame's dict (NULL: absent); lists: *cnt items */
static void *lookup(exi_ctx_t *c, const exi_source_t *src, exi_frame_t *f, unsigned name, int is_list, int *cnt) {
    if (f->npresent != 0xFF) {
        unsigned i;
        for (i = 0; i < f->npresent; i++) {
            if (f->pkey[i] == name) {
                break;
            }
        }
        if (i == f->npresent) {
            return 0;
        }
        if (!is_list) {
            *cnt = 1;
            return f->pval[i];
        }
    }
    return src->get(src->ctx, f->node, &c->s, name, is_list, cnt);
}

/* an escape to the second level of f's state, then code there */
static int wr_l2(exi_ctx_t *c, exi_frame_t *f, unsigned code) {
    const exi_schema_t *s = &c->s;
    unsigned np = s->state_prod[f->state + 1] - s->state_prod[f->state];
    int e = wr(c, s->state_l2[f->state] >> 4, np);
    return e ? e : wr(c, s->state_l2[f->state] & 3, code);
}

/* start state of the type named by a "{uri}local" string value; writes its qname */
static int wr_type(exi_ctx_t *c, const exi_source_t *src, void *obj, uint32_t *state) {
    exi_value_t v;
    const uint8_t *up, *lp;
    size_t ul, ll;
    unsigned u, l;
    int st, e;
    vzero(&v);
    if (src->leaf(src->ctx, obj, EXI_DT_STRING, &v)) {
        FAIL(c, EXI_E_CALLBACK, "xsi:type is a str \"{uri}local\"");
    }
    split_key(v.ptr, v.len, &up, &ul, &lp, &ll);
    if ((e = wr_qname(c, up, ul, lp, ll, &u, &l)) != 0) {
        return e;
    }
    st = type_state(c, u, l);
    if (st < 0) {
        FAIL(c, EXI_E_DOC, "xsi:type names a type the schema does not have");
    }
    *state = (uint32_t)st;
    return 0;
}

/* before the first event of an element: xsi:type / xsi:nil keys (second-level events of the
   start state), then the ordered content list of grammars that have one */
COLD static int enc_xsi(exi_ctx_t *c, const exi_source_t *src, exi_frame_t *f) {
    const exi_schema_t *s = &c->s;
    void *obj;
    int cnt, e;
    unsigned ee = (s->state_l2[f->state] & EXI_L2_EE) ? 1 : 0;
    f->mode = 0;
    f->start = (uint16_t)f->state;
    f->items = 0;
    f->item_i = f->nitems = 0;
    f->wused = 0;
    if (f->bare) {
        return 0;
    }
    if (f->elem != EXI_ELEM_NONE && (obj = lookup(c, src, f, EXI_NAME_XSI_TYPE(s), 0, &cnt)) != 0) {
        uint32_t st;
        if ((e = wr_l2(c, f, ee)) != 0 || (e = wr_type(c, src, obj, &st)) != 0) {
            return e;
        }
        f->state = f->start = (uint16_t)st;
        f->used++;
        ee = (s->state_l2[f->state] & EXI_L2_EE) ? 1 : 0;
    }
    if (c->error) {
        return c->error;
    }
    if ((obj = lookup(c, src, f, EXI_NAME_XSI_NIL(s), 0, &cnt)) != 0) {
        exi_value_t v;
        vzero(&v);
        if (src->leaf(src->ctx, obj, EXI_DT_BOOL, &v)) {
            FAIL(c, EXI_E_CALLBACK, "xsi:nil is a bool");
        }
        if ((e = wr_l2(c, f, ee + 1)) != 0 || (e = wr(c, 1, v.mag ? 1 : 0)) != 0) {
            return e;
        }
        if (v.mag) {
            f->state = f->start = (uint16_t)nil_state(s, f->start);
        }
        f->used++;
    }
    if (c->error) {
        return c->error;
    }
    if ((s->state_l2[f->state] & EXI_L2_ORDERED) && (obj = lookup(c, src, f, EXI_NAME_CONTENT(s), 1, &cnt)) != 0) {
        f->items = obj;
        f->nitems = (uint16_t)cnt;
        f->used++;
    }
    if ((s->state_l2[f->state] & EXI_L2_ORDERED) && (f->items || f->elem == EXI_ELEM_NONE)) {
        f->mode = EXI_MODE_SLOW;
    }
    return c->error;
}

/* index in c->keybuf of the next key of f's dict to write as a wildcard attribute, -1 if none */
COLD static int wild_attr(exi_ctx_t *c, const exi_source_t *src, exi_frame_t *f) {
    int n, i;
    if (f->npresent == 0xFF) {
        return -1;
    }
    n = src->keys(src->ctx, f->node, c->keybuf, EXI_MAX_PRESENT);
    for (i = 0; i < n && i < EXI_MAX_PRESENT; i++) {
        unsigned id = f->pkey[i];
        if (id != EXI_NAME_VALUE && (id == 0xFFFF || id < EXI_NAME_CONTENT(&c->s)) && !(f->wused & (1u << i))) {
            return i;
        }
    }
    return -1;
}

/* SE(*) for a content item {"{uri}local": value} (see dec_wild_elem) */
COLD static int enc_wild_elem(exi_ctx_t *c, const exi_source_t *src, const exi_key_t *it) {
    const uint8_t *up, *lp;
    size_t ul, ll;
    unsigned u, l, xu, xl;
    uint32_t st;
    void *t = 0;
    int g, e, seen, cnt;
    split_key((const uint8_t *)it->name, it->len, &up, &ul, &lp, &ll);
    if ((e = wr_qname(c, up, ul, lp, ll, &u, &l)) != 0) {
        return e;
    }
    g = global_elem(c, u, l);
    if (g >= 0) {
        return push(c, src, (unsigned)g, it->value);
    }
    seen = seen_before(c, u, l);
    if (seen < 0) {
        FAIL(c, EXI_E_LIMIT, "too many undeclared element names");
    }
    if ((seen && (e = wr(c, 1, 1)) != 0) || (e = wr(c, 2, 1)) != 0 ||
        (e = wr_qname(c, (const uint8_t *)"http://www.w3.org/2001/XMLSchema-instance", 41,
                      (const uint8_t *)"type", 4, &xu, &xl)) != 0) {
        return e;
    }
    if (src->size(src->ctx, it->value) >= 0) {
        t = src->get(src->ctx, it->value, &c->s, EXI_NAME_XSI_TYPE(&c->s), 0, &cnt);
    }
    if (c->error) {
        return c->error;
    }
    if (t) {
        if ((e = wr_type(c, src, t, &st)) != 0) {
            return e;
        }
    } else {
        int r;
        if ((e = wr_qname(c, (const uint8_t *)"http://www.w3.org/2001/XMLSchema", 32,
                          (const uint8_t *)"anyType", 7, &xu, &xl)) != 0) {
            return e;
        }
        r = type_state(c, xu, xl);
        if (r < 0) {
            FAIL(c, EXI_E_DOC, "no xs:anyType grammar");
        }
        st = (uint32_t)r;
    }
    if ((e = push_state(c, src, EXI_ELEM_NONE, st, it->value)) != 0) {
        return e;
    }
    if (t) {
        c->frame[c->depth - 1].used++;    /* its xsi:type is written */
    }
    return 0;
}

/* one event of an element with ordered content ("#": text, declared children and wildcard
   elements in document order) or of an undeclared element (xs:anyType: wildcard attributes) */
COLD static int enc_ordered(exi_ctx_t *c, const exi_source_t *src, exi_frame_t *f) {
    const exi_schema_t *s = &c->s;
    unsigned p0 = s->state_prod[f->state];
    unsigned np = s->state_prod[f->state + 1] - p0;
    unsigned k, ev = 0, arg = 0, pi = 0;
    int size = f->nsize, ikind = -1, wk = -1, cnt, e;
    void *obj = 0;
    exi_key_t it;
    it.name = 0;
    it.len = 0;
    it.value = 0;
    if (f->npresent == 0xFF) {
        FAIL(c, EXI_E_LIMIT, "too many keys in an element with ordered content");
    }
    if (f->items && f->item_i < f->nitems) {
        void *o = src->item(src->ctx, f->items, f->item_i);
        ikind = o && src->entry ? src->entry(src->ctx, o, &it) : -1;
        if (ikind < 0) {
            FAIL(c, EXI_E_CALLBACK, "content items are one-key dicts or str");
        }
    }
    for (k = 0; k < np; k++) {
        pi = p0 + k;
        ev = s->prod_ev[pi] >> 12;
        arg = s->prod_ev[pi] & 0x7FF;
        if (ev == EXI_EV_EE) {
            if (f->used == (unsigned)size && f->item_i == f->nitems) {
                break;
            }
        } else if (ev == EXI_EV_CH) {
            if (arg == EXI_ARG_UNTYPED && ikind == 0) {
                break;
            }
        } else if (ev == EXI_EV_AT) {
            if ((obj = lookup(c, src, f, s->attr_name[arg], 0, &cnt)) != 0) {
                break;
            }
        } else if (ev == EXI_EV_ATW) {
            if ((wk = wild_attr(c, src, f)) >= 0) {
                break;
            }
        } else if (ev == EXI_EV_SE || ev == EXI_EV_SEL) {
            if (ikind == 1 && streq(exi_name(s, s->elem_name[arg]), (const uint8_t *)it.name, it.len)) {
                break;
            }
        } else if (ev == EXI_EV_SEW) {
            if (ikind == 1) {
                break;
            }
        }
        if (c->error) {
            return c->error;
        }
    }
    if (c->error) {
        return c->error;
    }
    if (k == np) {
        if ((c->flags & EXI_ENC_LENIENT) && (s->state_l2[f->state] & EXI_L2_EE) &&
            f->used == (unsigned)size && f->item_i == f->nitems) {
            if ((e = wr_l2(c, f, 0)) != 0) {
                return e;
            }
            c->depth--;
            return 0;
        }
        FAIL(c, EXI_E_DOC, "element content does not fit the schema (missing, misplaced or unknown item)");
    }
    if ((e = wr(c, s->state_l2[f->state] >> 4, k)) != 0) {
        return e;
    }
    switch (ev) {
        case EXI_EV_EE:
            c->depth--;
            return 0;
        case EXI_EV_CH:
            if (!it.len) {
                FAIL(c, EXI_E_DOC, "empty text item");
            }
            if ((e = enc_string(c, frame_qname(c, f), (const uint8_t *)it.name, it.len)) != 0) {
                return e;
            }
            f->item_i++;
            break;
        case EXI_EV_AT:
            if ((e = enc_value(c, src, s->attr_dt[arg], s->attr_qname[arg], obj)) != 0) {
                return e;
            }
            f->used++;
            break;
        case EXI_EV_ATW: {
            const uint8_t *up, *lp;
            size_t ul, ll;
            unsigned u, l;
            exi_value_t v;
            split_key((const uint8_t *)c->keybuf[wk].name, c->keybuf[wk].len, &up, &ul, &lp, &ll);
            if ((e = wr_qname(c, up, ul, lp, ll, &u, &l)) != 0) {
                return e;
            }
            vzero(&v);
            if (src->leaf(src->ctx, c->keybuf[wk].value, EXI_DT_STRING, &v)) {
                FAIL(c, EXI_E_CALLBACK, "attribute values of undeclared elements are str");
            }
            if ((e = enc_string(c, s->n_qnames, v.ptr, v.len)) != 0) {
                return e;
            }
            f->wused |= (uint16_t)(1u << wk);
            f->used++;
            break;
        }
        case EXI_EV_SE:
        case EXI_EV_SEL:
            f->item_i++;
            f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
            return push(c, src, arg, it.value);
        default:   /* SEW */
            f->item_i++;
            f->state = s->prod_tgt[pi];
            return enc_wild_elem(c, src, &it);
    }
    f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
    return 0;
}

int exi_encode(exi_ctx_t *c, const char *schema, size_t schema_len, void *doc,
               const exi_source_t *src, uint8_t *out, size_t cap, size_t *out_len, int flags) {
    const exi_schema_t *s = &c->s;
    unsigned i, elem = 0;
    void *root = 0;
    int e, cnt;
    *out_len = 0;
    if ((e = setup(c, schema, schema_len, out, cap)) != 0) {
        return e;
    }
    c->flags = flags;
    if (src->size(src->ctx, doc) != 1) {
        FAIL(c, EXI_E_DOC, "document must be a dict with one root element");
    }
    if (src->keys && src->keys(src->ctx, doc, c->keybuf, 1) == 1) {
        int id = c->keybuf[0].name ? exi_name_id(s, c->keybuf[0].name, c->keybuf[0].len) : c->keybuf[0].id;
        for (i = 0; i < s->n_doc && id >= 0; i++) {
            if (s->elem_name[s->doc[i]] == id) {
                root = c->keybuf[0].value;
                elem = s->doc[i++];
                break;
            }
        }
    }
    for (i = root ? i : 0; i < s->n_doc && !root; i++) {
        root = src->get(src->ctx, doc, s, s->elem_name[s->doc[i]], 0, &cnt);
        elem = s->doc[i];
    }
    if (!root) {
        FAIL(c, EXI_E_DOC, "unknown root element");
    }
    if ((e = wr(c, 8, 0x80)) != 0 || (e = wr(c, width(s->n_doc + 1u), i - 1)) != 0) {
        return e;
    }
    if ((e = push(c, src, elem, root)) != 0) {
        return e;
    }
    while (c->depth > 0) {
        exi_frame_t *f = &c->frame[c->depth - 1];
        unsigned p0, np;
        unsigned k, ev = 0, arg = 0, pi = 0;
        void *obj = 0;
        uint16_t *slot = 0;
        int size;
        if (f->mode) {
            if ((f->mode & EXI_MODE_XSI) && (e = enc_xsi(c, src, f)) != 0) {
                return e;
            }
            if (f->mode & EXI_MODE_SLOW) {
                /* ordered content, undeclared elements: one event by the slower path */
                if ((e = enc_ordered(c, src, f)) != 0) {
                    return e;
                }
                continue;
            }
        }
        p0 = s->state_prod[f->state];
        np = s->state_prod[f->state + 1] - p0;
        size = f->nsize;
        if (f->bare) {     /* a simple value: its CH, then EE */
            for (k = 0; k < np; k++) {
                pi = p0 + k;
                ev = s->prod_ev[pi] >> 12;
                arg = s->prod_ev[pi] & 0x7FF;
                if (ev == EXI_EV_EE ? f->simple_done
                                    : (ev == EXI_EV_CH && !f->simple_done && arg != EXI_ARG_UNTYPED)) {
                    obj = f->node;
                    break;
                }
            }
        } else for (k = 0; k < np; k++) {
            pi = p0 + k;
            ev = s->prod_ev[pi] >> 12;
            arg = s->prod_ev[pi] & 0x7FF;
            if (ev == EXI_EV_EE) {
                if (f->used == (unsigned)size) {
                    break;
                }
            } else if (ev == EXI_EV_CH) {
                if (f->simple_done || arg == EXI_ARG_UNTYPED) {
                    continue;
                }
                obj = lookup(c, src, f, 0, 0, &cnt);
                if (obj) {
                    break;
                }
            } else if (ev == EXI_EV_AT) {
                obj = lookup(c, src, f, s->attr_name[arg], 0, &cnt);
                if (obj) {
                    break;
                }
            } else if (ev == EXI_EV_SE) {
                obj = lookup(c, src, f, s->elem_name[arg], 0, &cnt);
                if (obj) {
                    break;
                }
            } else if (ev == EXI_EV_SEL) {
                obj = lookup(c, src, f, s->elem_name[arg], 1, &cnt);
                if (obj) {
                    slot = key_slot(f, s->elem_name[arg]);
                    if (!slot) {
                        FAIL(c, EXI_E_LIMIT, "too many list-valued keys in one element");
                    }
                    if (*slot < cnt) {
                        break;
                    }
                }
            }
            if (c->error) {
                return c->error;
            }
        }
        if (c->error) {
            return c->error;
        }
        if (k == np) {
            /* LENIENT: everything written but the schema wants more: end the element with the
               second-level EE (so what decode() returned for such a stream re-encodes) */
            if ((c->flags & EXI_ENC_LENIENT) && (s->state_l2[f->state] & EXI_L2_EE) &&
                (f->bare ? f->simple_done : f->used == (unsigned)size)) {
                if ((e = wr(c, s->state_l2[f->state] >> 4, np)) != 0 || (e = wr(c, s->state_l2[f->state] & 3, 0)) != 0) {
                    return e;
                }
                c->depth--;
                continue;
            }
            FAIL(c, EXI_E_DOC, "element content does not fit the schema (missing, misplaced or unknown key)");
        }
        if (ev == EXI_EV_CH && (s->state_l2[f->state] & EXI_L2_EE)) {
            unsigned kind = s->dt_kind[arg];
            exi_value_t v;
            int r;
            vzero(&v);
            r = src->leaf(src->ctx, obj, kind, &v);
            if (r == 1 || (r == 0 && !(c->flags & EXI_ENC_EMPTY_AS_CH) && v.len == 0 && v.count == 0 &&
                           (kind == EXI_DT_STRING || kind == EXI_DT_BINARY || kind == EXI_DT_LIST))) {
                /* empty content: EE at the second level, as EXIficient writes it */
                if (!f->bare && f->used + 1 != (int)size) {
                    FAIL(c, EXI_E_DOC, "element content does not fit the schema (keys after an empty value)");
                }
                if ((e = wr(c, s->state_l2[f->state] >> 4, np)) != 0 || (e = wr(c, s->state_l2[f->state] & 3, 0)) != 0) {
                    return e;
                }
                c->depth--;
                continue;
            }
            if (c->error) {
                return c->error;
            }
        }
        if ((e = wr(c, s->state_l2[f->state] >> 4, k)) != 0) {
            return e;
        }
        switch (ev) {
            case EXI_EV_EE:
                c->depth--;
                continue;
            case EXI_EV_AT:
                if ((e = enc_value(c, src, s->attr_dt[arg], s->attr_qname[arg], obj)) != 0) {
                    return e;
                }
                f->used++;
                break;
            case EXI_EV_CH:
                if ((e = enc_value(c, src, arg, frame_qname(c, f), obj)) != 0) {
                    return e;
                }
                f->simple_done = 1;
                if (!f->bare) {
                    f->used++;
                }
                break;
            case EXI_EV_SE:
                f->used++;
                f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
                if ((e = push(c, src, arg, obj)) != 0) {
                    return e;
                }
                continue;
            case EXI_EV_SEL: {
                void *item = src->item(src->ctx, obj, *slot);
                if (!item) {
                    FAIL(c, EXI_E_CALLBACK, "list item");
                }
                if (++*slot == cnt) {
                    f->used++;
                }
                f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
                if ((e = push(c, src, arg, item)) != 0) {
                    return e;
                }
                continue;
            }
            default:
                FAIL(c, EXI_E_UNSUPPORTED, "wildcard content");
        }
        f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
    }
    if ((e = wr_flush(c)) != 0) {
        return e;
    }
    *out_len = c->outn;
    return 0;
}
