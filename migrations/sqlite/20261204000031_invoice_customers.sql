-- The customer's name, address, tax id and billing email as they were when each invoice was
-- finalized: an issued invoice's document never changes with later edits.
create table invoice_customers (
    invoice_id text primary key references invoices(id),
    organization_name text not null,
    legal_name text not null,
    address_line1 text not null,
    address_line2 text not null,
    city text not null,
    postal_code text not null,
    region text not null,
    country text not null,
    tax_id text not null,
    billing_email text not null
);
