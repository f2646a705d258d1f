-- A part covers the commits first_commit_id..commit_id of its hour. The rollup worker folds an
-- hour's settled parts into one per bucket of commits, so an hour's total sums a few parts instead
-- of one per commit since the hour began (20,000 per hour late in a 10-million-event load). A
-- folded part is still a sum over events: marked again, it is recomputed from its range's events.
alter table usage_hourly_parts add column first_commit_id bigint not null default 0;
update usage_hourly_parts set first_commit_id = commit_id;
