/* MicroPython native module binding of the EXI core: module `exi` with
 * decode(schema, data), encode(schema, doc[, flags]) and
 * encode_into(schema, doc, buf[, flags]); flags: STRING_TABLE | EMPTY_AS_CH (COMPAT) | LENIENT.
 *
 * Natmod rules: no initialised data and no *static* BSS: the codec context, the output
 * buffer and the key strings are extern (GOT-addressed) BSS, allocated when the module
 * loads; the per-call binding state lives on the C stack (scanned by the GC). Errors raise ValueError(msg, bitpos);
 * type errors in a document raise TypeError from inside the callbacks (the core holds
 * no resources, so unwinding through it is safe).
 */
#include "py/dynruntime.h"
#include "../exi.h"

typedef struct {
    mp_obj_t dict, value;
    mp_obj_t key;        /* element matched by a wildcard: its "{uri}local" key */
    mp_obj_t items;      /* the "#" list in dict (ordered content) */
    mp_int_t list_left;
    uint16_t elem;
    uint8_t is_list;
} frame_t;

typedef struct {
    const mp_obj_type_t *t_dict, *t_list, *t_tuple, *t_bytes, *t_bytearray, *t_str, *t_int, *t_bool;
    frame_t f[EXI_MAX_DEPTH + 1];
    int depth;
    mp_obj_t root;
    mp_obj_t names;     /* list of key strings for this schema */
    uint8_t bigbuf[EXI_BIG_MAX];
    exi_schema_t *schema;
} bind_t;

#define EXI_NATMOD_OUT 8192
#define EXI_NATMOD_SMALL 512

/* extern on purpose: mpy_ld cannot relocate static BSS */
exi_ctx_t exi_natmod_ctx;
mp_obj_t exi_natmod_names[EXI_N_SCHEMAS];

static exi_ctx_t *get_ctx(void) {
    return &exi_natmod_ctx;
}

/* per schema a list of key strings, each made when first used (a name already interned
   by the application costs nothing more) */
static mp_obj_t names_of(int i, const char *schema, size_t len) {
    if (i < 0) {
        return mp_const_none;   /* unknown schema: exi_decode/exi_encode report it */
    }
    if (exi_natmod_names[i] == MP_OBJ_NULL) {
        exi_schema_t s;
        mp_obj_t lst;
        size_t k;
        exi_schema_by_name(&s, schema, len);
        lst = mp_obj_new_list(0, NULL);
        for (k = 0; k < s.n_name_off; k++) {
            mp_obj_list_append(lst, mp_const_none);
        }
        exi_natmod_names[i] = lst;
        /* also reachable from the module dict, so the GC keeps it */
        mp_store_global(MP_QSTR__names, mp_obj_new_tuple(EXI_N_SCHEMAS, exi_natmod_names));
    }
    return exi_natmod_names[i];
}

static void bind_init(bind_t *b, const char *schema, size_t len) {
    b->t_dict = (const mp_obj_type_t *)mp_load_global(MP_QSTR_dict);
    b->t_list = &mp_type_list;
    b->t_tuple = &mp_type_tuple;
    b->t_bytes = &mp_type_bytes;
    b->t_bytearray = &mp_type_bytearray;
    b->t_str = &mp_type_str;
    b->t_int = &mp_type_int;
    b->t_bool = &mp_type_bool;
    b->depth = 0;
    b->root = MP_OBJ_NULL;
    b->schema = &exi_natmod_ctx.s;
    b->names = names_of(exi_schema_index(schema, len), schema, len);
}

static mp_obj_t key(bind_t *b, unsigned id) {
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(b->names, &n, &items);
    if (items[id] == mp_const_none) {
        const char *p = exi_name(b->schema, id);
        size_t len = 0;
        while (p[len]) {
            len++;
        }
        items[id] = mp_obj_new_str(p, len);
    }
    return items[id];
}

static mp_obj_t big(uint64_t mag, int neg) {
    mp_obj_t hi = mp_obj_new_int_from_uint((mp_uint_t)(mag >> 32));
    mp_obj_t lo = mp_obj_new_int_from_uint((mp_uint_t)(mag & 0xFFFFFFFFu));
    mp_obj_t v = mp_binary_op(MP_BINARY_OP_OR, mp_binary_op(MP_BINARY_OP_LSHIFT, hi, mp_obj_new_int(32)), lo);
    if (neg) {
        v = mp_binary_op(MP_BINARY_OP_SUBTRACT, mp_obj_new_int(0), v);
    }
    return v;
}

