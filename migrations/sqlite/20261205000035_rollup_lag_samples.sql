-- The rollup backlog as each instance samples it every few seconds, the largest per minute, kept
-- a day: the operations view's rollup lag over time.
create table rollup_lag_samples (
    minute bigint primary key,
    lag_ms bigint not null,
    dirty_hours bigint not null
);
