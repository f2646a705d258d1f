-- Spend controls the customer sets: a monthly budget for a namespace or for the whole
-- organization, in money or in a metric's quantity, with alert thresholds and an optional hard cap.
create table budgets (
    id text primary key,
    organization_id text not null references organizations(id),
    -- A namespace's id, or '' for the whole organization (a unique key needs a value, not null).
    scope text not null,
    -- 'cost' (minor units of the period's cost so far) or a metric's key (its quantity).
    measure text not null,
    limit_amount bigint not null,
    -- Percentages of the limit, ascending and comma-separated: '50,80,100'.
    thresholds text not null,
    hard_cap bigint not null,
    -- Raised by every edit, so thresholds alert again against the edited budget.
    revision bigint not null,
    updated_at bigint not null,
    updated_by text not null,
    constraint budgets_scope_unique unique (organization_id, scope)
);

-- A threshold (kind 'alert') or the cap (kind 'cap') crossed: once per budget revision, period
-- and threshold, whichever instance saw it first and however often the rollups are recomputed.
create table budget_crossings (
    id text primary key,
    budget_id text not null references budgets(id),
    revision bigint not null,
    period_start bigint not null,
    period_end bigint not null,
    kind text not null,
    threshold bigint not null,
    organization_id text not null references organizations(id),
    -- The budget's measure when the crossing was seen.
    measured bigint not null,
    crossed_at bigint not null,
    dismissed_at bigint,
    constraint budget_crossings_once unique (budget_id, revision, period_start, kind, threshold)
);
create index budget_crossings_organization on budget_crossings(organization_id, period_end);
