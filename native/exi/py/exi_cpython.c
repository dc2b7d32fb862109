/* CPython binding of the EXI core: module `exi` with decode/encode/encode_into. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../exi.h"

static exi_ctx_t g_ctx;            /* the GIL serialises calls */
static PyObject *g_names[EXI_N_SCHEMAS][2048];  /* interned key strings per schema */
static PyObject *g_error;          /* exi.ExiError(ValueError) */
static uint8_t g_big[EXI_BIG_MAX];  /* magnitude of the integer being encoded */

static int schema_index(const char *name, Py_ssize_t len) {
    return exi_schema_index(name, (size_t)len);
}

static int g_schema;

static PyObject *name_obj(const exi_schema_t *s, unsigned id) {
    PyObject **slot = &g_names[g_schema][id];
    if (!s) {
        s = &g_ctx.s;
    }
    if (!*slot) {
        *slot = PyUnicode_InternFromString(exi_name(s, id));
    }
    return *slot;
}

/* ---- decode sink ----------------------------------------------------------------- */

typedef struct {
    PyObject *dict, *value;
    PyObject *key;       /* element matched by a wildcard: its "{uri}local" key */
    PyObject *items;     /* borrowed: the "#" list in dict (ordered content) */
    unsigned elem;
    int is_list, list_left;
} frame_t;

typedef struct {
    frame_t f[EXI_MAX_DEPTH + 1];
    int depth;
    PyObject *root;
} sink_t;

static PyObject *to_py(const exi_value_t *v) {
    switch (v->kind) {
        case EXI_DT_NBIT:
        case EXI_DT_UINT:
        case EXI_DT_INT: {
            PyObject *m, *r;
            if (!v->big && (!v->neg || v->mag <= 0x8000000000000000ULL)) {
                return v->neg ? PyLong_FromLongLong(-(long long)(v->mag - 1) - 1)
                              : PyLong_FromUnsignedLongLong(v->mag);
            }
            m = v->big ? _PyLong_FromByteArray(v->ptr, v->len, 1, 0) : PyLong_FromUnsignedLongLong(v->mag);
            if (!m || !v->neg) {
                return m;
            }
            r = PyNumber_Negative(m);
            Py_DECREF(m);
            return r;
        }
        case EXI_DT_BOOL:
            return PyBool_FromLong((long)v->mag);
        case EXI_DT_BINARY:
            return PyBytes_FromStringAndSize((const char *)v->ptr, (Py_ssize_t)v->len);
        case 0:
            Py_RETURN_NONE;
        default:
            return PyUnicode_DecodeUTF8((const char *)v->ptr, (Py_ssize_t)v->len, "strict");
    }
}

static int ensure_dict(frame_t *f) {
    if (!f->dict) {
        f->dict = PyDict_New();
    }
    return f->dict ? 0 : -1;
}

static int s_start(void *ctx, const exi_schema_t *s, unsigned elem, int is_list) {
    sink_t *k = ctx;
    frame_t *f;
    (void)s;
    if (k->depth > EXI_MAX_DEPTH) {
        return -1;
    }
    f = &k->f[k->depth++];
    f->dict = NULL;
    f->value = NULL;
    f->key = NULL;
    f->items = NULL;
    f->elem = elem;
    f->is_list = is_list;
    f->list_left = 0;
    return 0;
}

static int s_attr(void *ctx, const exi_schema_t *s, unsigned attr, const exi_value_t *v) {
    sink_t *k = ctx;
    frame_t *f = &k->f[k->depth - 1];
    PyObject *o;
    int r;
    if (ensure_dict(f)) {
        return -1;
    }
    o = to_py(v);
    if (!o) {
        return -1;
    }
    r = PyDict_SetItem(f->dict, name_obj(s, s->attr_name[attr]), o);
    Py_DECREF(o);
    return r;
}

static int s_value(void *ctx, const exi_schema_t *s, const exi_value_t *v) {
    sink_t *k = ctx;
    frame_t *f = &k->f[k->depth - 1];
    PyObject *o;
    (void)s;
    if (v->kind == EXI_DT_LIST) {
        Py_XDECREF(f->value);
        f->value = PyList_New(0);
        f->list_left = v->count;
        return f->value ? 0 : -1;
    }
    o = to_py(v);
    if (!o) {
        return -1;
    }
    if (f->list_left > 0) {
        int r = PyList_Append(f->value, o);
        Py_DECREF(o);
        f->list_left--;
        return r;
    }
    Py_XDECREF(f->value);
    f->value = o;
    return 0;
}

