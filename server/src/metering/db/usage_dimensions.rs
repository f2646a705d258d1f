//! Hourly totals per dimension value: recomputed from the hour's parts in the rollup's
//! transaction, never incremented, and read beside the hour's total.
use std::collections::BTreeMap;

use sqlx::AnyConnection;

use crate::error::Error;
use crate::metering::db::usage::{HourKey, key_values, totals_error};
use crate::metering::domain::dimensions::DimensionTotals;
use crate::store::bulk::{
    Value, bind_all, bind_all_as, kept_prepared, listed_rows, recurring_chunks, row_placeholders,
};

/// Rows per insert: 6 parameters each.
const INSERT_CHUNK: usize = 1_000;

/// Replaces the hours' totals per dimension with the sums of their parts' (the parts are stored
/// and the hours' rows locked by the caller's transaction).
pub async fn store_hourly_dimensions(conn: &mut AnyConnection, hours: &[HourKey]) -> Result<(), Error> {
    if hours.is_empty() {
        return Ok(());
    }
    let hour_values: Vec<Value> = hours.iter().flat_map(key_values).collect();
    let sql = format!(
        "select organization_id, namespace_id, metric, hour, dimension_totals from usage_hourly_parts
         where dimension_totals is not null and (organization_id, namespace_id, metric, hour) in ({})",
        listed_rows(conn, 1, hours.len(), 4)
    );
    let parts: Vec<(String, String, String, i64, String)> =
        bind_all_as(sqlx::query_as(&sql).persistent(kept_prepared(hours.len())), &hour_values)
            .fetch_all(&mut *conn)
            .await?;
    let mut by_hour: BTreeMap<HourKey, DimensionTotals> = BTreeMap::new();
    for (organization_id, namespace_id, metric, hour, stored) in parts {
        let key = HourKey { organization_id, namespace_id, metric, hour };
        by_hour.entry(key).or_default().add_stored(Some(&stored)).map_err(totals_error)?;
    }

    let sql = format!(
        "delete from usage_hourly_dimensions where (organization_id, namespace_id, metric, hour) in ({})",
        listed_rows(conn, 1, hours.len(), 4)
    );
    bind_all(sqlx::query(&sql).persistent(kept_prepared(hours.len())), &hour_values).execute(&mut *conn).await?;
    let rows: Vec<[Value; 6]> = by_hour
        .iter()
        .flat_map(|(hour, totals)| {
            totals.iter().map(move |(dimensions, total)| {
                let [organization_id, namespace_id, metric, hour_start] = key_values(hour);
                [
                    organization_id,
                    namespace_id,
                    metric,
                    hour_start,
                    Value::Text(dimensions.to_owned()),
                    Value::Int(total),
                ]
            })
        })
        .collect();
    for chunk in recurring_chunks(&rows, INSERT_CHUNK) {
        let sql = format!(
            "insert into usage_hourly_dimensions (organization_id, namespace_id, metric, hour, dimensions, total)
             values {}",
            row_placeholders(conn, 1, chunk.len(), 6)
        );
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// One namespace's hour: its total and the part of it per set of dimensions
/// (`action_type=activity`); the rest carried none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourBreakdown {
    pub namespace_id: String,
    pub hour: i64,
    pub total: i64,
    pub dimensions: Vec<(String, i64)>,
}

/// The hours of one metric in `[from, to)`, of one namespace or all, each with its totals per
/// dimension. One statement, so the totals and their parts are read at the same instant.
pub async fn hourly_breakdown(
    conn: &mut AnyConnection,
    organization_id: &str,
    namespace_id: Option<&str>,
    metric: &str,
    from: i64,
    to: i64,
) -> Result<Vec<HourBreakdown>, Error> {
    // One namespace is a range of the primary key, however many namespaces the organization has.
    let one_namespace = if namespace_id.is_some() { "and h.namespace_id = $5" } else { "" };
    let sql = format!(
        "select h.namespace_id, h.hour, h.total, d.dimensions, d.total from usage_hourly h
         left join usage_hourly_dimensions d on d.organization_id = h.organization_id
             and d.namespace_id = h.namespace_id and d.metric = h.metric and d.hour = h.hour
         where h.organization_id = $1 and h.metric = $2 and h.hour >= $3 and h.hour < $4 {one_namespace}
         order by h.hour, h.namespace_id"
    );
    let mut query = sqlx::query_as(&sql).bind(organization_id).bind(metric).bind(from).bind(to);
    if let Some(namespace_id) = namespace_id {
        query = query.bind(namespace_id);
    }
    let rows: Vec<(String, i64, i64, Option<String>, Option<i64>)> = query.fetch_all(conn).await?;
    let mut hours: Vec<HourBreakdown> = Vec::new();
    for (namespace_id, hour, total, dimensions, typed_total) in rows {
        let same = hours.last().is_some_and(|last| last.hour == hour && last.namespace_id == namespace_id);
        if !same {
            hours.push(HourBreakdown { namespace_id, hour, total, dimensions: Vec::new() });
        }
        if let (Some(dimensions), Some(typed_total), Some(last)) = (dimensions, typed_total, hours.last_mut()) {
            last.dimensions.push((dimensions, typed_total));
        }
    }
    Ok(hours)
}

/// An hour's total for one set of dimensions, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DimensionHourTotal {
    pub organization_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub hour: i64,
    pub dimensions: String,
    pub total: i64,
}

/// The events' sums per hour and set of dimensions (events without any are the hours' rest).
pub async fn event_sums_by_dimensions(
    conn: &mut AnyConnection,
    from: i64,
    to: i64,
) -> Result<Vec<DimensionHourTotal>, Error> {
    Ok(sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, dimensions, cast(sum(quantity) as bigint) as total
         from usage_events where hour >= $1 and hour < $2 and dimensions is not null
         group by organization_id, namespace_id, metric, hour, dimensions",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

pub async fn stored_dimension_totals(
    conn: &mut AnyConnection,
    from: i64,
    to: i64,
) -> Result<Vec<DimensionHourTotal>, Error> {
    Ok(sqlx::query_as(
        "select organization_id, namespace_id, metric, hour, dimensions, total from usage_hourly_dimensions
         where hour >= $1 and hour < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}
