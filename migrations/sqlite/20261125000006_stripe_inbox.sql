-- Stripe webhook events, stored once by event id before they are answered, and processed later
-- by a worker that reads them from here (so an event is never lost or applied twice).
create table stripe_events (
    id text primary key,
    event_type text not null,
    -- Stripe's creation time, unix seconds: orders events of one object
    created bigint not null,
    livemode bigint not null,
    payload text not null,
    received_at bigint not null,
    status text not null check (status in ('pending', 'processed', 'ignored', 'failed', 'parked')),
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    last_error text,
    processed_at bigint
);
create index stripe_events_due on stripe_events(status, next_attempt_at);