/* the frame's "#" list, created in its dict on first use */
static int items_of(frame_t *f) {
    PyObject *l;
    if (f->items) {
        return 0;
    }
    if (ensure_dict(f) || !(l = PyList_New(0))) {
        return -1;
    }
    if (PyDict_SetItem(f->dict, name_obj(NULL, EXI_NAME_CONTENT(&g_ctx.s)), l)) {
        Py_DECREF(l);
        return -1;
    }
    Py_DECREF(l);
    f->items = l;
    return 0;
}

static int s_item(void *ctx, int what, const uint8_t *key, size_t klen, const exi_value_t *v) {
    sink_t *k = ctx;
    frame_t *f = &k->f[k->depth - 1];
    PyObject *o, *ko;
    int r;
    if (what == EXI_ITEM_START) {
        if (s_start(ctx, NULL, EXI_ELEM_NONE, 0)) {
            return -1;
        }
        k->f[k->depth - 1].key = PyUnicode_DecodeUTF8((const char *)key, (Py_ssize_t)klen, "strict");
        return k->f[k->depth - 1].key ? 0 : -1;
    }
    o = to_py(v);
    if (!o) {
        return -1;
    }
    if (what == EXI_ITEM_TEXT) {
        r = items_of(f) ? -1 : PyList_Append(f->items, o);
        Py_DECREF(o);
        return r;
    }
    ko = PyUnicode_DecodeUTF8((const char *)key, (Py_ssize_t)klen, "strict");
    r = (!ko || ensure_dict(f)) ? -1 : PyDict_SetItem(f->dict, ko, o);
    Py_XDECREF(ko);
    Py_DECREF(o);
    return r;
}

static int s_end(void *ctx, const exi_schema_t *s, unsigned elem) {
    sink_t *k = ctx;
    frame_t *f = &k->f[--k->depth];
    PyObject *obj, *key = f->key ? f->key : name_obj(s, s->elem_name[elem]);
    int r;
    if (!f->dict && f->value && elem != EXI_ELEM_NONE && (s->elem_flags[elem] & EXI_ELEM_WRAP) && ensure_dict(f)) {
        return -1;
    }
    if (f->dict) {
        if (f->value) {
            r = PyDict_SetItem(f->dict, name_obj(s, 0), f->value);
            Py_CLEAR(f->value);
            if (r) {
                return -1;
            }
        }
        obj = f->dict;
    } else if (f->value) {
        obj = f->value;
    } else {
        obj = PyDict_New();
        if (!obj) {
            return -1;
        }
    }
    f->dict = f->value = NULL;
    if (k->depth == 0) {
        k->root = PyDict_New();
        r = k->root ? PyDict_SetItem(k->root, key, obj) : -1;
        Py_DECREF(obj);
        return r;
    }
    if (f->key || f->is_list == EXI_START_ITEM) {   /* ordered content: {key: obj} */
        frame_t *p = &k->f[k->depth - 1];
        PyObject *one = PyDict_New();
        r = (!one || PyDict_SetItem(one, key, obj) || items_of(p)) ? -1 : PyList_Append(p->items, one);
        Py_XDECREF(one);
        Py_DECREF(obj);
        Py_CLEAR(f->key);
        return r;
    }
    {
        frame_t *p = &k->f[k->depth - 1];
        if (ensure_dict(p)) {
            Py_DECREF(obj);
            return -1;
        }
        if (f->is_list) {
            PyObject *lst = PyDict_GetItemWithError(p->dict, key);
            if (!lst) {
                if (PyErr_Occurred()) {
                    Py_DECREF(obj);
                    return -1;
                }
                lst = PyList_New(0);
                if (!lst || PyDict_SetItem(p->dict, key, lst)) {
                    Py_XDECREF(lst);
                    Py_DECREF(obj);
                    return -1;
                }
                Py_DECREF(lst);
            }
            r = PyList_Append(lst, obj);
        } else {
            r = PyDict_SetItem(p->dict, key, obj);
        }
        Py_DECREF(obj);
        return r;
    }
}

