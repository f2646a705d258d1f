-- When a subscription was canceled in the middle of its period (dunning's last step): the invoice
-- run closes that period at this instant with a final invoice, as it closes any other period.
alter table subscriptions add column ended_at bigint;
create index subscriptions_ended on subscriptions(ended_at) where ended_at is not null;
-- Usage that happens after the organization's subscription ended is refused at ingestion: no
-- period would ever bill it.
alter table organizations add column usage_ends_at bigint;
