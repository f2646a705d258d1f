-- Unknown promotion codes an organization typed, so guessing codes is limited per organization.
create table promotion_code_misses (
    organization_id text not null references organizations(id),
    at bigint not null
);
create index promotion_code_misses_organization on promotion_code_misses(organization_id, at);
