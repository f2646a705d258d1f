-- The session's user and the session generation it began in, beside the session's data, so that
-- a request reads its session and its user in one statement. Copied out of the data of sessions
-- that already exist, so nobody is logged out by the upgrade.
alter table sessions add column user_id text;
alter table sessions add column generation bigint not null default 0;
update sessions set
    user_id = data::json ->> 'user_id',
    generation = coalesce((data::json ->> 'session_generation')::bigint, 0);
