-- SQLite cannot alter a check constraint: invoice lines are rebuilt to allow discount lines, and
-- ledger entries to allow the discounts account (given away, kept apart from revenue).
create table invoice_lines_next (
    invoice_id text not null references invoices(id),
    position bigint not null,
    kind text not null check (kind in ('base_fee', 'usage', 'proration', 'adjustment', 'discount')),
    description text not null,
    namespace_id text,
    metric text,
    tier bigint,
    quantity bigint not null,
    unit_price_minor bigint,
    unit_price_per bigint,
    amount_minor bigint not null,
    -- the exact amount before the line's one rounding, for audit
    unrounded text not null,
    -- usage and adjustment lines: the usage period they were rated from
    usage_from bigint,
    usage_to bigint,
    primary key (invoice_id, position)
);
insert into invoice_lines_next select * from invoice_lines;
drop table invoice_lines;
alter table invoice_lines_next rename to invoice_lines;

create table ledger_entries_next (
    transaction_id text not null references ledger_transactions(id),
    account text not null check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing',
        'overpayments', 'disputed', 'dispute_fees', 'discounts')),
    -- debit positive, credit negative, minor units
    amount_minor bigint not null,
    primary key (transaction_id, account)
);
insert into ledger_entries_next (transaction_id, account, amount_minor)
    select transaction_id, account, amount_minor from ledger_entries;
drop table ledger_entries;
alter table ledger_entries_next rename to ledger_entries;

-- Coupons staff create and the promotion codes customers type to redeem them. A coupon takes a
-- percentage or a fixed amount off an invoice, once, for a number of invoices, or forever; it
-- may be limited to plans, to a date, and to a number of redemptions. Each organization redeems
-- a coupon at most once; the counters are raised in the redeeming transaction, guarded by
-- their limit, so concurrent redemptions never pass it.
create table coupons (
    id text primary key,
    name text not null,
    percent_off bigint check (percent_off between 1 and 100),
    amount_off_minor bigint check (amount_off_minor > 0),
    -- the currency of an amount off; a percentage applies in any currency
    currency text,
    duration text not null check (duration in ('once', 'repeating', 'forever')),
    -- invoices discounted, for a repeating coupon
    duration_invoices bigint check (duration_invoices > 0),
    redeem_by bigint,
    max_redemptions bigint check (max_redemptions > 0),
    times_redeemed bigint not null default 0,
    created_by text not null,
    created_at bigint not null,
    check ((percent_off is null) <> (amount_off_minor is null)),
    check ((amount_off_minor is null) = (currency is null)),
    check ((duration = 'repeating') = (duration_invoices is not null)),
    check (max_redemptions is null or times_redeemed <= max_redemptions)
);

-- A coupon limited to plans applies only while the subscription is on one of them.
create table coupon_plans (
    coupon_id text not null references coupons(id),
    plan_id text not null references plans(id),
    primary key (coupon_id, plan_id)
);

create table promotion_codes (
    id text primary key,
    coupon_id text not null references coupons(id),
    -- upper case, as customers may type it in any case
    code text not null unique,
    redeem_by bigint,
    max_redemptions bigint check (max_redemptions > 0),
    times_redeemed bigint not null default 0,
    created_by text not null,
    created_at bigint not null,
    check (max_redemptions is null or times_redeemed <= max_redemptions)
);
create index promotion_codes_coupon on promotion_codes(coupon_id);

create table coupon_redemptions (
    id text primary key,
    coupon_id text not null references coupons(id),
    promotion_code_id text not null references promotion_codes(id),
    organization_id text not null references organizations(id),
    redeemed_by text not null,
    redeemed_at bigint not null,
    unique (coupon_id, organization_id)
);
create index coupon_redemptions_organization on coupon_redemptions(organization_id);

-- The discount a finalized invoice received, one per invoice; a repeating coupon counts them.
create table discount_applications (
    invoice_id text primary key references invoices(id),
    redemption_id text not null references coupon_redemptions(id),
    amount_minor bigint not null check (amount_minor > 0)
);
create index discount_applications_redemption on discount_applications(redemption_id);
