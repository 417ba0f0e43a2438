-- Foundation data model. Times are Unix milliseconds (BIGINT) on both backends so one set of
-- queries serves SQLite and PostgreSQL.

CREATE TABLE customers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id  TEXT UNIQUE,
    display_name TEXT,
    email        TEXT,
    created_at   BIGINT NOT NULL
);

-- One row per channel identity: a web visitor (keyed by the SHA-256 of its visitor token) or a
-- Telegram chat (keyed by the chat id).
CREATE TABLE identities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  BIGINT NOT NULL REFERENCES customers(id),
    channel      TEXT NOT NULL CHECK (channel IN ('web', 'telegram')),
    external_key TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (channel, external_key)
);

CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id       BIGINT NOT NULL REFERENCES customers(id),
    channel           TEXT NOT NULL CHECK (channel IN ('web', 'telegram')),
    state             TEXT NOT NULL CHECK (state IN ('bot', 'waiting', 'agent', 'resolved')),
    unanswered_streak BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_id, id);
CREATE INDEX conversations_state ON conversations (state, updated_at);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    author          TEXT NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'system')),
    body            TEXT NOT NULL,
    client_id       TEXT,
    article_id      TEXT,
    sentiment       DOUBLE PRECISION,
    meta            TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, client_id)
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE articles (
    id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    title      TEXT NOT NULL CHECK (length(title) > 0),
    answer     TEXT NOT NULL,
    questions  TEXT NOT NULL DEFAULT '[]',
    tags       TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL
);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    conversation_id BIGINT,
    customer_id     BIGINT,
    data            TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_kind_time ON events (kind, created_at);
