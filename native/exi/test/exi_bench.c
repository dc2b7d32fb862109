/* Node "pointers" are index + 1 (NULL means absent). C core benchmark: stdin lines "<schema> <hex> <name>"; for each message prints
 * "<name> <decode ns> <encode ns>". Decoding feeds a sink that builds a small in-memory
 * tree (like the bindings build dicts); encoding reads that tree back through exi_source_t.
 * The re-encoded bytes must equal the input (checked once per message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../exi.h"

#define MAXN 2048
#define POOL 65536
enum { N_DICT, N_LIST, N_LEAF };
typedef struct {
    uint8_t type;
    uint16_t name;        /* key in the parent dict */
    int first, next;      /* children (dict members or list items), siblings */
    int count;
    exi_value_t v;
} node_t;

static node_t nodes[MAXN];
static exi_ctx_t ctx;
#define ctx_schema (ctx.s)
static int nn;
static uint8_t pool[POOL];
static size_t pool_used;
static int stack[EXI_MAX_DEPTH + 2], sp;
static int stack_val[EXI_MAX_DEPTH + 2];
static uint8_t stack_list[EXI_MAX_DEPTH + 2];
static uint16_t stack_elem[EXI_MAX_DEPTH + 2];
static int root;

static int new_node(int type) {
    node_t *n = &nodes[nn];
    memset(n, 0, sizeof(*n));
    n->type = (uint8_t)type;
    n->first = n->next = -1;
    return nn++;
}

static void add_child(int parent, int child) {
    int *p = &nodes[parent].first;
    while (*p >= 0) {
        p = &nodes[*p].next;
    }
    *p = child;
    nodes[parent].count++;
}

static int find_key(int dict, unsigned name) {
    int c;
    for (c = nodes[dict].first; c >= 0; c = nodes[c].next) {
        if (nodes[c].name == name) {
            return c;
        }
    }
    return -1;
}

static int leaf(const exi_value_t *v) {
    int n = new_node(N_LEAF);
    nodes[n].v = *v;
    if (v->ptr && v->len) {
        memcpy(pool + pool_used, v->ptr, v->len);
        nodes[n].v.ptr = pool + pool_used;
        pool_used += v->len;
    }
    return n;
}

static int s_start(void *c, const exi_schema_t *s, unsigned el, int is_list) {
    (void)c; (void)s;
    stack[sp] = -1;
    stack_val[sp] = -1;
    stack_list[sp] = (uint8_t)is_list;
    stack_elem[sp] = (uint16_t)el;
    sp++;
    return 0;
}

static int ensure_dict(void) {
    if (stack[sp - 1] < 0) {
        stack[sp - 1] = new_node(N_DICT);
    }
    return stack[sp - 1];
}

static int s_attr(void *c, const exi_schema_t *s, unsigned a, const exi_value_t *v) {
    int d = ensure_dict(), n = leaf(v);
    (void)c;
    nodes[n].name = s->attr_name[a];
    add_child(d, n);
    return 0;
}

static int s_value(void *c, const exi_schema_t *s, const exi_value_t *v) {
    (void)c; (void)s;
    if (v->kind == EXI_DT_LIST) {
        return -1;   /* no list-typed values in the benchmark messages */
    }
    stack_val[sp - 1] = leaf(v);
    return 0;
}

static int s_end(void *c, const exi_schema_t *s, unsigned el) {
    int obj, name = s->elem_name[el];
    (void)c;
    sp--;
    if (stack[sp] >= 0) {
        if (stack_val[sp] >= 0) {
            nodes[stack_val[sp]].name = 0;
            add_child(stack[sp], stack_val[sp]);
        }
        obj = stack[sp];
    } else if (stack_val[sp] >= 0) {
        obj = stack_val[sp];
    } else {
        obj = new_node(N_DICT);
    }
    nodes[obj].name = (uint16_t)name;
    if (sp == 0) {
        root = new_node(N_DICT);
        add_child(root, obj);
        return 0;
    }
    {
        int d = ensure_dict();
        if (stack_list[sp]) {
            int l = find_key(d, (unsigned)name);
            if (l < 0) {
                l = new_node(N_LIST);
                nodes[l].name = (uint16_t)name;
                add_child(d, l);
            }
            add_child(l, obj);
        } else {
            add_child(d, obj);
        }
    }
    return 0;
}

