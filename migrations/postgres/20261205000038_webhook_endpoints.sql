-- Webhooks to the customer: endpoints its owners register, the events written with their cause,
-- one delivery per event and endpoint, and every attempt at it.
create table webhook_endpoints (
    id text primary key,
    organization_id text not null references organizations(id),
    url text not null,
    -- The event types it receives, sorted and space-separated.
    event_types text not null,
    -- Kept as written: signing needs the secret itself, so it cannot be hashed like an API key.
    secret text not null,
    -- After a rotation the secret before it also signs, until previous_secret_until.
    previous_secret text,
    previous_secret_until bigint,
    disabled_at bigint,
    disabled_reason text,
    -- Since when every attempt has failed; cleared by a success.
    failing_since bigint,
    created_at bigint not null,
    created_by text not null
);
create index webhook_endpoints_organization on webhook_endpoints(organization_id);

create table webhook_events (
    -- Also each delivery's webhook-id, so a receiver can tell a retry from a new event.
    id text primary key,
    organization_id text not null references organizations(id),
    event_type text not null,
    -- With event_type, unique: a step that runs again announces nothing twice.
    reference text not null,
    payload text not null,
    created_at bigint not null,
    constraint webhook_events_once unique (event_type, reference)
);

create table webhook_deliveries (
    id text primary key,
    event_id text not null references webhook_events(id),
    endpoint_id text not null references webhook_endpoints(id),
    organization_id text not null references organizations(id),
    -- 'pending', 'delivered' or 'failed'.
    status text not null,
    attempts bigint not null,
    -- When it is due (or, while an attempt is under way, when its lease lapses); null once settled.
    next_attempt_at bigint,
    created_at bigint not null,
    settled_at bigint,
    last_status_code bigint,
    last_error text,
    constraint webhook_deliveries_once unique (event_id, endpoint_id)
);
create index webhook_deliveries_due on webhook_deliveries(next_attempt_at);
create index webhook_deliveries_endpoint on webhook_deliveries(endpoint_id, created_at);

create table webhook_attempts (
    id text primary key,
    delivery_id text not null references webhook_deliveries(id),
    attempted_at bigint not null,
    -- The endpoint's HTTP status, or null when no answer came (refused, timed out, unsafe address).
    status_code bigint,
    error text,
    duration_ms bigint not null
);
create index webhook_attempts_delivery on webhook_attempts(delivery_id, attempted_at);
