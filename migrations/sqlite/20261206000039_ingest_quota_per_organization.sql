-- An organization's own ingestion rate (events a second, 0 for no limit), set by staff; null: the
-- portal's `--ingest-events-per-second`.
alter table organizations add column ingest_events_per_second bigint;
