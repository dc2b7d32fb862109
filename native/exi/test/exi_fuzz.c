/* Fuzz target for the EXI core: decode arbitrary bytes with every schema (first input byte
 * picks the schema); a successful decode must be one balanced element tree and an error
 * must point inside the input. (Encoding is fuzzed through the bindings: decode -> encode
 * in tests/host/test_exi_asan.py.) Built as a libFuzzer target with clang
 * (-fsanitize=fuzzer), or with gcc as a plain driver that runs the files given as arguments
 * (corpus replay under ASan/UBSan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../exi.h"

/* a flat recording of the decode events, replayed as the encoder's document */
#define MAXEV 4096
typedef struct {
    uint8_t type;        /* 0 start, 1 end, 2 attr, 3 value */
    uint16_t id;
    uint8_t is_list;
    exi_value_t v;
    uint8_t data[64];
} ev_t;

static ev_t evs[MAXEV];
static int nev;

static int rec(int type, unsigned id, int is_list, const exi_value_t *v) {
    ev_t *e;
    if (nev >= MAXEV) {
        return -1;
    }
    e = &evs[nev++];
    memset(e, 0, sizeof(*e));
    e->type = (uint8_t)type;
    e->id = (uint16_t)id;
    e->is_list = (uint8_t)is_list;
    if (v) {
        e->v = *v;
        if (v->ptr) {   /* keep a bounded copy: the core's scratch is reused */
            size_t n = v->len < sizeof(e->data) ? v->len : sizeof(e->data);
            memcpy(e->data, v->ptr, n);
            e->v.ptr = e->data;
            e->v.len = n;
        }
    }
    return 0;
}

static int k_start(void *c, const exi_schema_t *s, unsigned el, int l) { (void)c; (void)s; return rec(0, el, l, 0); }
static int k_end(void *c, const exi_schema_t *s, unsigned el) { (void)c; (void)s; return rec(1, el, 0, 0); }
static int k_attr(void *c, const exi_schema_t *s, unsigned a, const exi_value_t *v) { (void)c; (void)s; return rec(2, a, 0, v); }
static int k_value(void *c, const exi_schema_t *s, const exi_value_t *v) { (void)c; (void)s; return rec(3, 0, 0, v); }

static int k_item(void *c, int what, const uint8_t *key, size_t klen, const exi_value_t *v) {
    (void)c;
    (void)key;
    (void)klen;
    return rec(what == EXI_ITEM_START ? 0 : 4, 0, what, v);
}

static exi_ctx_t ctx;
static const char *names[3] = {"apphand", "din", "iso2"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    exi_sink_t sink = {0, k_start, k_end, k_attr, k_value, k_item};
    const char *schema;
    if (size < 1) {
        return 0;
    }
    schema = names[data[0] % 3];
    nev = 0;
    if (exi_decode(&ctx, schema, strlen(schema), data + 1, size - 1, &sink) == EXI_OK) {
        if (nev < 2 || evs[0].type != 0 || evs[nev - 1].type != 1) {
            abort();    /* a successful decode is one balanced element tree */
        }
    } else if (ctx.error_pos > 8 * (size - 1)) {
        abort();        /* errors point inside the input */
    }
    return 0;
}

#ifndef EXI_LIBFUZZER
static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* stdin: lines "<schema index> <hex>"; prints "<ok> <errors>" */
int main(void) {
    static char line[70000];
    static uint8_t buf[35000];
    long ok = 0, err = 0;
    while (fgets(line, sizeof(line), stdin)) {
        size_t n = 1, i;
        buf[0] = (uint8_t)(line[0] - '0');
        for (i = 2; hexval(line[i]) >= 0 && hexval(line[i + 1]) >= 0 && n < sizeof(buf); i += 2) {
            buf[n++] = (uint8_t)(hexval(line[i]) * 16 + hexval(line[i + 1]));
        }
        LLVMFuzzerTestOneInput(buf, n);
        if (ctx.error) err++; else ok++;
    }
    printf("%ld %ld\n", ok, err);
    return 0;
}
#endif
