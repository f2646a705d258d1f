-- Finalizing a draft asks whether any rollup of the organization was recomputed since the draft
-- was rated; this index answers from the few rows recomputed since, not from every hour the
-- organization ever had.
create index usage_hourly_recomputed on usage_hourly(organization_id, computed_at);
