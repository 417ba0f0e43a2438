-- Learning from operations: an agent links a knowledge-base article to a customer question the
-- bot did not answer; an owner approves (the question becomes an example question of the
-- article) or rejects it.

CREATE TABLE kb_suggestions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The customer's question as they wrote it, and its normalised form (lowercase, single
    -- spaces) that keeps the same question from being suggested for the same article twice.
    question        TEXT NOT NULL CHECK (length(question) > 0),
    question_key    TEXT NOT NULL,
    article_id      TEXT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    message_id      BIGINT NOT NULL REFERENCES messages(id),
    suggested_by    BIGINT NOT NULL REFERENCES staff(id),
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by      BIGINT REFERENCES staff(id),
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    UNIQUE (question_key, article_id)
);
CREATE INDEX kb_suggestions_state ON kb_suggestions (state, id);
CREATE INDEX kb_suggestions_message ON kb_suggestions (message_id);
