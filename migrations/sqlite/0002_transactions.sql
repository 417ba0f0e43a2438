-- Purchases, for customer value (CLTV, BG/NBD). Customers are matched to chat customers by
-- customers.external_id (the shop's own customer id).
CREATE TABLE transactions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    occurred_on TEXT NOT NULL CHECK (length(occurred_on) = 10),
    amount      DOUBLE PRECISION NOT NULL CHECK (amount >= 0),
    order_id    TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (customer_id, order_id)
);
CREATE INDEX transactions_customer ON transactions (customer_id, occurred_on);
