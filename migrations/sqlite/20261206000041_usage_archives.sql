-- Months of usage events moved out of the database by `server archive`, one compressed CSV file
-- each. Reconciliation reads a month's events from its file, checked against `sha256`.
create table usage_archives (
    month_start bigint primary key,
    month_end bigint not null,
    path text not null,
    events bigint not null,
    quantity bigint not null,
    sha256 text not null,
    archived_at bigint not null
);
