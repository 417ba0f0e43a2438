-- Customer value in the platform: API keys for server-to-server calls (purchases, scores),
-- the record of each scoring run, and every attempt to deliver an outreach webhook.

-- Keys for the HTTP API (`hark apikey add NAME`). Only the SHA-256 of a key is stored; a
-- revoked key stays for the record. One live key per name.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- One row per scoring run (scheduled or on demand): which model scored, on how many customers,
-- and why the simple model was used when the probabilistic one could not be fitted.
CREATE TABLE value_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    started_by      TEXT NOT NULL,
    model_version   TEXT NOT NULL,
    customers       BIGINT NOT NULL,
    newly_at_risk   BIGINT NOT NULL,
    fallback_reason TEXT,
    params          TEXT NOT NULL DEFAULT '{}',
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL
);

-- Every attempt to deliver a webhook: retries share a delivery id.
CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   TEXT NOT NULL,
    event         TEXT NOT NULL,
    url           TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'retrying')),
    response_code BIGINT,
    error         TEXT,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_delivery ON webhook_deliveries (delivery_id, attempt);
