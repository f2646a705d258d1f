-- An hour's total sums all of its parts, one per commit, so late in a long load every rollup pass
-- reads thousands of parts per hour. With the totals in the key's index, the sum reads the index
-- range alone (pages that vacuum marked all-visible) instead of one heap row per part.
alter table usage_hourly_parts drop constraint usage_hourly_parts_pkey;
alter table usage_hourly_parts add primary key (organization_id, namespace_id, metric, hour, commit_id)
    include (total, event_count);
