-- 003_api_keys.sql: API keys of the HTTP server. A key is found by its public key_id (the
-- primary key, so verification is one index lookup and never a scan); only a SHA-256 of its
-- secret is stored. Keys are not tenant data, but each carries the owner_id it acts for, and
-- listing one owner's keys uses the owner index. {{schema}} is the quoted schema.

CREATE TABLE {{schema}}.api_keys (
    key_id           text        NOT NULL PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    owner_id         text        NOT NULL,
    origin           text,
    scope            text        NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    allow_subtenants boolean     NOT NULL DEFAULT false,
    name             text,
    hash             text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,
    revoked_at       timestamptz,
    last_used_at     timestamptz
);
CREATE INDEX api_keys_owner_idx ON {{schema}}.api_keys (owner_id, created_at, key_id);
