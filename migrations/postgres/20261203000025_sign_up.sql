-- Sign-ups waiting for their email's confirmation. The organization, its owner and membership are
-- created together, in the transaction that confirms, so no half-created organization exists.
create table signups (
    id text primary key,
    email text not null,
    password_hash text not null,
    organization_name text not null,
    token_hash text not null unique,
    created_at bigint not null,
    expires_at bigint not null,
    -- The organization made from it is found through the audit log's sign-up entry.
    confirmed_at bigint
);
create index signups_email on signups(email, created_at);

-- One-time links that set a new password; using one ends every session of its user.
create table password_resets (
    id text primary key,
    user_id text not null references users(id),
    token_hash text not null unique,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint
);
create index password_resets_user on password_resets(user_id, created_at);

-- Sessions started before this instant are no longer honored (a password reset ends them all).
alter table users add column sessions_valid_from bigint not null default 0;

-- Mail about an account that has no organization yet (a sign-up's confirmation, a password reset).
alter table notifications alter column organization_id drop not null;

-- Mail anyone can ask for (sign-ups, resets) is throttled per address by counting what went there.
create index notifications_recipient on notifications(recipient, created_at);
