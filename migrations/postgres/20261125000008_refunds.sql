-- Refunds made through the built-in test-mode processor, unique by idempotency key like a real
-- processor's, and the running refunded amount of each of its charges.
alter table test_mode_charges add column refunded_minor bigint not null default 0;

create table test_mode_refunds (
    idempotency_key text primary key,
    refund_id text not null unique,
    payment_intent_id text not null references test_mode_charges(payment_intent_id),
    amount_minor bigint not null check (amount_minor > 0),
    created_at bigint not null
);
