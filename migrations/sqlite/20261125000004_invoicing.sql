-- Subscription lifecycle, plan changes with their proration record, invoices, credits and the
-- double-entry ledger.

-- The period being metered now; advanced in the same transaction that drafts the previous one's invoice.
alter table subscriptions add column current_period_start bigint not null default 0;
alter table subscriptions add column current_period_end bigint not null default 0;
alter table subscriptions add column trial_ends_at bigint;
-- Set when the owner cancels: the subscription ends with the period that contains this instant.
alter table subscriptions add column cancel_requested_at bigint;

-- Every status change and who or what caused it.
create table subscription_transitions (
    id text primary key,
    subscription_id text not null references subscriptions(id),
    from_status text not null,
    to_status text not null,
    cause text not null,
    actor text not null,
    at bigint not null
);
create index subscription_transitions_subscription on subscription_transitions(subscription_id, at);

-- A plan change and every input of its proration, so an auditor can recompute it.
create table plan_changes (
    id text primary key,
    subscription_id text not null references subscriptions(id),
    from_version_id text not null references plan_versions(id),
    to_version_id text not null references plan_versions(id),
    direction text not null check (direction in ('upgrade', 'downgrade')),
    status text not null check (status in ('pending', 'applied')),
    requested_by text not null,
    requested_at bigint not null,
    effective_at bigint not null,
    period_start bigint not null,
    period_end bigint not null,
    remaining_seconds bigint not null,
    period_seconds bigint not null,
    old_base_fee_minor bigint not null,
    new_base_fee_minor bigint not null,
    credit_minor bigint not null,
    charge_minor bigint not null,
    net_minor bigint not null,
    credit_unrounded text not null,
    charge_unrounded text not null
);
create index plan_changes_subscription on plan_changes(subscription_id, effective_at);
-- At most one change waits for a period end.
create unique index plan_changes_one_pending on plan_changes(subscription_id) where status = 'pending';

create table invoices (
    id text primary key,
    organization_id text not null references organizations(id),
    subscription_id text not null references subscriptions(id),
    period_start bigint not null,
    period_end bigint not null,
    status text not null check (status in ('draft', 'finalized', 'open', 'paid', 'uncollectible', 'void')),
    -- gapless per organization and year, assigned at finalization
    number text,
    currency text not null,
    subtotal_minor bigint not null,
    credit_applied_minor bigint not null default 0,
    -- what the customer owes: subtotal less credit, never below zero
    amount_due_minor bigint not null,
    rated_at bigint not null,
    finalize_after bigint not null,
    due_at bigint,
    created_at bigint not null,
    finalized_at bigint,
    paid_at bigint,
    voided_at bigint,
    void_reason text,
    unique (subscription_id, period_start)
);
create unique index invoices_number on invoices(organization_id, number);
create index invoices_status on invoices(status, finalize_after);
create index invoices_organization on invoices(organization_id, period_start);

create table invoice_lines (
    invoice_id text not null references invoices(id),
    position bigint not null,
    kind text not null check (kind in ('base_fee', 'usage', 'proration', 'adjustment')),
    description text not null,
    namespace_id text,
    metric text,
    tier bigint,
    quantity bigint not null,
    unit_price_minor bigint,
    unit_price_per bigint,
    amount_minor bigint not null,
    -- the exact amount before the line's one rounding, for audit
    unrounded text not null,
    -- usage and adjustment lines: the usage period they were rated from
    usage_from bigint,
    usage_to bigint,
    primary key (invoice_id, position)
);

create table invoice_number_sequences (
    organization_id text not null references organizations(id),
    year bigint not null,
    last_number bigint not null,
    primary key (organization_id, year)
);

create table credits (
    id text primary key,
    organization_id text not null references organizations(id),
    amount_minor bigint not null check (amount_minor > 0),
    reason text not null,
    expires_at bigint,
    idempotency_key text not null,
    created_by text not null,
    created_at bigint not null,
    unique (organization_id, idempotency_key)
);

create table credit_applications (
    credit_id text not null references credits(id),
    invoice_id text not null references invoices(id),
    amount_minor bigint not null check (amount_minor > 0),
    primary key (credit_id, invoice_id)
);

-- Append-only. One transaction per cause (`kind` + `reference`), so a retried cause posts once.
create table ledger_transactions (
    id text primary key,
    organization_id text not null references organizations(id),
    kind text not null,
    reference text not null,
    at bigint not null,
    unique (kind, reference)
);
create table ledger_entries (
    transaction_id text not null references ledger_transactions(id),
    account text not null check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing')),
    -- debit positive, credit negative, minor units
    amount_minor bigint not null,
    primary key (transaction_id, account)
);
