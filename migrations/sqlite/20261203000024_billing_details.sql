-- What invoices print about the customer: legal name, address and tax id. The billing email stays
-- on the organization, where every notice reads it.
create table billing_details (
    organization_id text primary key references organizations(id),
    legal_name text not null,
    address_line1 text not null,
    address_line2 text not null,
    city text not null,
    postal_code text not null,
    region text not null,
    country text not null,
    tax_id text not null,
    updated_at bigint not null
);
