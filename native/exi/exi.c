/* EXI core: bit stream, EXI primitives, grammar interpreter. See exi.h. */
#include "exi.h"

#define FAIL(c, code, msg) return fail((c), (code), (msg))

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
    if (c->s.n_qnames > EXI_MAX_QNAMES) {
        FAIL(c, EXI_E_LIMIT, "schema has too many qnames");
    }
    for (i = 0; i < c->s.n_qnames; i++) {
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
    c->frame[0].state = s->elem_state[elem];
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
                FAIL(c, EXI_E_UNSUPPORTED, "second-level event (schema deviation)");
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
                if (arg == EXI_ARG_UNTYPED) {
                    FAIL(c, EXI_E_UNSUPPORTED, "mixed content");
                }
                if ((e = dec_content(c, arg, s->elem_qname[f->elem], k, -1)) != 0) {
                    return e;
                }
                break;
            case EXI_EV_SE:
            case EXI_EV_SEL:
                f->state = (s->prod_ev[pi] & EXI_PROD_COUNTED) ? advance(s, f, pi) : s->prod_tgt[pi];
                if (c->depth >= EXI_MAX_DEPTH) {
                    FAIL(c, EXI_E_LIMIT, "nesting too deep");
                }
                if (k->start(k->ctx, s, arg, ev == EXI_EV_SEL)) {
                    FAIL(c, EXI_E_CALLBACK, "sink");
                }
                f = &c->frame[c->depth++];
                f->state = s->elem_state[arg];
                f->count = 0;
                f->elem = (uint16_t)arg;
                continue;
            default:
                FAIL(c, EXI_E_UNSUPPORTED, "wildcard content");
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

static int push(exi_ctx_t *c, const exi_source_t *src, unsigned elem, void *node) {
    exi_frame_t *f;
    int n;
    if (c->depth >= EXI_MAX_DEPTH) {
        FAIL(c, EXI_E_LIMIT, "nesting too deep");
    }
    f = &c->frame[c->depth++];
    f->state = c->s.elem_state[elem];
    f->count = 0;
    f->elem = (uint16_t)elem;
    f->used = 0;
    f->nkeys = 0;
    f->simple_done = 0;
    f->node = node;
    f->npresent = 0xFF;
    if (src->keys) {
        n = src->keys(src->ctx, node, c->keybuf, EXI_MAX_PRESENT);
        if (n < -1) {
            FAIL(c, EXI_E_CALLBACK, "dict keys");
        }
        f->bare = n < 0;
        if (n >= 0 && n <= EXI_MAX_PRESENT) {
            int i;
            for (i = 0; i < n; i++) {
                int id = c->keybuf[i].name ? exi_name_id(&c->s, c->keybuf[i].name, c->keybuf[i].len)
                                           : c->keybuf[i].id;
                if (id < 0) {
                    FAIL(c, EXI_E_DOC, "unknown key (no such element or attribute in the schema)");
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
        unsigned p0 = s->state_prod[f->state];
        unsigned np = s->state_prod[f->state + 1] - p0;
        unsigned k, ev = 0, arg = 0, pi = 0;
        void *obj = 0;
        uint16_t *slot = 0;
        int size = f->bare ? 0 : f->npresent != 0xFF ? f->npresent : src->size(src->ctx, f->node);
        for (k = 0; k < np; k++) {
            pi = p0 + k;
            ev = s->prod_ev[pi] >> 12;
            arg = s->prod_ev[pi] & 0x7FF;
            if (ev == EXI_EV_EE) {
                if (f->bare ? f->simple_done : f->used == (unsigned)size) {
                    break;
                }
            } else if (ev == EXI_EV_CH) {
                if (f->simple_done || arg == EXI_ARG_UNTYPED) {
                    continue;
                }
                obj = f->bare ? f->node : lookup(c, src, f, 0, 0, &cnt);
                if (obj) {
                    break;
                }
            } else if (f->bare) {
                continue;
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
                if ((e = enc_value(c, src, arg, s->elem_qname[f->elem], obj)) != 0) {
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
