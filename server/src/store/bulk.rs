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

/// `rows` in slices whose lengths recur: whole `chunk`s, then the rest in descending powers of two
/// (a rest of 450 goes as 256 + 128 + 64 + 2). Each connection keeps its prepared statements by
/// text, so a statement over a slice of any length kept one statement of thousands of parameters
/// for every rest ever met: about 48 MB of SQLite's memory over 3 million events, most of it
/// multi-row inserts. Preparing afresh is no way out: a 450-row insert takes four times as long
/// to prepare as to run. Here a statement has at most `log2(chunk) + 2` texts.
pub fn recurring_chunks<T>(rows: &[T], chunk: usize) -> impl Iterator<Item = &[T]> {
    assert!(chunk > 0, "a chunk holds at least one row");
    let (whole, mut rest) = rows.split_at(rows.len() / chunk * chunk);
    whole.chunks(chunk).chain(std::iter::from_fn(move || {
        let size = 1 << rest.len().checked_ilog2()?;
        let (slice, after) = rest.split_at(size);
        rest = after;
        Some(slice)
    }))
}

/// Whether a statement over a list of `rows` is kept prepared on its connection
/// (`.persistent(kept_prepared(rows))`): a short list's length recurs (a rollup pass over one or
/// two hours), a long one's seldom does (a full rollup pass of 2,000 marks recurs only while a
/// backlog lasts, and preparing it is a small part of that pass). Kept, each length held a
/// statement of hundreds of parameters until a hundred others pushed it out of the cache. With
/// these and [`recurring_chunks`], the server's peak RSS over 10 million events on SQLite fell
/// from 273–303 MB to 192–208 MB at the same rate and rollup lag.
pub fn kept_prepared(rows: usize) -> bool {
    rows <= 16
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn recurring_chunks_cover_every_row_once_in_few_distinct_lengths() {
        let mut lengths = BTreeSet::new();
        for len in 0..=2_100 {
            let rows: Vec<usize> = (0..len).collect();
            let slices: Vec<&[usize]> = recurring_chunks(&rows, 500).collect();
            assert_eq!(slices.concat(), rows, "{len} rows");
            assert!(slices.iter().all(|slice| !slice.is_empty() && slice.len() <= 500));
            lengths.extend(slices.iter().map(|slice| slice.len()));
        }
        assert_eq!(lengths.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64, 128, 256, 500]);
    }

    #[test]
    fn a_rest_goes_in_descending_powers_of_two_after_whole_chunks() {
        let rows = vec![(); 1_450];
        let lengths: Vec<usize> = recurring_chunks(&rows, 500).map(<[()]>::len).collect();
        assert_eq!(lengths, [500, 500, 256, 128, 64, 2]);
    }
}