static mp_obj_t to_obj(const exi_value_t *v) {
    switch (v->kind) {
        case EXI_DT_NBIT:
        case EXI_DT_UINT:
        case EXI_DT_INT:
            if (v->big) {   /* int.from_bytes(magnitude, "little") */
                mp_obj_t args[2], r;
                args[0] = mp_obj_new_bytes(v->ptr, v->len);
                args[1] = MP_OBJ_NEW_QSTR(MP_QSTR_little);
                r = mp_call_function_n_kw(mp_load_attr(MP_OBJ_FROM_PTR(&mp_type_int), MP_QSTR_from_bytes), 2, 0, args);
                return v->neg ? mp_binary_op(MP_BINARY_OP_SUBTRACT, mp_obj_new_int(0), r) : r;
            }
            if (v->mag < 0x40000000u) {
                return mp_obj_new_int(v->neg ? -(mp_int_t)v->mag : (mp_int_t)v->mag);
            }
            return big(v->mag, v->neg);
        case EXI_DT_BOOL:
            return mp_obj_new_bool(v->mag);
        case EXI_DT_BINARY:
            return mp_obj_new_bytes(v->ptr, v->len);
        case 0:
            return mp_const_none;
        default:
            return mp_obj_new_str((const char *)v->ptr, v->len);
    }
}

/* ---- decode sink ----------------------------------------------------------------- */

static int s_start(void *ctx, const exi_schema_t *s, unsigned elem, int is_list) {
    bind_t *b = ctx;
    frame_t *f = &b->f[b->depth++];
    (void)s;
    f->dict = MP_OBJ_NULL;
    f->value = MP_OBJ_NULL;
    f->key = MP_OBJ_NULL;
    f->items = MP_OBJ_NULL;
    f->elem = (uint16_t)elem;
    f->is_list = (uint8_t)is_list;
    f->list_left = 0;
    return 0;
}

static int s_attr(void *ctx, const exi_schema_t *s, unsigned attr, const exi_value_t *v) {
    bind_t *b = ctx;
    frame_t *f = &b->f[b->depth - 1];
    if (f->dict == MP_OBJ_NULL) {
        f->dict = mp_obj_new_dict(0);
    }
    mp_obj_dict_store(f->dict, key(b, s->attr_name[attr]), to_obj(v));
    return 0;
}

static int s_value(void *ctx, const exi_schema_t *s, const exi_value_t *v) {
    bind_t *b = ctx;
    frame_t *f = &b->f[b->depth - 1];
    (void)s;
    if (v->kind == EXI_DT_LIST) {
        f->value = mp_obj_new_list(0, NULL);
        f->list_left = v->count;
    } else if (f->list_left > 0) {
        mp_obj_list_append(f->value, to_obj(v));
        f->list_left--;
    } else {
        f->value = to_obj(v);
    }
    return 0;
}

static mp_obj_t items_of(bind_t *b, frame_t *f) {
    if (f->items == MP_OBJ_NULL) {
        if (f->dict == MP_OBJ_NULL) {
            f->dict = mp_obj_new_dict(0);
        }
        f->items = mp_obj_new_list(0, NULL);
        mp_obj_dict_store(f->dict, key(b, EXI_NAME_CONTENT(b->schema)), f->items);
    }
    return f->items;
}

static int s_item(void *ctx, int what, const uint8_t *k, size_t klen, const exi_value_t *v) {
    bind_t *b = ctx;
    frame_t *f = &b->f[b->depth - 1];
    if (what == EXI_ITEM_START) {
        s_start(ctx, b->schema, EXI_ELEM_NONE, 0);
        b->f[b->depth - 1].key = mp_obj_new_str((const char *)k, klen);
        return 0;
    }
    if (what == EXI_ITEM_TEXT) {
        mp_obj_list_append(items_of(b, f), to_obj(v));
        return 0;
    }
    if (f->dict == MP_OBJ_NULL) {
        f->dict = mp_obj_new_dict(0);
    }
    mp_obj_dict_store(f->dict, mp_obj_new_str((const char *)k, klen), to_obj(v));
    return 0;
}