static void sink_clear(sink_t *k) {
    while (k->depth > 0) {
        frame_t *f = &k->f[--k->depth];
        Py_CLEAR(f->dict);
        Py_CLEAR(f->value);
        Py_CLEAR(f->key);
    }
    Py_CLEAR(k->root);
}

static PyObject *raise_exi(exi_ctx_t *c) {
    if (PyErr_Occurred()) {
        return NULL;
    }
    {
        PyObject *args = Py_BuildValue("(sn)", c->error_msg ? c->error_msg : exi_errstr(c->error),
                                       (Py_ssize_t)c->error_pos);
        if (args) {
            PyErr_SetObject(g_error, args);
            Py_DECREF(args);
        }
    }
    return NULL;
}

static PyObject *py_decode(PyObject *self, PyObject *args) {
    const char *schema;
    Py_ssize_t slen;
    Py_buffer data;
    sink_t *k;
    exi_sink_t sink;
    int e;
    (void)self;
    if (!PyArg_ParseTuple(args, "s#y*", &schema, &slen, &data)) {
        return NULL;
    }
    g_schema = schema_index(schema, slen);
    if (g_schema < 0) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "unknown schema (apphand, din, iso2, iso20_cm, iso20_ac, iso20_dc, iso20_acdp, iso20_wpt)");
        return NULL;
    }
    k = PyMem_Calloc(1, sizeof(*k));
    if (!k) {
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    sink.ctx = k;
    sink.start = s_start;
    sink.end = s_end;
    sink.attr = s_attr;
    sink.value = s_value;
    sink.item = s_item;
    e = exi_decode(&g_ctx, schema, (size_t)slen, data.buf, (size_t)data.len, &sink);
    PyBuffer_Release(&data);
    if (e) {
        sink_clear(k);
        PyMem_Free(k);
        return raise_exi(&g_ctx);
    }
    {
        PyObject *root = k->root;
        k->root = NULL;
        sink_clear(k);
        PyMem_Free(k);
        return root;
    }
}

/* ---- encode source --------------------------------------------------------------- */

static int src_size(void *ctx, void *node) {
    (void)ctx;
    return PyDict_Check((PyObject *)node) ? (int)PyDict_Size((PyObject *)node) : -1;
}

static void *src_get(void *ctx, void *node, const exi_schema_t *s, unsigned name, int is_list, int *count) {
    PyObject *v;
    (void)ctx;
    if (!PyDict_Check((PyObject *)node)) {
        return NULL;
    }
    v = PyDict_GetItemWithError((PyObject *)node, name_obj(s, name));
    if (!v) {
        return NULL;
    }
    if (is_list) {
        if (!PyList_Check(v) && !PyTuple_Check(v)) {
            PyErr_Format(PyExc_TypeError, "%s: list expected", exi_name(s, name));
            return NULL;
        }
        *count = (int)PySequence_Fast_GET_SIZE(v);
    } else {
        *count = 1;
    }
    return v;
}

static int src_keys(void *ctx, void *node, exi_key_t *out, int max) {
    PyObject *d = node, *k, *v;
    Py_ssize_t pos = 0, size;
    int n = 0;
    (void)ctx;
    if (!PyDict_Check(d)) {
        return -1;
    }
    size = PyDict_GET_SIZE(d);
    if (size > max) {
        return (int)size;
    }
    while (PyDict_Next(d, &pos, &k, &v)) {
        Py_ssize_t len;
        const char *p;
        if (!PyUnicode_Check(k)) {
            PyErr_SetString(PyExc_TypeError, "document keys must be str");
            return -2;
        }
        p = PyUnicode_AsUTF8AndSize(k, &len);
        if (!p) {
            return -2;
        }
        out[n].name = p;
        out[n].len = (size_t)len;
        out[n].value = v;
        n++;
    }
    return n;
}

static void *src_item(void *ctx, void *list, int i) {
    PyObject *l = list;
    (void)ctx;
    if (PyList_Check(l) && i < PyList_GET_SIZE(l)) {
        return PyList_GET_ITEM(l, i);
    }
    if (PyTuple_Check(l) && i < PyTuple_GET_SIZE(l)) {
        return PyTuple_GET_ITEM(l, i);
    }
    PyErr_SetString(PyExc_TypeError, "list expected");
    return NULL;
}

