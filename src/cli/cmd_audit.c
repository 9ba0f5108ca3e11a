/*
 * cli/cmd_audit.c: `llmemory audit`: an owner's audit log, newest first: keys created and
 * revoked, erasure, export, import, quota changes and refused credentials, with who, from
 * where and the outcome; --server: the server's own log (refused credentials no owner can be
 * named for).
 */
#include <stdio.h>

#include "cmd.h"

int cli_cmd_audit(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int json = 0, limit = 50, server = 0, nargs, rc, status, bad = 0;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_INT(0, "limit", "N", &limit, 1, 10000,
                                    "the N most recent records (default 50)"),
                            CLI_FLAG(0, "server", &server,
                                     "the server's own log: refused credentials of no known "
                                     "owner (operators)"),
                            CLI_JSON(&json, "print the records as JSON"), CLI_END};
    const cli_spec spec = {.usage = "llmemory audit [OPTION]...",
                           .about = "Show one owner's audit log, newest first. The log is "
                                    "append-only; erasing the owner\nleaves only the erasure "
                                    "record.\n",
                           .opts = opts,
                           .max_args = 0};
    lm_memory *mem = NULL;
    lm_audit_page *p = NULL;
    json_t *out = NULL, *arr = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (server && owner_opt != NULL)
        return cli_usage(ctx, "--server and --owner cannot be combined");
    if (!server && (status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "\"audit\" works on the database, not with --url");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if ((rc = server ? lm_audit_list_server(&p, mem, limit) : lm_audit_list(&p, mem, owner, limit)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        out = json_object();
        arr = json_array();
        for (size_t i = 0; i < lm_audit_page_count(p); i++) {
            const lm_audit_entry *e = lm_audit_page_at(p, i);
            json_t *o = json_object();
            bad |= cli_jset(o, "audit_id", json_integer((json_int_t)e->audit_id));
            bad |= cli_jset(o, "at", cli_jstr(e->at));
            bad |= cli_jset(o, "actor", cli_jstr(e->actor));
            bad |= cli_jset(o, "action", cli_jstr(e->action));
            bad |= cli_jset(o, "source", cli_jstr_or_null(e->source));
            bad |= cli_jset(o, "outcome", cli_jstr(e->outcome));
            bad |= cli_jset(o, "detail", json_loads(e->detail, 0, NULL));
            bad |= json_array_append_new(arr, o) < 0;
        }
        bad |= cli_jset(out, "owner_id", server ? json_null() : cli_jstr(owner));
        bad |= cli_jset(out, "count", json_integer((json_int_t)lm_audit_page_count(p)));
        bad |= cli_jset(out, "records", arr);
        arr = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    for (size_t i = 0; i < lm_audit_page_count(p); i++) {
        const lm_audit_entry *e = lm_audit_page_at(p, i);
        printf("%s  %-14s %-7s %-22s %-16s %s\n", e->at, e->action, e->outcome, e->actor,
               e->source ? e->source : "-", e->detail);
    }
    if (lm_audit_page_count(p) == 0)
        printf("no audit records\n");
    status = CLI_EXIT_OK;
out:
    json_decref(arr);
    json_decref(out);
    lm_audit_page_free(p);
    lm_memory_close(mem);
    return status;
}
