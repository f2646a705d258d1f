-- Payments: who pays with what, every charge attempt, collection and dunning timers, the
-- customer notifications they cause, and the built-in test-mode processor's own records.

-- The processor's customer and the default payment method of each organization.
create table payment_profiles (
    organization_id text primary key references organizations(id),
    channel text not null,
    customer_id text not null,
    payment_method_id text,
    brand text,
    last4 text,
    exp_month bigint,
    exp_year bigint,
    -- the processor's time of the change that set the method: an older event never overwrites it
    method_set_at bigint not null default 0,
    updated_at bigint not null
);
create unique index payment_profiles_customer on payment_profiles(channel, customer_id);

-- One row per charge attempt, written before the processor is called, so a retry after a crash
-- finds the pending attempt and sends the same idempotency key.
create table payments (
    id text primary key,
    invoice_id text not null references invoices(id),
    organization_id text not null references organizations(id),
    attempt bigint not null,
    idempotency_key text not null unique,
    amount_minor bigint not null check (amount_minor > 0),
    currency text not null,
    payment_method_id text not null,
    status text not null check (status in ('pending', 'succeeded', 'failed')),
    processor_payment_id text,
    failure_code text,
    failure_message text,
    refunded_minor bigint not null default 0,
    trigger text not null,
    created_at bigint not null,
    updated_at bigint not null,
    constraint payments_attempt_unique unique (invoice_id, attempt)
);
create index payments_processor on payments(processor_payment_id);

-- The durable timer that collects one invoice: its first charge, then the dunning steps.
create table collections (
    invoice_id text primary key references invoices(id),
    organization_id text not null references organizations(id),
    subscription_id text not null references subscriptions(id),
    status text not null default 'collecting'
        check (status in ('collecting', 'past_due', 'paid', 'stopped', 'canceled')),
    -- when dunning started (the first failed charge); null while collecting normally
    dunning_started_at bigint,
    -- the next dunning step to run, an index into the configured schedule
    dunning_step bigint not null default 0,
    next_run_at bigint not null,
    lease_until bigint,
    updated_at bigint not null
);
create index collections_due on collections(status, next_run_at);
create index collections_organization on collections(organization_id);

-- What happened while collecting: the timeline the customer and staff see.
create table collection_events (
    id text primary key,
    invoice_id text not null references invoices(id),
    organization_id text not null references organizations(id),
    at bigint not null,
    kind text not null,
    detail text not null
);
create index collection_events_invoice on collection_events(invoice_id, at);

-- Customer notifications, written in the transaction of their cause and delivered after commit.
create table notifications (
    id text primary key,
    organization_id text not null references organizations(id),
    kind text not null,
    reference text not null,
    recipient text not null,
    subject text not null,
    body text not null,
    created_at bigint not null,
    delivered_at bigint,
    delivery text,
    constraint notifications_once unique (kind, reference)
);
create index notifications_undelivered on notifications(delivered_at);

alter table namespaces add column suspended_at bigint;

-- The built-in test-mode processor keeps its cards and charges like a processor would, so its
-- idempotency holds across restarts too.
create table test_mode_payment_methods (
    id text primary key,
    customer_id text not null,
    card_number_last4 text not null,
    behaviour text not null,
    brand text not null,
    exp_month bigint not null,
    exp_year bigint not null,
    created_at bigint not null
);

create table test_mode_charges (
    idempotency_key text primary key,
    payment_intent_id text not null unique,
    customer_id text not null,
    payment_method_id text,
    amount_minor bigint not null,
    currency text not null,
    status text not null,
    failure_code text,
    failure_message text,
    created_at bigint not null
);
