-- A payment that succeeds for an invoice no longer owed (another attempt paid it, or staff voided
-- it meanwhile) is money the customer does not owe: it is held in its own ledger account and
-- refunded.
alter table ledger_entries drop constraint ledger_entries_account_check;
alter table ledger_entries add constraint ledger_entries_account_check
    check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing', 'overpayments'));

-- The durable order to give an overpayment back, claimed with a lease by the payments job and
-- sent to the processor under a key of its own, so a retry never refunds twice.
create table overpayment_refunds (
    payment_id text primary key references payments(id),
    organization_id text not null references organizations(id),
    amount_minor bigint not null check (amount_minor > 0),
    status text not null check (status in ('due', 'sent')),
    processor_refund_id text,
    lease_until bigint,
    last_error text,
    created_at bigint not null,
    updated_at bigint not null
);
create index overpayment_refunds_due on overpayment_refunds(status, lease_until);