static int src_size(void *c, void *node) {
    node_t *n = &nodes[(intptr_t)node - 1];
    (void)c;
    return n->type == N_DICT ? n->count : -1;
}

static void *src_get(void *c, void *node, const exi_schema_t *s, unsigned name, int is_list, int *count) {
    int k;
    (void)c; (void)s; (void)is_list;
    if (nodes[(intptr_t)node - 1].type != N_DICT || (k = find_key((int)(intptr_t)node - 1, name)) < 0) {
        return NULL;
    }
    *count = nodes[k].type == N_LIST ? nodes[k].count : 1;
    return k < 0 ? NULL : (void *)(intptr_t)(k + 1);
}

static void *src_item(void *c, void *list, int i) {
    int k = nodes[(intptr_t)list - 1].first;
    (void)c;
    while (i-- > 0 && k >= 0) {
        k = nodes[k].next;
    }
    return k < 0 ? NULL : (void *)(intptr_t)(k + 1);
}

static int src_keys(void *c, void *node, exi_key_t *out, int max) {
    int n = 0, k;
    (void)c;
    if (nodes[(intptr_t)node - 1].type != N_DICT) {
        return -1;
    }
    if (nodes[(intptr_t)node - 1].count > max) {
        return nodes[(intptr_t)node - 1].count;
    }
    for (k = nodes[(intptr_t)node - 1].first; k >= 0; k = nodes[k].next, n++) {
        out[n].name = NULL;      /* the tree knows the name ids */
        out[n].id = nodes[k].name;
        out[n].value = (void *)(intptr_t)(k + 1);
    }
    return n;
}

static int src_leaf(void *c, void *obj, unsigned kind, exi_value_t *v) {
    node_t *n = &nodes[(intptr_t)obj - 1];
    (void)c; (void)kind;
    if (n->type != N_LEAF) {
        return -1;
    }
    *v = n->v;
    return n->v.kind == 0 ? 1 : 0;
}


static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    static char line[20000];
    static uint8_t data[8192], out[8192];
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    exi_sink_t sink = {0, s_start, s_end, s_attr, s_value, NULL};
    exi_source_t src = {0, src_size, src_get, src_item, src_keys, src_leaf, NULL};
    while (fgets(line, sizeof(line), stdin)) {
        char schema[16], hex[16000], name[64];
        size_t n = 0, i, olen = 0;
        long k;
        double t0, td, te;
        if (sscanf(line, "%15s %15999s %63s", schema, hex, name) != 3) {
            continue;
        }
        for (i = 0; hex[i] && hex[i + 1]; i += 2) {
            unsigned b;
            sscanf(hex + i, "%2x", &b);
            data[n++] = (uint8_t)b;
        }
        t0 = now_ns();
        for (k = 0; k < iters; k++) {
            nn = 0;
            pool_used = 0;
            sp = 0;
            if (exi_decode(&ctx, schema, strlen(schema), data, n, &sink)) {
                printf("%s decode error %s at %zu\n", name, ctx.error_msg, ctx.error_pos);
                return 1;
            }
        }
        td = (now_ns() - t0) / iters;
        t0 = now_ns();
        for (k = 0; k < iters; k++) {
            if (exi_encode(&ctx, schema, strlen(schema), (void *)(intptr_t)(root + 1), &src, out, sizeof(out), &olen, 0)) {
                printf("%s encode error %s at %zu\n", name, ctx.error_msg, ctx.error_pos);
                return 1;
            }
        }
        te = (now_ns() - t0) / iters;
        if (olen != n || memcmp(out, data, n)) {
            printf("%s re-encoding differs\n", name);
            return 1;
        }
        printf("%s %s %.0f %.0f\n", schema, name, td, te);
    }
    return 0;
}
