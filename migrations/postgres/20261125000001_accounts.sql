-- Accounts, organizations, namespaces, API keys, audit log, login throttling and sessions.
-- Times are unix milliseconds (UTC); booleans are tables of their own; ids are prefixed text.
create table organizations (
    id text primary key,
    name text not null,
    billing_email text not null,
    currency text not null,
    created_at bigint not null
);

create table users (
    id text primary key,
    email text not null unique,
    password_hash text not null,
    created_at bigint not null
);

create table staff_admins (
    user_id text primary key references users(id),
    created_at bigint not null
);

create table memberships (
    user_id text not null references users(id),
    organization_id text not null references organizations(id),
    role text not null check (role in ('owner', 'member')),
    created_at bigint not null,
    primary key (user_id, organization_id)
);
create index memberships_organization on memberships(organization_id);

create table namespaces (
    id text primary key,
    organization_id text not null references organizations(id),
    name text not null,
    created_at bigint not null,
    constraint namespaces_name_unique unique (organization_id, name)
);

create table api_keys (
    id text primary key,
    organization_id text not null references organizations(id),
    name text not null,
    prefix text not null,
    secret_hash text not null unique,
    created_by text not null references users(id),
    created_at bigint not null,
    last_used_at bigint,
    revoked_at bigint
);
create index api_keys_organization on api_keys(organization_id);

create table audit_log (
    id text primary key,
    organization_id text,
    actor text not null,
    action text not null,
    target text not null,
    before_json text,
    after_json text,
    reason text,
    at bigint not null
);
create index audit_log_organization_at on audit_log(organization_id, at);

create table login_failures (
    id text primary key,
    email text not null,
    client text not null,
    at bigint not null
);
create index login_failures_email_at on login_failures(email, at);
create index login_failures_client_at on login_failures(client, at);

create table sessions (
    id text primary key,
    data text not null,
    expires_at bigint not null
);
create index sessions_expires_at on sessions(expires_at);
