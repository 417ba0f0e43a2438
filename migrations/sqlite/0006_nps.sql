-- NPS: every time a customer was asked, so "at most once per period" holds even when the
-- question is ignored, and what became of each ask (answered, dismissed, reason awaited).

-- When the customer was last asked for NPS (Unix ms). Claimed with one conditional UPDATE
-- (`Store::claim_nps_ask`), so two channels or two nodes never ask the same customer twice.
ALTER TABLE customers ADD COLUMN nps_asked_at BIGINT;

-- One row per NPS question put to a customer. `occasion`: 'resolved' (after a resolved
-- conversation) or 'schedule' (the periodic job, or a widget visit of a customer who may be
-- contacted). `response_id` is set once, in the transaction that stores the answer.
CREATE TABLE nps_asks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id     BIGINT NOT NULL REFERENCES customers(id),
    channel         TEXT NOT NULL CHECK (channel IN ('web', 'telegram')),
    occasion        TEXT NOT NULL CHECK (occasion IN ('resolved', 'schedule')),
    conversation_id BIGINT REFERENCES conversations(id),
    asked_at        BIGINT NOT NULL,
    -- Telegram: the message that carries the 0-10 keyboard.
    chat_id         BIGINT,
    message_id      BIGINT,
    response_id     BIGINT UNIQUE REFERENCES survey_responses(id),
    answered_at     BIGINT,
    dismissed_at    BIGINT,
    -- Until when the chat's next plain message is taken as the reason for the score.
    reason_until    BIGINT
);
CREATE INDEX nps_asks_customer ON nps_asks (customer_id, asked_at);
