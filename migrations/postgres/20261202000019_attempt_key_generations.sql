-- When an attempt's current idempotency key was first sent: Stripe forgets a key 24 hours after
-- its first use, so an attempt of unknown outcome older than that is looked up before it is sent
-- again, and then only under a key that names a new generation of the attempt.
alter table payments add column key_sent_at bigint;
update payments set key_sent_at = created_at;
-- The test-mode processor finds a charge by our payment id, as Stripe's search does.
alter table test_mode_charges add column payment_id text;
create index test_mode_charges_payment on test_mode_charges(payment_id);
