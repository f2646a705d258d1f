-- Each notification is delivered on its own: claimed with a lease (`next_attempt_at`), tried again
-- with a backoff after a temporary failure, parked for staff after a permanent one.
alter table notifications add column attempts bigint not null default 0;
alter table notifications add column next_attempt_at bigint;
alter table notifications add column parked_at bigint;
alter table notifications add column last_error text;