static int src_entry(void *ctx, void *obj, exi_key_t *out) {
    PyObject *o = obj, *k, *v;
    Py_ssize_t pos = 0, len;
    const char *p;
    (void)ctx;
    if (PyUnicode_Check(o)) {
        p = PyUnicode_AsUTF8AndSize(o, &len);
        if (!p) {
            return -1;
        }
        out->name = p;
        out->len = (size_t)len;
        return 0;
    }
    if (!PyDict_Check(o) || PyDict_GET_SIZE(o) != 1 || !PyDict_Next(o, &pos, &k, &v) || !PyUnicode_Check(k)) {
        PyErr_SetString(PyExc_TypeError, "content items (\"#\") are str or one-key dicts");
        return -1;
    }
    p = PyUnicode_AsUTF8AndSize(k, &len);
    if (!p) {
        return -1;
    }
    out->name = p;
    out->len = (size_t)len;
    out->value = v;
    return 1;
}

static int src_leaf(void *ctx, void *obj, unsigned kind, exi_value_t *v) {
    PyObject *o = obj;
    (void)ctx;
    if (o == Py_None) {
        return 1;
    }
    switch (kind) {
        case EXI_DT_NBIT:
        case EXI_DT_UINT:
        case EXI_DT_INT: {
            int overflow = 0;
            long long x;
            if (!PyLong_Check(o) || PyBool_Check(o)) {
                PyErr_SetString(PyExc_TypeError, "int expected");
                return -1;
            }
            x = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (overflow) {
                /* beyond int64: magnitude as little-endian bytes (xs:integer) */
                PyObject *a = PyNumber_Absolute(o);
                size_t bits = a ? _PyLong_NumBits(a) : (size_t)-1;
                if (!a || bits == (size_t)-1 || (bits + 7) / 8 > EXI_BIG_MAX) {
                    Py_XDECREF(a);
                    if (!PyErr_Occurred()) {
                        PyErr_SetString(PyExc_OverflowError, "integer too wide");
                    }
                    return -1;
                }
                v->len = (bits + 7) / 8;
                if (_PyLong_AsByteArray((PyLongObject *)a, g_big, v->len, 1, 0)) {
                    Py_DECREF(a);
                    return -1;
                }
                Py_DECREF(a);
                v->neg = overflow < 0;
                v->big = 1;
                v->ptr = g_big;
                return 0;
            }
            if (x == -1 && PyErr_Occurred()) {
                return -1;
            }
            v->neg = x < 0;
            v->mag = x < 0 ? (unsigned long long)(-(x + 1)) + 1 : (unsigned long long)x;
            return 0;
        }
        case EXI_DT_BOOL:
            if (!PyBool_Check(o)) {
                PyErr_SetString(PyExc_TypeError, "bool expected");
                return -1;
            }
            v->mag = o == Py_True;
            return 0;
        case EXI_DT_BINARY:
            if (PyBytes_Check(o)) {
                v->ptr = (const uint8_t *)PyBytes_AS_STRING(o);
                v->len = (size_t)PyBytes_GET_SIZE(o);
                return 0;
            }
            if (PyByteArray_Check(o)) {
                v->ptr = (const uint8_t *)PyByteArray_AS_STRING(o);
                v->len = (size_t)PyByteArray_GET_SIZE(o);
                return 0;
            }
            PyErr_SetString(PyExc_TypeError, "bytes expected");
            return -1;
        case EXI_DT_STRING:
        case EXI_DT_ENUM: {
            Py_ssize_t n;
            const char *p;
            if (!PyUnicode_Check(o)) {
                PyErr_SetString(PyExc_TypeError, "str expected");
                return -1;
            }
            p = PyUnicode_AsUTF8AndSize(o, &n);
            if (!p) {
                return -1;
            }
            v->ptr = (const uint8_t *)p;
            v->len = (size_t)n;
            return 0;
        }
        case EXI_DT_LIST:
            if (!PyList_Check(o) && !PyTuple_Check(o)) {
                PyErr_SetString(PyExc_TypeError, "list expected");
                return -1;
            }
            v->count = (uint16_t)PySequence_Fast_GET_SIZE(o);
            return 0;
        default:
            PyErr_SetString(PyExc_TypeError, "unsupported datatype");
            return -1;
    }
}