static int s_end(void *ctx, const exi_schema_t *s, unsigned elem) {
    bind_t *b = ctx;
    frame_t *f = &b->f[--b->depth];
    mp_obj_t obj, k = f->key != MP_OBJ_NULL ? f->key : key(b, s->elem_name[elem]);
    if (f->dict == MP_OBJ_NULL && f->value != MP_OBJ_NULL && elem != EXI_ELEM_NONE &&
        (s->elem_flags[elem] & EXI_ELEM_WRAP)) {
        f->dict = mp_obj_new_dict(1);
    }
    if (f->dict != MP_OBJ_NULL) {
        if (f->value != MP_OBJ_NULL) {
            mp_obj_dict_store(f->dict, key(b, 0), f->value);
        }
        obj = f->dict;
    } else if (f->value != MP_OBJ_NULL) {
        obj = f->value;
    } else {
        obj = mp_obj_new_dict(0);
    }
    if (b->depth == 0) {
        b->root = mp_obj_new_dict(1);
        mp_obj_dict_store(b->root, k, obj);
        return 0;
    }
    if (f->key != MP_OBJ_NULL || f->is_list == EXI_START_ITEM) {   /* ordered: {key: obj} */
        mp_obj_t one = mp_obj_new_dict(1);
        mp_obj_dict_store(one, k, obj);
        mp_obj_list_append(items_of(b, &b->f[b->depth - 1]), one);
        return 0;
    }
    {
        frame_t *p = &b->f[b->depth - 1];
        if (p->dict == MP_OBJ_NULL) {
            p->dict = mp_obj_new_dict(0);
        }
        if (f->is_list) {
            mp_obj_t lst;
            if (mp_obj_is_true(mp_binary_op(MP_BINARY_OP_IN, k, p->dict))) {
                lst = mp_obj_subscr(p->dict, k, MP_OBJ_SENTINEL);
            } else {
                lst = mp_obj_new_list(0, NULL);
                mp_obj_dict_store(p->dict, k, lst);
            }
            mp_obj_list_append(lst, obj);
        } else {
            mp_obj_dict_store(p->dict, k, obj);
        }
    }
    return 0;
}

static void raise_exi(exi_ctx_t *c) {
    mp_obj_t args[2];
    const char *m = c->error_msg ? c->error_msg : exi_errstr(c->error);
    size_t n = 0;
    while (m[n]) {
        n++;
    }
    args[0] = mp_obj_new_str(m, n);
    args[1] = mp_obj_new_int((mp_int_t)c->error_pos);
    nlr_raise(mp_call_function_n_kw(MP_OBJ_FROM_PTR(&mp_type_ValueError), 2, 0, args));
}

static mp_obj_t exi_decode_fn(mp_obj_t schema_in, mp_obj_t data_in) {
    size_t slen;
    const char *schema = mp_obj_str_get_data(schema_in, &slen);
    mp_buffer_info_t bi;
    bind_t b;
    exi_sink_t sink;
    exi_ctx_t *c = get_ctx();
    mp_get_buffer_raise(data_in, &bi, MP_BUFFER_READ);
    bind_init(&b, schema, slen);
    sink.ctx = &b;
    sink.start = s_start;
    sink.end = s_end;
    sink.attr = s_attr;
    sink.value = s_value;
    sink.item = s_item;
    if (exi_decode(c, schema, slen, bi.buf, bi.len, &sink)) {
        raise_exi(c);
    }
    return b.root;
}
static MP_DEFINE_CONST_FUN_OBJ_2(exi_decode_obj, exi_decode_fn);

/* ---- encode source --------------------------------------------------------------- */

static int src_size(void *ctx, void *node) {
    bind_t *b = ctx;
    mp_obj_t o = node;
    if (mp_obj_get_type(o) != b->t_dict) {
        return -1;
    }
    return (int)mp_obj_get_int(mp_obj_len(o));
}

static void *src_get(void *ctx, void *node, const exi_schema_t *s, unsigned name, int is_list, int *count) {
    bind_t *b = ctx;
    mp_obj_t d = node, k = key(b, name), v;
    (void)s;
    if (mp_obj_get_type(d) != b->t_dict) {
        return NULL;
    }
    if (!mp_obj_is_true(mp_binary_op(MP_BINARY_OP_IN, k, d))) {
        return NULL;
    }
    v = mp_obj_subscr(d, k, MP_OBJ_SENTINEL);
    if (is_list) {
        const mp_obj_type_t *t = mp_obj_get_type(v);
        size_t n;
        mp_obj_t *items;
        if (t != b->t_list && t != b->t_tuple) {
            mp_raise_TypeError("list expected");
        }
        mp_obj_get_array(v, &n, &items);
        *count = (int)n;
    } else {
        *count = 1;
    }
    return v;
}

