-- Staff (owners and agents), their sessions, the handoff queue, private notes, agents' tasks,
-- customer consent, and the value scores the platform stores per customer.

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'agent')),
    -- argon2id PHC string; NULL until an invited user sets a password.
    password_hash TEXT,
    capacity      BIGINT NOT NULL DEFAULT 5 CHECK (capacity BETWEEN 1 AND 100),
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL
);

-- One-time invitation links (SHA-256 of the token).
CREATE TABLE staff_invites (
    token_hash TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff(id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Login sessions (SHA-256 of the cookie's token) with their CSRF token.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- The queue: who owns a conversation, since when it waits for a person, and why.
ALTER TABLE conversations ADD COLUMN assigned_to BIGINT REFERENCES staff(id);
ALTER TABLE conversations ADD COLUMN waiting_since BIGINT;
ALTER TABLE conversations ADD COLUMN handoff_reason TEXT;
ALTER TABLE conversations ADD COLUMN first_response_at BIGINT;
CREATE INDEX conversations_assigned ON conversations (assigned_to, state);

-- Which agent wrote an agent message.
ALTER TABLE messages ADD COLUMN staff_id BIGINT REFERENCES staff(id);

-- Private notes agents leave on a conversation; never shown to the customer.
CREATE TABLE notes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    staff_id        BIGINT NOT NULL REFERENCES staff(id),
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, id);

-- Work for agents that is not a live chat: at-risk outreach, detractor follow-up, messages left
-- outside business hours. At most one open task per (kind, customer).
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    customer_id     BIGINT REFERENCES customers(id),
    conversation_id BIGINT REFERENCES conversations(id),
    title           TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    assigned_to     BIGINT REFERENCES staff(id),
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    done_by         BIGINT REFERENCES staff(id)
);
CREATE INDEX tasks_state ON tasks (state, created_at);
CREATE UNIQUE INDEX tasks_one_open ON tasks (kind, customer_id) WHERE state = 'open';

-- Consent: proactive messages only with consent; an opt-out (/stop, widget) stops proactive
-- messages and surveys.
ALTER TABLE customers ADD COLUMN contact_consent_at BIGINT;
ALTER TABLE customers ADD COLUMN opted_out_at BIGINT;

-- The latest value scores per customer (BG/NBD + Gamma-Gamma + churn risk), with the model
-- version and fit time they came from. `at_risk` is 0 or 1; `reasons` a JSON array of strings.
CREATE TABLE customer_scores (
    customer_id        BIGINT PRIMARY KEY REFERENCES customers(id),
    model_version      TEXT NOT NULL,
    fitted_at          BIGINT NOT NULL,
    scored_at          BIGINT NOT NULL,
    p_alive            DOUBLE PRECISION,
    expected_purchases DOUBLE PRECISION,
    clv                DOUBLE PRECISION,
    segment            TEXT NOT NULL CHECK (segment IN ('high', 'mid', 'low')),
    churn_risk         DOUBLE PRECISION NOT NULL,
    at_risk            BIGINT NOT NULL DEFAULT 0,
    reasons            TEXT NOT NULL DEFAULT '[]'
);

-- Survey answers: CSAT (1 to 5) after a resolved conversation, NPS (0 to 10) at most once per
-- customer per period. The comment is the optional follow-up ("What is the main reason…").
CREATE TABLE survey_responses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('csat', 'nps')),
    customer_id     BIGINT NOT NULL REFERENCES customers(id),
    conversation_id BIGINT REFERENCES conversations(id),
    channel         TEXT NOT NULL CHECK (channel IN ('web', 'telegram')),
    score           BIGINT NOT NULL CHECK (score BETWEEN 0 AND 10),
    comment         TEXT,
    comment_sentiment DOUBLE PRECISION,
    created_at      BIGINT NOT NULL,
    UNIQUE (kind, conversation_id)
);
CREATE INDEX survey_responses_customer ON survey_responses (customer_id, kind, created_at);
CREATE INDEX survey_responses_time ON survey_responses (kind, created_at);
