/*
 * bench/mcp/latency.c: the latency MCP adds to a search. One tenant's documents are loaded
 * through the library; then the same searches run, interleaved call by call so that noise hits
 * every path alike, (1) through the library (lm_search, as the MCP tool calls it), (2) as
 * tools/call over stdio to a `llmemory mcp` child, in a session of the handshake revision
 * (2025-11-25) and (3) as a request of the stateless revision (2026-07-28, its own envelope),
 * (4, 5) the same two over Streamable HTTP to a running `llmemory serve` (/mcp, one keep-alive
 * connection each; the stateless one with its routing headers), and (6) the REST API's search
 * on that server, the HTTP baseline MCP over HTTP shares. Prints per-path medians and p90 of the
 * wall time per call, what each transport adds at the median, and CPU time per call (the stdio
 * child's and the server's, both revisions together).
 *
 *   latency load DB SCHEMA OWNER DOCS
 *   latency run DB SCHEMA OWNER LLMEMORY_BIN URL KEY CALLS
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llmemory.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_self_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* utime + stime of process @p pid in ms. */
static double cpu_pid_ms(pid_t pid)
{
    char path[64], buf[2048], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st) != 2)
        return 0;
    return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
}

static const char *word(unsigned i)
{
    static char w[32];
    static const char *syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pu"};
    snprintf(w, sizeof(w), "%s%s%s", syl[i % 10], syl[(i / 10) % 10], syl[(i / 100) % 10]);
    return w;
}

static lm_memory *open_mem(const char *db, const char *schema)
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_memory *mem = NULL;
    o.database_url = db;
    o.schema = schema;
    if (lm_memory_open(&mem, &o) < 0) {
        fprintf(stderr, "open: %s\n", lm_error_last()->message);
        exit(1);
    }
    return mem;
}

static int load(const char *db, const char *schema, const char *owner, int docs)
{
    lm_memory *mem = open_mem(db, schema);
    unsigned seed = 7;
    char *text = malloc(8192);

    for (int d = 0; d < docs; d++) {
        char origin[32], name[32];
        size_t n = 0;
        lm_doc_add_result r;
        for (int i = 0; i < 250; i++) {
            seed = seed * 1103515245u + 12345u;
            n += (size_t)snprintf(text + n, 8192 - n, "%s%s", word((seed >> 8) % 1000),
                                  i % 15 == 14 ? ". " : " ");
        }
        snprintf(origin, sizeof(origin), "doc-%d", d);
        snprintf(name, sizeof(name), "Document %d", d);
        if (lm_doc_add(&r, mem, owner, origin, name, LM_DOC_TEXT, text, n, NULL) < 0) {
            fprintf(stderr, "add: %s\n", lm_error_last()->message);
            return 1;
        }
    }
    free(text);
    lm_memory_close(mem);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[(int)(p * (n - 1))];
}

/* ---- stdio child ---- */
static FILE *to_child, *from_child;
static pid_t child;

static void start_child(const char *bin, const char *db, const char *schema, const char *owner)
{
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        exit(1);
    child = fork();
    if (child == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(bin, bin, "--database-url", db, "--schema", schema, "mcp", "--owner", owner,
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_child = fdopen(in[1], "w");
    from_child = fdopen(out[0], "r");
}

static char *line;
static size_t line_cap;

static const char *stdio_call(const char *msg)
{
    if (fputs(msg, to_child) == EOF || fputc('\n', to_child) == EOF || fflush(to_child) != 0)
        exit(1);
    if (getline(&line, &line_cap, from_child) < 0) {
        fprintf(stderr, "stdio: the server closed\n");
        exit(1);
    }
    return line;
}

/* ---- HTTP ---- */
static CURL *curl;
static struct curl_slist *hdrs;
static char *body;
static size_t body_len;
static char session[128];

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    (void)u;
    body = realloc(body, body_len + s * n + 1);
    memcpy(body + body_len, p, s * n);
    body_len += s * n;
    body[body_len] = '\0';
    return s * n;
}

static size_t on_header(char *p, size_t s, size_t n, void *u)
{
    (void)u;
    if (strncasecmp(p, "Mcp-Session-Id:", 15) == 0) {
        snprintf(session, sizeof(session), "%.*s", (int)strcspn(p + 15 + 1, "\r\n"), p + 16);
    }
    return s * n;
}

static CURL *curl_modern;
static struct curl_slist *hdrs_modern;

static const char *http_post(CURL *c, struct curl_slist *h, const char *url, const char *msg)
{
    long code = 0;
    body_len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, msg);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) != CURLE_OK)
        exit(1);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 && code != 202) {
        fprintf(stderr, "http: status %ld: %s\n", code, body ? body : "");
        exit(1);
    }
    return body != NULL ? body : "";
}

