-- The invoice run's work list: live subscriptions whose current period has ended. Canceled ones
-- keep a past period end forever, so they stay out of the index.
create index subscriptions_current_period_end on subscriptions(current_period_end) where status <> 'canceled';
