-- The time zone a person reads the portal's times in (IANA name); none: their browser's.
alter table users add column time_zone text;