static int src_keys(void *ctx, void *node, exi_key_t *out, int max) {
    bind_t *b = ctx;
    mp_obj_t o = node;
    mp_obj_dict_t *d;
    size_t i;
    int n = 0;
    if (mp_obj_get_type(o) != b->t_dict) {
        return -1;
    }
    d = MP_OBJ_TO_PTR(o);
    if (d->map.used > (size_t)max) {
        return (int)d->map.used;
    }
    for (i = 0; i < d->map.alloc; i++) {
        if (mp_map_slot_is_filled(&d->map, i)) {
            size_t len;
            out[n].name = mp_obj_str_get_data(d->map.table[i].key, &len);
            out[n].len = len;
            out[n].value = d->map.table[i].value;
            n++;
        }
    }
    return n;
}

static void *src_item(void *ctx, void *list, int i) {
    size_t n;
    mp_obj_t *items;
    (void)ctx;
    mp_obj_get_array(list, &n, &items);
    if ((size_t)i >= n) {
        return NULL;
    }
    return items[i];
}

static void get_int(bind_t *b, mp_obj_t o, exi_value_t *v) {
    mp_obj_t zero = mp_obj_new_int(0), hi, lo;
    uint64_t h;
    if (mp_obj_is_small_int(o)) {
        mp_int_t x = MP_OBJ_SMALL_INT_VALUE(o);
        v->neg = x < 0;
        v->mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
        return;
    }
    if (mp_obj_get_type(o) != b->t_int) {
        mp_raise_TypeError("int expected");
    }
    v->neg = mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS, o, zero));
    if (v->neg) {
        o = mp_binary_op(MP_BINARY_OP_SUBTRACT, zero, o);
    }
    hi = mp_binary_op(MP_BINARY_OP_RSHIFT, o, mp_obj_new_int(32));
    lo = mp_binary_op(MP_BINARY_OP_AND, o, mp_obj_new_int_from_uint(0xFFFFFFFFu));
    if (mp_obj_is_true(mp_binary_op(MP_BINARY_OP_MORE, hi, mp_obj_new_int_from_uint(0xFFFFFFFFu)))) {
        /* beyond 64 bits (xs:integer): magnitude.to_bytes(EXI_BIG_MAX, "little") */
        mp_obj_t args[2], by;
        mp_buffer_info_t bi;
        size_t i;
        args[0] = mp_obj_new_int(EXI_BIG_MAX);
        args[1] = MP_OBJ_NEW_QSTR(MP_QSTR_little);
        by = mp_call_function_n_kw(mp_load_attr(o, MP_QSTR_to_bytes), 2, 0, args);
        mp_get_buffer_raise(by, &bi, MP_BUFFER_READ);
        for (i = 0; i < bi.len && i < EXI_BIG_MAX; i++) {
            b->bigbuf[i] = ((const uint8_t *)bi.buf)[i];
        }
        v->big = 1;
        v->ptr = b->bigbuf;
        v->len = i;
        return;
    }
    h = (uint64_t)mp_obj_get_int_truncated(hi);
    v->mag = (h << 32) | (uint64_t)(uint32_t)mp_obj_get_int_truncated(lo);
}

static int src_entry(void *ctx, void *obj, exi_key_t *out) {
    bind_t *b = ctx;
    mp_obj_t o = obj;
    const mp_obj_type_t *t = mp_obj_get_type(o);
    size_t len, i;
    if (t == b->t_str) {
        out->name = mp_obj_str_get_data(o, &len);
        out->len = len;
        return 0;
    }
    if (t == b->t_dict) {
        mp_obj_dict_t *d = MP_OBJ_TO_PTR(o);
        if (d->map.used == 1) {
            for (i = 0; i < d->map.alloc; i++) {
                if (mp_map_slot_is_filled(&d->map, i) && mp_obj_get_type(d->map.table[i].key) == b->t_str) {
                    out->name = mp_obj_str_get_data(d->map.table[i].key, &len);
                    out->len = len;
                    out->value = d->map.table[i].value;
                    return 1;
                }
            }
        }
    }
    mp_raise_TypeError("content items (\"#\") are str or one-key dicts");
}