static const char *http_call(const char *url, const char *msg)
{
    return http_post(curl, hdrs, url, msg);
}

static void must_have(const char *reply, const char *what)
{
    if (strstr(reply, what) == NULL) {
        fprintf(stderr, "unexpected reply (wanted %s): %.300s\n", what, reply);
        exit(1);
    }
}

/* A tools/call search of the stateless revision: the request carries its own envelope. */
static void modern_msg(char *out, size_t len, int id, const char *q)
{
    snprintf(out, len,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"search\",\"arguments\":{\"query\":\"%s\"},\"_meta\":{\"io.modelcontextprotocol/"
             "protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
             id, q);
}

static int run(char **argv)
{
    const char *db = argv[2], *schema = argv[3], *owner = argv[4], *bin = argv[5];
    const char *base = argv[6], *key = argv[7];
    int calls = atoi(argv[8]);
    char url[512], auth[600], msg[512], init[] =
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}";
    double *t_lib = calloc((size_t)calls, sizeof(double));
    double *t_stdio = calloc((size_t)calls, sizeof(double));
    double *t_http = calloc((size_t)calls, sizeof(double));
    double *t_rest = calloc((size_t)calls, sizeof(double));
    double *t_stdio2 = calloc((size_t)calls, sizeof(double));
    double *t_http2 = calloc((size_t)calls, sizeof(double));
    char msg2[768];
    char rest_url[512], rest_msg[256];
    double cpu_lib = 0, c0, s0, h0, hits = 0;
    lm_memory *mem = open_mem(db, schema);
    pid_t server = (pid_t)atoi(getenv("SERVER_PID") ? getenv("SERVER_PID") : "0");

    snprintf(url, sizeof(url), "%s/mcp", base);
    snprintf(rest_url, sizeof(rest_url), "%s/v1/search", base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json, text/event-stream");
    must_have(http_call(url, init), "protocolVersion");
    {
        char sh[200];
        snprintf(sh, sizeof(sh), "Mcp-Session-Id: %s", session);
        hdrs = curl_slist_append(hdrs, sh);
    }
    http_call(url, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    /* The stateless revision: no session, the routing headers repeat the body. */
    curl_modern = curl_easy_init();
    curl_easy_setopt(curl_modern, CURLOPT_WRITEFUNCTION, on_body);
    hdrs_modern = curl_slist_append(NULL, auth);
    hdrs_modern = curl_slist_append(hdrs_modern, "Content-Type: application/json");
    hdrs_modern = curl_slist_append(hdrs_modern, "Accept: application/json, text/event-stream");
    hdrs_modern = curl_slist_append(hdrs_modern, "MCP-Protocol-Version: 2026-07-28");
    hdrs_modern = curl_slist_append(hdrs_modern, "Mcp-Method: tools/call");
    hdrs_modern = curl_slist_append(hdrs_modern, "Mcp-Name: search");

    start_child(bin, db, schema, owner);
    must_have(stdio_call(init), "protocolVersion");
    fputs("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n", to_child);

    /* Warm up every path (connections, caches). */
    for (int i = 0; i < 20; i++) {
        snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"search\",\"arguments\":{\"query\":\"%s\"}}}", i + 1,
                 word((unsigned)i * 37 % 1000));
        must_have(stdio_call(msg), "structuredContent");
        must_have(http_call(url, msg), "structuredContent");
        modern_msg(msg2, sizeof(msg2), i + 1, word((unsigned)i * 37 % 1000));
        must_have(stdio_call(msg2), "structuredContent");
        must_have(http_post(curl_modern, hdrs_modern, url, msg2), "structuredContent");
    }
    s0 = cpu_pid_ms(child);
    h0 = server ? cpu_pid_ms(server) : 0;
    for (int i = 0; i < calls; i++) {
        char q[64];
        lm_search_opts o = LM_SEARCH_OPTS_INIT;
        lm_results *res = NULL;
        double t;

        snprintf(q, sizeof(q), "%s", word((unsigned)i * 7919 % 1000));
        snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"search\",\"arguments\":{\"query\":\"%s\"}}}", i + 100,
                 q);
        /* The library, with the options the search tool uses by default. */
        o.limit = 10;
        o.with_documents = 1;
        c0 = cpu_self_ms();
        t = now_ms();
        if (lm_search(&res, mem, owner, q, &o) < 0) {
            fprintf(stderr, "search: %s\n", lm_error_last()->message);
            return 1;
        }
        t_lib[i] = now_ms() - t;
        cpu_lib += cpu_self_ms() - c0;
        hits += (double)lm_results_count(res);
        lm_results_free(res);

        t = now_ms();
        must_have(stdio_call(msg), "structuredContent");
        t_stdio[i] = now_ms() - t;

        t = now_ms();
        must_have(http_call(url, msg), "structuredContent");
        t_http[i] = now_ms() - t;

        modern_msg(msg2, sizeof(msg2), i + 100, q);
        t = now_ms();
        must_have(stdio_call(msg2), "structuredContent");
        t_stdio2[i] = now_ms() - t;

        t = now_ms();
        must_have(http_post(curl_modern, hdrs_modern, url, msg2), "structuredContent");
        t_http2[i] = now_ms() - t;

        /* The REST API's search on the same server: the HTTP baseline (credential check,
           worker hand-off) that MCP over HTTP shares. */
        snprintf(rest_msg, sizeof(rest_msg),
                 "{\"query\":\"%s\",\"limit\":10,\"with_documents\":true}", q);
        t = now_ms();
        must_have(http_call(rest_url, rest_msg), "\"results\"");
        t_rest[i] = now_ms() - t;
    }
    {
        double s_cpu = (cpu_pid_ms(child) - s0) / calls;
        double h_cpu = server ? (cpu_pid_ms(server) - h0) / calls : 0;
        double l_cpu = cpu_lib / calls;
        double ml = pct(t_lib, calls, 0.5), ms = pct(t_stdio, calls, 0.5),
               mh = pct(t_http, calls, 0.5), mr = pct(t_rest, calls, 0.5);
        double ms2 = pct(t_stdio2, calls, 0.5), mh2 = pct(t_http2, calls, 0.5);
        printf("%d searches per path, interleaved; %.1f hits per search\n", calls, hits / calls);
        printf("| path | p50 ms | p90 ms | added at p50 ms | server CPU ms/call |\n");
        printf("|------|-------:|-------:|----------------:|-------------------:|\n");
        printf("| library (lm_search) | %.3f | %.3f | - | %.3f (in process) |\n", ml,
               pct(t_lib, calls, 0.9), l_cpu);
        printf("| MCP stdio, 2025-11-25 session | %.3f | %.3f | %.3f | %.3f (both) |\n", ms,
               pct(t_stdio, calls, 0.9), ms - ml, s_cpu / 2);
        printf("| MCP stdio, 2026-07-28 | %.3f | %.3f | %.3f | |\n", ms2,
               pct(t_stdio2, calls, 0.9), ms2 - ml);
        printf("| MCP HTTP, 2025-11-25 session | %.3f | %.3f | %.3f | %.3f (all HTTP) |\n", mh,
               pct(t_http, calls, 0.9), mh - ml, h_cpu / 3);
        printf("| MCP HTTP, 2026-07-28 | %.3f | %.3f | %.3f | |\n", mh2,
               pct(t_http2, calls, 0.9), mh2 - ml);
        printf("| REST POST /v1/search | %.3f | %.3f | %.3f | (with MCP HTTP) |\n", mr,
               pct(t_rest, calls, 0.9), mr - ml);
        printf("ratios to the library at p50: stdio %.2fx, MCP HTTP %.2fx, REST %.2fx; "
               "MCP HTTP - REST at p50: %.3f ms\n",
               ms / ml, mh / ml, mr / ml, mh - mr);
    }
    fclose(to_child);
    waitpid(child, NULL, 0);
    lm_memory_close(mem);
    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
    free(t_lib);
    free(t_stdio);
    free(t_http);
    free(t_rest);
    free(t_stdio2);
    free(t_http2);
    curl_easy_cleanup(curl_modern);
    curl_slist_free_all(hdrs_modern);
    free(line);
    free(body);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "load") == 0)
        return load(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (argc == 9 && strcmp(argv[1], "run") == 0)
        return run(argv);
    fprintf(stderr, "usage: latency load DB SCHEMA OWNER DOCS | run DB SCHEMA OWNER BIN URL KEY "
                    "CALLS\n");
    return 2;
}
