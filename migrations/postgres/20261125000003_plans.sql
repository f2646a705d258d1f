-- The plan catalog and one subscription per organization.
create table plans (
    id text primary key,
    name text not null unique,
    created_at bigint not null
);

-- Immutable once created: a price change is a new version.
create table plan_versions (
    id text primary key,
    plan_id text not null references plans(id),
    version bigint not null,
    currency text not null,
    base_fee_minor bigint not null,
    -- metric prices (included units, pricing model) as JSON, see server/src/domain/rating.rs
    prices_json text not null,
    created_at bigint not null,
    unique (plan_id, version)
);

create table subscriptions (
    id text primary key,
    organization_id text not null unique references organizations(id),
    plan_version_id text not null references plan_versions(id),
    status text not null check (status in ('trialing', 'active', 'past_due', 'suspended', 'canceled')),
    -- billing periods are calendar months anchored at this instant's day and time
    anchor_at bigint not null,
    created_at bigint not null
);
