/*
 * http/handler_export.c: GET /v1/export streams the tenant's export (JSON Lines, the format of
 * `llmemory export`) as it is read. The handler answers 200 at once with a response that reads
 * a pipe; a thread of its own runs lm_tenant_export() into the other end, so memory stays
 * constant and the pipe's capacity paces the database reads to the client. A failure after the
 * headers went out can only end the stream early: the missing trailer tells an importer so.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

typedef struct export_job {
    lm_memory *mem;
    int fd; /* write end of the pipe */
    int with_vectors;
    char tenant[LM_MAX_OWNER_ID_BYTES + 1];
    char req_id[72];
    char actor[LM_MAX_OWNER_ID_BYTES + 8]; /* for the audit record, on this thread */
    char addr[64];
} export_job;

static atomic_int running;

static int write_fd(const char *data, size_t len, void *payload)
{
    export_job *j = payload;
    while (len > 0) {
        ssize_t n = write(j->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LM_EIO; /* the client went away (EPIPE) */
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *export_main(void *arg)
{
    export_job *j = arg;
    lm_export_opts o = LM_EXPORT_OPTS_INIT;
    lm_transfer_counts c;
    int fd = j->fd, rc;

    o.with_vectors = j->with_vectors;
    lm_audit_context_set(j->actor, j->addr[0] ? j->addr : NULL);
    rc = lm_tenant_export(&c, j->mem, j->tenant, &o, write_fd, j);
    if (rc < 0)
        srv_log(SRV_LOG_WARN, j->req_id, "export ended early", "error", lm_errname(rc), "message",
                lm_error_last()->message, (const char *)NULL);
    free(j);
    /* Closing the pipe ends the response; nothing shared is touched after it. */
    close(fd);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

void srv_export_wait(double timeout_s)
{
    double t0 = srv_now_ms();
    while (atomic_load(&running) > 0 && srv_now_ms() - t0 < timeout_s * 1000.0)
    {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void srv_h_export(srv_request *r)
{
    export_job *j = NULL;
    struct MHD_Response *resp = NULL;
    pthread_attr_t attr;
    pthread_t th;
    int p[2] = {-1, -1}, vectors = 0, present = 0;

    if (srv_origin_bound(r)) {
        srv_reply_error(r, MHD_HTTP_FORBIDDEN, "permission_denied",
                        "credential is bound to one origin",
                        "An export covers the whole tenant; this credential sees one origin.",
                        NULL, NULL);
        return;
    }
    if (srv_query_bool(r, "vectors", &vectors, &present) < 0)
        return;
    if ((j = calloc(1, sizeof(*j))) == NULL || pipe(p) < 0)
        goto fail;
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    j->mem = r->srv->mem;
    j->fd = p[1];
    j->with_vectors = vectors;
    snprintf(j->tenant, sizeof(j->tenant), "%s", r->tenant);
    snprintf(j->req_id, sizeof(j->req_id), "%s", r->id);
    srv_audit_who(r, j->actor, sizeof(j->actor), j->addr, sizeof(j->addr));
    if ((resp = MHD_create_response_from_pipe(p[0])) == NULL)
        goto fail;
    p[0] = -1; /* the response owns it now */
    atomic_fetch_add(&running, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, export_main, j) != 0) {
        pthread_attr_destroy(&attr);
        atomic_fetch_sub(&running, 1);
        goto fail;
    }
    pthread_attr_destroy(&attr);
    srv_reply_stream(r, MHD_HTTP_OK, resp, "application/x-ndjson");
    return;
fail:
    if (resp != NULL)
        MHD_destroy_response(resp);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    free(j);
    srv_reply_errorf(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "could not start the export");
}
