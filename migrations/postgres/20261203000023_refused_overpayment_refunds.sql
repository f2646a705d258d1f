-- An overpayment refund the processor refused (the charge is gone, or refunded already) is not
-- asked for again; it waits for staff, who refund it by hand in the processor's dashboard.
alter table overpayment_refunds add column refused_at bigint;
