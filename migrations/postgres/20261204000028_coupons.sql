-- Invoice lines gain discount lines, and the ledger the discounts account (given away, kept
-- apart from revenue).
alter table invoice_lines drop constraint invoice_lines_kind_check;
alter table invoice_lines add constraint invoice_lines_kind_check
    check (kind in ('base_fee', 'usage', 'proration', 'adjustment', 'discount'));
alter table ledger_entries drop constraint ledger_entries_account_check;
alter table ledger_entries add constraint ledger_entries_account_check
    check (account in ('receivable', 'revenue', 'customer_credit', 'processor_clearing', 'overpayments',
        'disputed', 'dispute_fees', 'discounts'));

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
