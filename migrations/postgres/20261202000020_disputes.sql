-- Chargebacks: a dispute per Stripe dispute id, tied to our payment and invoice. The ledger gains
-- the money held by the card network while a dispute is open and the fees disputes cost.
alter table ledger_entries drop constraint ledger_entries_account_check;
alter table ledger_entries add constraint ledger_entries_account_check
    check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing', 'overpayments',
        'disputed', 'dispute_fees'));

create table disputes (
    id text primary key,
    payment_id text not null references payments(id),
    invoice_id text not null references invoices(id),
    organization_id text not null references organizations(id),
    amount_minor bigint not null,
    currency text not null,
    reason text not null,
    status text not null,
    evidence_due_by bigint,
    -- the `created` time of the newest event applied: an older one never overwrites it
    event_created bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index disputes_organization on disputes(organization_id);
create index disputes_open on disputes(status, evidence_due_by);
