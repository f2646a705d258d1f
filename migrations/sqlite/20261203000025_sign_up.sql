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

-- A session remembers the generation it began in; a password reset starts the next one, so every
-- session begun before it (even one whose login was still checking the old password) ends.
alter table users add column session_generation bigint not null default 0;

-- Every request for mail anyone can ask for (a sign-up, a reset link), counted per address whether
-- or not mail follows, so the limit says nothing about which addresses have accounts.
create table account_mail_requests (
    address text not null,
    at bigint not null
);
create index account_mail_requests_address on account_mail_requests(address, at);

-- Mail about an account that has no organization yet (a sign-up's confirmation, a password reset):
-- SQLite cannot drop a NOT NULL, so the table is rebuilt.
create table notifications_rebuilt (
    id text primary key,
    organization_id text references organizations(id),
    kind text not null,
    reference text not null,
    recipient text not null,
    subject text not null,
    body text not null,
    created_at bigint not null,
    delivered_at bigint,
    delivery text,
    attempts bigint not null default 0,
    next_attempt_at bigint,
    parked_at bigint,
    last_error text,
    constraint notifications_once unique (kind, reference)
);
insert into notifications_rebuilt
    select id, organization_id, kind, reference, recipient, subject, body, created_at, delivered_at, delivery,
           attempts, next_attempt_at, parked_at, last_error
    from notifications;
drop table notifications;
alter table notifications_rebuilt rename to notifications;
create index notifications_undelivered on notifications(delivered_at);
