-- A rollup mark whose hour cannot be summed (a total beyond 64 bits) is moved here with the
-- error, so it no longer holds back every other mark; staff see it on the operations view.
create table usage_rollups_set_aside (
    organization_id text not null,
    namespace_id text not null,
    metric text not null,
    hour bigint not null,
    commit_id bigint not null,
    marked_at bigint not null,
    set_aside_at bigint not null,
    error text not null,
    primary key (organization_id, namespace_id, metric, hour, commit_id)
);
