-- The Telegram channel: small cursors it keeps across restarts, the CSAT prompts it sent, and the
-- one-time codes that link a widget customer to a Telegram chat.

-- Named counters: `update_offset` (the last Telegram update processed) and `outbox_delivered`
-- (the highest message id delivered to a chat).
CREATE TABLE telegram_cursors (
    name       TEXT PRIMARY KEY,
    value      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A survey question sent to a chat; one per (kind, conversation) so a restart never asks twice.
CREATE TABLE telegram_survey_prompts (
    kind            TEXT NOT NULL CHECK (kind IN ('csat', 'nps')),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT,
    asked_at        BIGINT NOT NULL,
    PRIMARY KEY (kind, conversation_id)
);

-- One-time link codes (SHA-256 of the code): short-lived, single use.
CREATE TABLE link_codes (
    code_hash   TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX link_codes_customer ON link_codes (customer_id);
