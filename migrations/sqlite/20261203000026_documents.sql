-- A notice may carry a document rendered when it is sent: `invoice:<organization>:<invoice>`
-- or `receipt:<organization>:<payment>`.
alter table notifications add column attachment text;

-- When a payment succeeded, kept apart from `updated_at`, which refunds and disputes move: a
-- receipt prints it. Earlier successes get their last change, the closest instant on record.
alter table payments add column succeeded_at bigint;
update payments set succeeded_at = updated_at where status = 'succeeded';
