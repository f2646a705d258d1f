-- A customer whose subscription ended can subscribe again: a new subscription, with a new period,
-- beside the old one and its invoices. One subscription runs at a time (a new one only once the
-- last has ended). Usage from before the new one's start is refused (`usage_starts_at`): the gap
-- and the old periods are billed already.
alter table subscriptions drop constraint subscriptions_organization_id_key;
create index subscriptions_organization on subscriptions(organization_id, created_at);
-- Canceled before `ended_at` was kept: they ended with their current period.
update subscriptions set ended_at = current_period_end where status = 'canceled' and ended_at is null;
create unique index subscriptions_one_running on subscriptions(organization_id) where ended_at is null;
alter table organizations add column usage_starts_at bigint;
