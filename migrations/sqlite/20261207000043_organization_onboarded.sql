-- When the dashboard first found the organization's first steps all done; null until then.
alter table organizations add column onboarded_at bigint;
