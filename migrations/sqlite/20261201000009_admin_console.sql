-- The staff console: customer search by prefix, the organization each Stripe event concerns, and
-- the record of reconciliation runs shown on the operations view.

-- Prefix search compares lower-cased text byte-wise (`>= prefix and < prefix || U+10FFFF`).
create index organizations_name_search on organizations(lower(name), id);
create index organizations_email_search on organizations(lower(billing_email));
create index invoices_number_search on invoices(number);

-- Found when the event is processed; null for events about nothing of ours.
alter table stripe_events add column organization_id text;
create index stripe_events_organization on stripe_events(organization_id, received_at);

create table reconcile_runs (
    id text primary key,
    started_at bigint not null,
    finished_at bigint not null,
    invoices_checked bigint not null,
    mismatches bigint not null,
    -- the first mismatches found, one per line
    detail text not null
);
create index reconcile_runs_finished_at on reconcile_runs(finished_at);

-- One row per ingestion commit, kept for a day: the ingestion rate and watermark of the
-- operations view, across every instance.
create table ingest_commits (
    id text primary key,
    at bigint not null,
    events bigint not null,
    newest_event_at bigint not null
);
create index ingest_commits_at on ingest_commits(at);