static int src_leaf(void *ctx, void *obj, unsigned kind, exi_value_t *v) {
    bind_t *b = ctx;
    mp_obj_t o = obj;
    const mp_obj_type_t *t = mp_obj_get_type(o);
    if (o == mp_const_none) {
        return 1;
    }
    switch (kind) {
        case EXI_DT_NBIT:
        case EXI_DT_UINT:
        case EXI_DT_INT:
            if (t == b->t_bool) {
                mp_raise_TypeError("int expected");
            }
            get_int(b, o, v);
            return 0;
        case EXI_DT_BOOL:
            if (t != b->t_bool) {
                mp_raise_TypeError("bool expected");
            }
            v->mag = mp_obj_is_true(o);
            return 0;
        case EXI_DT_BINARY: {
            mp_buffer_info_t bi;
            if (t != b->t_bytes && t != b->t_bytearray) {
                mp_raise_TypeError("bytes expected");
            }
            mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
            v->ptr = bi.buf;
            v->len = bi.len;
            return 0;
        }
        case EXI_DT_STRING:
        case EXI_DT_ENUM: {
            size_t n;
            if (t != b->t_str) {
                mp_raise_TypeError("str expected");
            }
            v->ptr = (const uint8_t *)mp_obj_str_get_data(o, &n);
            v->len = n;
            return 0;
        }
        case EXI_DT_LIST: {
            size_t n;
            mp_obj_t *items;
            if (t != b->t_list && t != b->t_tuple) {
                mp_raise_TypeError("list expected");
            }
            mp_obj_get_array(o, &n, &items);
            v->count = (uint16_t)n;
            return 0;
        }
        default:
            mp_raise_TypeError("unsupported datatype");
    }
}

static int do_encode(mp_obj_t schema_in, mp_obj_t doc, uint8_t *out, size_t cap, int flags, size_t *n) {
    size_t slen;
    const char *schema = mp_obj_str_get_data(schema_in, &slen);
    bind_t b;
    exi_source_t src;
    exi_ctx_t *c = get_ctx();
    bind_init(&b, schema, slen);
    src.ctx = &b;
    src.size = src_size;
    src.get = src_get;
    src.item = src_item;
    src.keys = src_keys;
    src.leaf = src_leaf;
    src.entry = src_entry;
    return exi_encode(c, schema, slen, doc, &src, out, cap, n, flags);
}

static mp_obj_t exi_encode_into_fn(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t bi;
    size_t n;
    mp_get_buffer_raise(args[2], &bi, MP_BUFFER_WRITE);
    if (do_encode(args[0], args[1], bi.buf, bi.len, n_args > 3 ? (int)mp_obj_get_int(args[3]) : 0, &n)) {
        raise_exi(&exi_natmod_ctx);
    }
    return mp_obj_new_int((mp_int_t)n);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(exi_encode_into_obj, 3, 4, exi_encode_into_fn);

static mp_obj_t exi_encode_fn(size_t n_args, const mp_obj_t *args) {
    /* transient: long-lived callers use encode_into with their own buffer */
    /* most messages fit the stack buffer; bigger ones get a transient heap buffer */
    uint8_t small[EXI_NATMOD_SMALL];
    int flags = n_args > 2 ? (int)mp_obj_get_int(args[2]) : 0;
    size_t n;
    int e = do_encode(args[0], args[1], small, sizeof(small), flags, &n);
    if (e == EXI_E_OUTPUT) {
        mp_obj_t size = mp_obj_new_int(EXI_NATMOD_OUT);
        mp_obj_t tmp = mp_call_function_n_kw(MP_OBJ_FROM_PTR(&mp_type_bytearray), 1, 0, &size);
        mp_buffer_info_t bi;
        mp_get_buffer_raise(tmp, &bi, MP_BUFFER_RW);
        if (do_encode(args[0], args[1], bi.buf, bi.len, flags, &n)) {
            raise_exi(&exi_natmod_ctx);
        }
        return mp_obj_new_bytes(bi.buf, n);
    }
    if (e) {
        raise_exi(&exi_natmod_ctx);
    }
    return mp_obj_new_bytes(small, n);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(exi_encode_obj, 2, 3, exi_encode_fn);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    {
        int i;
        for (i = 0; i < EXI_N_SCHEMAS; i++) {
            exi_natmod_names[i] = MP_OBJ_NULL;
        }
    }
    mp_store_global(MP_QSTR_STRING_TABLE, mp_obj_new_int(EXI_ENC_STRING_TABLE));
    mp_store_global(MP_QSTR_EMPTY_AS_CH, mp_obj_new_int(EXI_ENC_EMPTY_AS_CH));
    mp_store_global(MP_QSTR_COMPAT, mp_obj_new_int(EXI_ENC_COMPAT));
    mp_store_global(MP_QSTR_LENIENT, mp_obj_new_int(EXI_ENC_LENIENT));
    mp_store_global(MP_QSTR_decode, MP_OBJ_FROM_PTR(&exi_decode_obj));
    mp_store_global(MP_QSTR_encode, MP_OBJ_FROM_PTR(&exi_encode_obj));
    mp_store_global(MP_QSTR_encode_into, MP_OBJ_FROM_PTR(&exi_encode_into_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
