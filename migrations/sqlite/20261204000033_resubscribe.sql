-- A customer whose subscription ended can subscribe again: a new subscription, with a new period,
-- beside the old one and its invoices. One subscription runs at a time (a new one only once the
-- last has ended). Usage from before the new one's start is refused (`usage_starts_at`): the gap
-- and the old periods are billed already. SQLite cannot drop the unique constraint, and other
-- tables point at subscriptions: inside this transaction foreign keys are checked at commit, the
-- rows are kept aside, the table is made again and the rows put back, so every reference to a
-- subscription finds it again before the check.
pragma defer_foreign_keys = on;
create table subscriptions_kept as select * from subscriptions;
create table subscriptions_next (
    id text primary key,
    organization_id text not null references organizations(id),
    plan_version_id text not null references plan_versions(id),
    status text not null check (status in ('trialing', 'active', 'past_due', 'suspended', 'canceled')),
    anchor_at bigint not null,
    created_at bigint not null,
    current_period_start bigint not null default 0,
    current_period_end bigint not null default 0,
    trial_ends_at bigint,
    cancel_requested_at bigint,
    ended_at bigint
);
drop table subscriptions;
alter table subscriptions_next rename to subscriptions;
insert into subscriptions (id, organization_id, plan_version_id, status, anchor_at, created_at,
        current_period_start, current_period_end, trial_ends_at, cancel_requested_at, ended_at)
    select id, organization_id, plan_version_id, status, anchor_at, created_at, current_period_start,
        current_period_end, trial_ends_at, cancel_requested_at, ended_at
    from subscriptions_kept;
drop table subscriptions_kept;
create index subscriptions_current_period_end on subscriptions(current_period_end) where status <> 'canceled';
create index subscriptions_ended on subscriptions(ended_at) where ended_at is not null;
create index subscriptions_organization on subscriptions(organization_id, created_at);
-- Canceled before `ended_at` was kept: they ended with their current period.
update subscriptions set ended_at = current_period_end where status = 'canceled' and ended_at is null;
create unique index subscriptions_one_running on subscriptions(organization_id) where ended_at is null;
alter table organizations add column usage_starts_at bigint;
