-- People who receive an organization's invoices and payment notices without logging in, beside
-- its billing email.
create table billing_contacts (
    organization_id text not null references organizations(id),
    email text not null,
    added_by text not null,
    created_at bigint not null,
    primary key (organization_id, email)
);
