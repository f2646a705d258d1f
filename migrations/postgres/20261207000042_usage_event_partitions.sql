-- Usage events partitioned by month of their hour (UTC), so a month past the late-usage window
-- leaves by detaching its partition instead of deleting its rows. A unique index on a partitioned
-- table must contain the partition key, so the exact deduplication of event ids moves to a narrow
-- unpartitioned table of keys, written in the same transaction as the events. Each event's content
-- hash moves with its key: ingestion compares it when an id comes again, and nothing else reads it
-- but the archive.
--
-- Months are made by the server (`metering::partitions`): at start and every few minutes it makes
-- the months of the late-usage window and two ahead, moving any rows the default partition holds
-- for them. Until then every event lands in the default partition, which is where this migration
-- puts the events it moves.
alter table usage_events rename to usage_events_unpartitioned;
alter table usage_events_unpartitioned rename constraint usage_events_pkey to usage_events_unpartitioned_pkey;
drop index usage_events_by_commit;
drop index usage_events_late;

create table usage_events (
    organization_id text not null,
    event_id text not null,
    namespace_id text not null,
    metric text not null,
    quantity bigint not null check (quantity >= 0),
    occurred_at bigint not null,
    hour bigint not null,
    properties text,
    received_at bigint not null,
    late bigint not null default 0,
    commit_id bigint not null default 0,
    dimensions text
) partition by range (hour);
create table usage_events_default partition of usage_events default;
create index usage_events_by_commit on usage_events (commit_id);
create index usage_events_late on usage_events (organization_id) where late = 1;

create table usage_event_keys (
    organization_id text not null,
    event_id text not null,
    content_hash text not null,
    primary key (organization_id, event_id)
);

insert into usage_event_keys (organization_id, event_id, content_hash)
select organization_id, event_id, content_hash from usage_events_unpartitioned;
insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour, properties,
    received_at, late, commit_id, dimensions)
select organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour, properties,
    received_at, late, commit_id, dimensions
from usage_events_unpartitioned;
drop table usage_events_unpartitioned;