static int do_encode(PyObject *args, PyObject *kw, Py_buffer *out_buf, PyObject **out_bytes, size_t *n) {
    static char *kwlist[] = {"schema", "doc", "buf", "flags", NULL};
    static char *kwlist2[] = {"schema", "doc", "flags", NULL};
    const char *schema;
    Py_ssize_t slen;
    PyObject *doc;
    int flags = 0, e;
    exi_source_t src;
    uint8_t *out;
    size_t cap;
    if (out_buf) {
        if (!PyArg_ParseTupleAndKeywords(args, kw, "s#Ow*|i", kwlist, &schema, &slen, &doc, out_buf, &flags)) {
            return -1;
        }
        out = out_buf->buf;
        cap = (size_t)out_buf->len;
    } else {
        if (!PyArg_ParseTupleAndKeywords(args, kw, "s#O|i", kwlist2, &schema, &slen, &doc, &flags)) {
            return -1;
        }
        *out_bytes = PyBytes_FromStringAndSize(NULL, 8192);
        if (!*out_bytes) {
            return -1;
        }
        out = (uint8_t *)PyBytes_AS_STRING(*out_bytes);
        cap = 8192;
    }
    g_schema = schema_index(schema, slen);
    if (g_schema < 0) {
        PyErr_SetString(PyExc_ValueError, "unknown schema (apphand, din, iso2, iso20_cm, iso20_ac, iso20_dc, iso20_acdp, iso20_wpt)");
        return -1;
    }
    src.ctx = NULL;
    src.size = src_size;
    src.get = src_get;
    src.item = src_item;
    src.keys = src_keys;
    src.leaf = src_leaf;
    src.entry = src_entry;
    e = exi_encode(&g_ctx, schema, (size_t)slen, doc, &src, out, cap, n,
                   flags);
    if (!e && PyErr_Occurred()) {
        return -1;
    }
    if (e) {
        if (!PyErr_Occurred()) {   /* a binding TypeError is the better message: keep it */
            raise_exi(&g_ctx);
        }
        return -1;
    }
    return 0;
}

static PyObject *py_encode(PyObject *self, PyObject *args, PyObject *kw) {
    PyObject *b = NULL;
    size_t n = 0;
    (void)self;
    if (do_encode(args, kw, NULL, &b, &n)) {
        Py_XDECREF(b);
        return NULL;
    }
    if (_PyBytes_Resize(&b, (Py_ssize_t)n)) {
        return NULL;
    }
    return b;
}

static PyObject *py_encode_into(PyObject *self, PyObject *args, PyObject *kw) {
    Py_buffer buf;
    size_t n = 0;
    int r;
    (void)self;
    buf.obj = NULL;
    r = do_encode(args, kw, &buf, NULL, &n);
    if (buf.obj) {
        PyBuffer_Release(&buf);
    }
    return r ? NULL : PyLong_FromSize_t(n);
}

static PyMethodDef methods[] = {
    {"decode", py_decode, METH_VARARGS, "decode(schema, data) -> document"},
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(schema, doc, flags=0) -> bytes; flags: STRING_TABLE | EMPTY_AS_CH (COMPAT) | LENIENT"},
    {"encode_into", (PyCFunction)(void (*)(void))py_encode_into, METH_VARARGS | METH_KEYWORDS,
     "encode_into(schema, doc, buf, flags=0) -> length"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "exi", "EXI codec for the V2G schemas (C core)", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_exi(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) {
        return NULL;
    }
    g_error = PyErr_NewExceptionWithDoc("exi.ExiError",
                                        "args: (reason, bit position)", PyExc_ValueError, NULL);
    if (!g_error || PyModule_AddObject(m, "ExiError", g_error)) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(g_error);
    if (PyModule_AddIntConstant(m, "STRING_TABLE", EXI_ENC_STRING_TABLE) ||
        PyModule_AddIntConstant(m, "EMPTY_AS_CH", EXI_ENC_EMPTY_AS_CH) ||
        PyModule_AddIntConstant(m, "COMPAT", EXI_ENC_COMPAT) ||
        PyModule_AddIntConstant(m, "LENIENT", EXI_ENC_LENIENT)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
