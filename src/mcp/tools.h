/*
 * mcp/tools.h: inside src/mcp: the tools, the document resources and the prompt that mcp.c
 * dispatches to. Each works on the caller's tenant only.
 */
#ifndef LM_MCP_TOOLS_H
#define LM_MCP_TOOLS_H

#include <jansson.h>

#include "mcp.h"

typedef struct mcp_tool mcp_tool;

int mcp__tools_init(void);
/* Compact JSON of the tools/list, resources/templates/list and prompts/list results. */
const char *mcp__tools_list_json(void);
const char *mcp__templates_list_json(void);
const char *mcp__prompts_list_json(void);
/* The server's instructions for the initialize result. */
const char *mcp__instructions(const mcp_caller *who);

const mcp_tool *mcp__tool_lookup(const char *name);
/* A CallToolResult (new reference; NULL when out of memory). Failures are isError results. */
json_t *mcp__tool_call(const mcp_tool *t, const mcp_caller *who, const json_t *args);

/* 0 with *out set, or a JSON-RPC error code with *msg (static text). */
int mcp__resource_list(json_t **out, const char **msg, const mcp_caller *who, const char *cursor);
int mcp__resource_read(json_t **out, const char **msg, const mcp_caller *who, const char *uri);
int mcp__prompt_get(json_t **out,
                    const char **msg,
                    const mcp_caller *who,
                    const char *name,
                    const json_t *args);

#endif
