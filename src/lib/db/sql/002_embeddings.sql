-- 002_embeddings.sql: the embedding provider registry, the embedding queue, and the registry of
-- per-tenant vector indexes. Vectors live in one table per dimension ({{schema}}.vectors_<dim>),
-- created when a provider of that dimension is first registered (see src/lib/search/vector.c).

CREATE TABLE {{schema}}.embedding_providers (
    provider_id  text        NOT NULL PRIMARY KEY,
    kind         text        NOT NULL,
    model        text        NOT NULL,
    dimension    integer     NOT NULL CHECK (dimension > 0),
    vector_table text        NOT NULL,
    is_default   boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX embedding_providers_one_default ON {{schema}}.embedding_providers (is_default)
    WHERE is_default;

-- Work for the embedding worker: claimed with FOR UPDATE SKIP LOCKED under a lease; a lease that
-- expires (crashed worker) makes the job claimable again; attempts are limited, then "dead".
CREATE TABLE {{schema}}.embedding_queue (
    owner_id     text        NOT NULL,
    provider_id  text        NOT NULL REFERENCES {{schema}}.embedding_providers ON DELETE CASCADE,
    chunk_id     uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'processing', 'done', 'dead')),
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    lease_token  uuid,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, provider_id, chunk_id),
    FOREIGN KEY (owner_id, chunk_id) REFERENCES {{schema}}.chunks (owner_id, chunk_id)
        ON DELETE CASCADE
);
CREATE INDEX embedding_queue_ready_idx ON {{schema}}.embedding_queue (available_at)
    WHERE status = 'pending';
CREATE INDEX embedding_queue_lease_idx ON {{schema}}.embedding_queue (lease_until)
    WHERE status = 'processing';

-- Tenants large enough to have their own approximate (HNSW) index, per provider.
CREATE TABLE {{schema}}.vector_indexes (
    owner_id      text        NOT NULL,
    provider_id   text        NOT NULL REFERENCES {{schema}}.embedding_providers ON DELETE CASCADE,
    index_name    text        NOT NULL,
    rows_at_build bigint      NOT NULL,
    built_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, provider_id)
);
