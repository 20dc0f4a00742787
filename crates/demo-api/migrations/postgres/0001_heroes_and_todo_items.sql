-- Heroes (seeds 000 and 001) and todo items (seed 003).
-- Identity columns never hand out an id twice, so a cursor (`?after=`) or a
-- bookmarked id never points at someone new.

CREATE TABLE heroes (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              TEXT        NOT NULL,
    secret_name       TEXT        NOT NULL,
    age               INTEGER CHECK (age IS NULL OR (age >= 0 AND age <= 10000)),
    -- Who created it: a user (tenant + object id) or an app (tenant + client id).
    created_by_kind   TEXT        NOT NULL CHECK (created_by_kind IN ('user', 'app')),
    created_by_tenant TEXT        NOT NULL,
    created_by_id     TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE todo_items (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title            TEXT        NOT NULL,
    -- The owner: tenant id + object id, never an e-mail address.
    owner_tenant_id  TEXT        NOT NULL,
    owner_object_id  TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX todo_items_by_owner ON todo_items (owner_tenant_id, owner_object_id, id);
