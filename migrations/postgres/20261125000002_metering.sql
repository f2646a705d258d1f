-- Metering: the metrics catalog, append-only usage events, durable dirty marks and hourly rollups.
create table metrics (
    key text primary key,
    display_name text not null,
    unit text not null,
    aggregation text not null check (aggregation in ('sum')),
    -- quantities are integers in the metric's smallest unit; this many make one display unit
    units_per_display bigint not null,
    display_unit text not null
);
insert into metrics (key, display_name, unit, aggregation, units_per_display, display_unit) values
    ('actions', 'Actions', 'action', 'sum', 1, 'actions'),
    ('active_storage_gbh', 'Active storage', 'milli-GBh', 'sum', 1000, 'GBh'),
    ('retained_storage_gbh', 'Retained storage', 'milli-GBh', 'sum', 1000, 'GBh');

-- Usage before this instant belongs to a billing period already finalized; events for it are `late`.
alter table organizations add column usage_closed_before bigint not null default 0;

-- Append-only: no code path updates or deletes a row.
create table usage_events (
    organization_id text not null references organizations(id),
    event_id text not null,
    namespace_id text not null references namespaces(id),
    metric text not null references metrics(key),
    quantity bigint not null check (quantity >= 0),
    occurred_at bigint not null,
    hour bigint not null,
    properties text,
    content_hash text not null,
    received_at bigint not null,
    late bigint not null default 0,
    primary key (organization_id, event_id)
);
create index usage_events_rollup on usage_events(organization_id, namespace_id, metric, hour);

-- An hour whose total must be recomputed. `generation` changes at every new mark, so the worker
-- only clears a mark that no event touched since it read it.
create table usage_dirty_hours (
    organization_id text not null,
    namespace_id text not null,
    metric text not null,
    hour bigint not null,
    generation text not null,
    marked_at bigint not null,
    primary key (organization_id, namespace_id, metric, hour)
);
create index usage_dirty_hours_marked_at on usage_dirty_hours(marked_at);

create table usage_hourly (
    organization_id text not null,
    namespace_id text not null,
    metric text not null,
    hour bigint not null,
    total bigint not null,
    event_count bigint not null,
    computed_at bigint not null,
    primary key (organization_id, namespace_id, metric, hour)
);

