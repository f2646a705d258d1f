-- Each comparison of the processor's records with ours: the daily one (id `day-YYYY-MM-DD`,
-- claimed by inserting it, so several instances run it once) and those `server reconcile
-- --processor` runs. The next one reads from where the last finished one started.
create table processor_checks (
    id text primary key,
    started_at bigint not null,
    since bigint not null,
    finished_at bigint,
    events_recovered bigint not null default 0,
    charges_checked bigint not null default 0,
    discrepancies bigint not null default 0,
    detail text not null default ''
);
create index processor_checks_finished on processor_checks(finished_at);
