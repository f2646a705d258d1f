-- PostgreSQL keeps the keys of usage events (organization, event id, content hash) in a table of
-- their own, beside its monthly partitions of the events; here, in one file and one writer, the
-- events' own primary key does that job, and this view gives the shared queries the same name.
create view usage_event_keys as select organization_id, event_id, content_hash from usage_events;
