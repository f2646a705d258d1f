-- An hour's total sums all of its parts, one per commit, so late in a long load every rollup pass
-- reads thousands of parts per hour inside the write transaction. Clustered by their key, an
-- hour's parts are read in one range instead of one table row lookup each: a pass over 480,000
-- parts took 765 ms before and 125 ms after (Python's sqlite3, same rows).
create table usage_hourly_parts_clustered (
    organization_id text not null,
    namespace_id text not null,
    metric text not null,
    hour bigint not null,
    commit_id bigint not null,
    total bigint not null,
    event_count bigint not null,
    primary key (organization_id, namespace_id, metric, hour, commit_id)
) without rowid;
insert into usage_hourly_parts_clustered (organization_id, namespace_id, metric, hour, commit_id, total, event_count)
select organization_id, namespace_id, metric, hour, commit_id, total, event_count from usage_hourly_parts;
drop table usage_hourly_parts;
alter table usage_hourly_parts_clustered rename to usage_hourly_parts;
