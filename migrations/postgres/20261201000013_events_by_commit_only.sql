-- The rollup worker finds a commit's events by its number alone and groups them by hour itself.
-- The index of (organization, namespace, metric, hour, commit, quantity) cost every inserted event
-- a wide entry in the middle of the tree: without it, the database inserts events 1.7 times as fast.
-- Commit numbers only grow, so the narrow index is only ever appended to.
drop index usage_events_by_commit;
create index usage_events_by_commit on usage_events(commit_id);
