-- The dimensions a metric's events may carry and each one's declared values: a value outside the
-- list is refused, so the totals kept per value stay few.
create table metric_dimension_values (
    metric text not null references metrics (key),
    dimension text not null,
    value text not null,
    position bigint not null,
    primary key (metric, dimension, value)
);
insert into metric_dimension_values (metric, dimension, value, position) values
    ('actions', 'action_type', 'workflow_start', 1),
    ('actions', 'action_type', 'activity', 2),
    ('actions', 'action_type', 'signal', 3),
    ('actions', 'action_type', 'query', 4),
    ('actions', 'action_type', 'timer', 5),
    ('actions', 'action_type', 'other', 6);

-- An event's dimensions in canonical form (`action_type=activity`); null when it carries none.
alter table usage_events add column dimensions text;

-- A part's total split by its events' dimensions, as JSON ({"action_type=activity": 12}); null
-- when none of its events carries any. Events without dimensions are the rest of `total`.
alter table usage_hourly_parts add column dimension_totals text;

-- An hour's total per dimension value, recomputed from its parts with the hour's total. The
-- hour's usage without dimensions is not stored: it is the hour's total less these.
create table usage_hourly_dimensions (
    organization_id text not null,
    namespace_id text not null,
    metric text not null,
    hour bigint not null,
    dimensions text not null,
    total bigint not null,
    primary key (organization_id, namespace_id, metric, hour, dimensions)
);
