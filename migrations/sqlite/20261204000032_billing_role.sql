-- The billing role: sees invoices and payments and keeps the card and billing details, but
-- changes nothing else. SQLite cannot alter a check constraint: memberships and invitations are
-- rebuilt with the role allowed (nothing references either table).
create table memberships_next (
    user_id text not null references users(id),
    organization_id text not null references organizations(id),
    role text not null check (role in ('owner', 'member', 'billing')),
    created_at bigint not null,
    primary key (user_id, organization_id)
);
insert into memberships_next (user_id, organization_id, role, created_at)
    select user_id, organization_id, role, created_at from memberships;
drop table memberships;
alter table memberships_next rename to memberships;
create index memberships_organization on memberships(organization_id);

create table invitations_next (
    id text primary key,
    organization_id text not null references organizations(id),
    email text not null,
    role text not null check (role in ('owner', 'member', 'billing')),
    token_hash text not null unique,
    invited_by text not null,
    created_at bigint not null,
    expires_at bigint not null,
    accepted_at bigint,
    revoked_at bigint
);
insert into invitations_next (id, organization_id, email, role, token_hash, invited_by, created_at, expires_at,
        accepted_at, revoked_at)
    select id, organization_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, revoked_at
    from invitations;
drop table invitations;
alter table invitations_next rename to invitations;
create unique index invitations_pending on invitations(organization_id, email)
    where accepted_at is null and revoked_at is null;
