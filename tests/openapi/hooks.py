"""Schemathesis hooks for the OpenAPI fuzz (SCHEMATHESIS_HOOKS=hooks, tests/openapi/run.sh).

POST /v1/import takes application/x-ndjson, which schemathesis cannot serialise by itself: a
generated string is sent as it is (UTF-8), anything else as one JSON line.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    return (json.dumps(value) + "\n").encode()
