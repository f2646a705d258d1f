-- Chargebacks: a dispute per Stripe dispute id, tied to our payment and invoice. The ledger gains
-- the money held by the card network while a dispute is open and the fees disputes cost; SQLite
-- cannot alter a check constraint, so the entries table is rebuilt with both accounts allowed.
create table ledger_entries_next (
    transaction_id text not null references ledger_transactions(id),
    account text not null check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing',
        'overpayments', 'disputed', 'dispute_fees')),
    -- debit positive, credit negative, minor units
    amount_minor bigint not null,
    primary key (transaction_id, account)
);
insert into ledger_entries_next (transaction_id, account, amount_minor)
    select transaction_id, account, amount_minor from ledger_entries;
drop table ledger_entries;
alter table ledger_entries_next rename to ledger_entries;

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
