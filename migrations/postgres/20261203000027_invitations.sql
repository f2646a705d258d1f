-- Invitations to join an organization: a one-time link mailed to the address (only its hash is
-- kept), valid for a week, used once. One pending invitation per organization and address.
create table invitations (
    id text primary key,
    organization_id text not null references organizations(id),
    email text not null,
    role text not null check (role in ('owner', 'member')),
    token_hash text not null unique,
    invited_by text not null,
    created_at bigint not null,
    expires_at bigint not null,
    accepted_at bigint,
    revoked_at bigint
);
create unique index invitations_pending on invitations(organization_id, email)
    where accepted_at is null and revoked_at is null;
