//! Statements over many rows at once: placeholders for both dialects and values bound in order.
use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection};

use crate::error::Error;
use crate::store::Dialect;

/// The `n`th bind placeholder. SQLite gets anonymous `?`: with numbered ones, binding looks every
/// name up in a list, which is quadratic in the thousands of parameters of a multi-row statement.
/// Anonymous placeholders bind in textual order, so every statement binds in the order it reads.
pub fn placeholder(conn: &AnyConnection, n: usize) -> String {
    if anonymous(conn) { "?".to_owned() } else { format!("${n}") }
}

fn anonymous(conn: &AnyConnection) -> bool {
    Dialect::of(conn) == Dialect::Sqlite
}

/// `(p, p, …), (p, p, …)` for `rows` rows of `columns` values, numbered from `first`. Written into
/// one string: ingestion builds 6,000 placeholders per statement.
pub fn row_placeholders(conn: &AnyConnection, first: usize, rows: usize, columns: usize) -> String {
    let anonymous = anonymous(conn);
    let mut text = String::with_capacity(rows * columns * 7);
    for r in 0..rows {
        text.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                text.push_str(", ");
            }
            if anonymous {
                text.push('?');
            } else {
                let _ = write!(text, "${}", first + r * columns + c);
            }
        }
        text.push(')');
    }
    text
}

/// `select column1, …, columnN from (values (p, …), …) as listed`, for a row-value `in (…)`: SQLite
/// looks each listed row up in the table's key, where `in (values …)` scans the whole table (a
/// rollup pass spent 12 ms clearing 950 marks that way).
pub fn listed_rows(conn: &AnyConnection, first: usize, rows: usize, columns: usize) -> String {
    let names: Vec<String> = (1..=columns).map(|c| format!("column{c}")).collect();
    format!("select {} from (values {}) as listed", names.join(", "), row_placeholders(conn, first, rows, columns))
}

/// `p, p, p` for an `in (…)` list of `n` values, numbered from `first`.
pub fn list_placeholders(conn: &AnyConnection, first: usize, n: usize) -> String {
    (0..n).map(|i| placeholder(conn, first + i)).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Int(i64),
    MaybeText(Option<String>),
    MaybeInt(Option<i64>),
}

/// The same binding loop for the three query kinds sqlx has (rows, typed rows, one column).
macro_rules! bind_values {
    ($name:ident, $query:ident $(, $generic:ident)*) => {
        pub fn $name<'q, $($generic),*>(
            mut query: sqlx::query::$query<'q, Any, $($generic,)* AnyArguments<'q>>,
            values: &'q [Value],
        ) -> sqlx::query::$query<'q, Any, $($generic,)* AnyArguments<'q>> {
            for value in values {
                query = match value {
                    Value::Text(v) => query.bind(v.as_str()),
                    Value::Int(v) => query.bind(*v),
                    Value::MaybeText(v) => query.bind(v.as_deref()),
                    Value::MaybeInt(v) => query.bind(*v),
                };
            }
            query
        }
    };
}

bind_values!(bind_all, Query);
bind_values!(bind_all_as, QueryAs, O);
bind_values!(bind_all_scalar, QueryScalar, O);

pub fn texts(values: &[String]) -> Vec<Value> {
    values.iter().cloned().map(Value::Text).collect()
}

/// `select <one JSON array of the rows>` of `select` (a statement that yields `columns`, a comma
/// list). One row instead of thousands: each row received through sqlx costs microseconds of its
/// own, a column about one (claiming 1,000 drafts of 19 columns took 33 ms on SQLite row by row
/// and 20 as one row, where its own query takes 5). Read it with [`decode_json_rows`].
pub fn rows_as_json(conn: &AnyConnection, columns: &str, select: &str) -> String {
    format!("select {} from ({select}) as listed", json_array_agg(conn, columns))
}

/// The aggregate that gathers each row's `columns` into a JSON array of arrays: `[]` for no rows.
pub fn json_array_agg(conn: &AnyConnection, columns: &str) -> String {
    match Dialect::of(conn) {
        Dialect::Sqlite => format!("json_group_array(json_array({columns}))"),
        Dialect::Postgres => format!("coalesce(cast(json_agg(json_build_array({columns})) as text), '[]')"),
    }
}

/// The rows of [`rows_as_json`], each decoded from its array in column order (a derived
/// `Deserialize` reads a struct's fields from an array in declaration order).
pub fn decode_json_rows<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<Vec<T>, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("{what} as JSON: {e}")))
}
