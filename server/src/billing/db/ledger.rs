//! The double-entry ledger: append-only transactions of balanced entries, one per cause.
use sqlx::{AnyConnection, FromRow};

use crate::billing::domain::ledger::{Account, Posting};
use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};
use crate::store::bulk::{Value, bind_all, bind_all_as, bind_all_scalar, list_placeholders, row_placeholders, texts};

pub fn account_name(account: Account) -> &'static str {
    match account {
        Account::Receivable => "receivable",
        Account::Revenue => "revenue",
        Account::CustomerCredit => "customer_credit",
        Account::ProcessorClearing => "processor_clearing",
        Account::Overpayments => "overpayments",
        Account::Disputed => "disputed",
        Account::DisputeFees => "dispute_fees",
        Account::Discounts => "discounts",
    }
}

pub struct PostingCause<'a> {
    pub organization_id: &'a str,
    /// What happened, e.g. `invoice.finalized`; with `reference` it is unique.
    pub kind: &'a str,
    pub reference: &'a str,
    pub at: i64,
}

/// Writes the posting in the caller's transaction. Returns false when this cause was posted
/// before, so a retried operation never posts twice.
pub async fn post(conn: &mut AnyConnection, cause: PostingCause<'_>, posting: Posting) -> Result<bool, Error> {
    Ok(post_many(conn, &[(cause, posting)]).await? == 1)
}

/// The organization's balance of one account (debits positive).
pub async fn balance(conn: &mut AnyConnection, organization_id: &str, account: Account) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "select cast(coalesce(sum(e.amount_minor), 0) as bigint) from ledger_entries e
         join ledger_transactions t on t.id = e.transaction_id where t.organization_id = $1 and e.account = $2",
    )
    .bind(organization_id)
    .bind(account_name(account))
    .fetch_one(conn)
    .await?)
}

/// The organization's (owed, unused credit): [`balances_of_organizations`] of one.
pub async fn receivable_and_credit(conn: &mut AnyConnection, organization_id: &str) -> Result<(i64, i64), Error> {
    let balances = balances_of_organizations(conn, &[organization_id.to_owned()]).await?;
    Ok(balances.first().map_or((0, 0), |(_, owed, credit)| (*owed, *credit)))
}

/// (organization id, owed, unused credit) for each of `organization_ids` with ledger entries: the
/// receivable's debit balance and the customer-credit account's credit balance.
pub async fn balances_of_organizations(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<Vec<(String, i64, i64)>, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select t.organization_id,
                cast(coalesce(sum(case when e.account = 'receivable' then e.amount_minor else 0 end), 0) as bigint),
                cast(coalesce(sum(case when e.account = 'customer_credit' then -e.amount_minor else 0 end), 0) as bigint)
         from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
         where t.organization_id in ({}) and e.account in ('receivable', 'customer_credit')
         group by t.organization_id",
        list_placeholders(conn, 1, organization_ids.len())
    );
    Ok(bind_all_as(sqlx::query_as(&sql), &texts(organization_ids)).fetch_all(conn).await?)
}

/// Transactions whose entries do not sum to zero: (transaction id, sum). Empty in a sound ledger.
pub async fn unbalanced_transactions(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, Error> {
    Ok(sqlx::query_as(
        "select transaction_id, cast(sum(amount_minor) as bigint) from ledger_entries
         group by transaction_id having sum(amount_minor) <> 0",
    )
    .fetch_all(conn)
    .await?)
}

/// Invoices past draft whose posted receivable differs from their amount due: (invoice id,
/// amount due, posted).
pub async fn receivable_mismatches(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select i.id, i.amount_due_minor, cast(coalesce(sum(e.amount_minor), 0) as bigint)
         from invoices i
         left join ledger_transactions t on t.kind = 'invoice.finalized' and t.reference = i.id
         left join ledger_entries e on e.transaction_id = t.id and e.account = 'receivable'
         where i.status not in ('draft', 'void')
         group by i.id, i.amount_due_minor
         having i.amount_due_minor <> cast(coalesce(sum(e.amount_minor), 0) as bigint)",
    )
    .fetch_all(conn)
    .await?)
}

/// `post` for many causes in two statements; causes posted before are skipped. Returns how many
/// were posted now.
pub async fn post_many(conn: &mut AnyConnection, postings: &[(PostingCause<'_>, Posting)]) -> Result<usize, Error> {
    if postings.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = postings.iter().map(|(cause, _)| new_id(IdKind::LedgerTransaction, cause.at)).collect();
    let sql = format!(
        "insert into ledger_transactions (id, organization_id, kind, reference, at) values {}
         on conflict (kind, reference) do nothing returning id",
        row_placeholders(conn, 1, postings.len(), 5)
    );
    let values: Vec<Value> = postings
        .iter()
        .zip(&ids)
        .flat_map(|((cause, _), id)| {
            [
                Value::Text(id.clone()),
                Value::Text(cause.organization_id.to_owned()),
                Value::Text(cause.kind.to_owned()),
                Value::Text(cause.reference.to_owned()),
                Value::Int(cause.at),
            ]
        })
        .collect();
    let posted: std::collections::HashSet<String> =
        bind_all_scalar(sqlx::query_scalar(&sql), &values).fetch_all(&mut *conn).await?.into_iter().collect();
    let entries: Vec<Value> = postings
        .iter()
        .zip(&ids)
        .filter(|(_, id)| posted.contains(*id))
        .flat_map(|((_, posting), id)| {
            posting.entries().iter().flat_map(move |e| {
                [Value::Text(id.clone()), Value::Text(account_name(e.account).to_owned()), Value::Int(e.amount_minor)]
            })
        })
        .collect();
    for chunk in entries.chunks(3 * 500) {
        let sql = format!(
            "insert into ledger_entries (transaction_id, account, amount_minor) values {}",
            row_placeholders(conn, 1, chunk.len() / 3, 3)
        );
        bind_all(sqlx::query(&sql), chunk).execute(&mut *conn).await?;
    }
    refuse_overdrawn_credit(conn, postings, &ids, &posted).await?;
    Ok(posted.len())
}

/// Fails the caller's transaction when a posting just written spends more customer credit than the
/// organization holds. Callers that spend credit hold the organization's lock, so this is the
/// backstop that turns a missed lock into an error instead of credit spent twice.
async fn refuse_overdrawn_credit(
    conn: &mut AnyConnection,
    postings: &[(PostingCause<'_>, Posting)],
    ids: &[String],
    posted: &std::collections::HashSet<String>,
) -> Result<(), Error> {
    let mut spenders: Vec<&str> = postings
        .iter()
        .zip(ids)
        .filter(|((_, posting), id)| {
            posted.contains(*id)
                && posting.entries().iter().any(|e| e.account == Account::CustomerCredit && e.amount_minor > 0)
        })
        .map(|((cause, _), _)| cause.organization_id)
        .collect();
    spenders.sort_unstable();
    spenders.dedup();
    for organization_id in spenders {
        let held = balance(conn, organization_id, Account::CustomerCredit).await?;
        if held > 0 {
            return Err(Error::Ledger(format!("customer credit of {organization_id} would be overdrawn by {held}")));
        }
    }
    Ok(())
}

/// (organization, balance) of every customer-credit account that holds less than nothing: more
/// credit was spent than granted. The account is credit-normal, so what a customer holds is negative.
pub async fn overdrawn_credit_accounts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, Error> {
    Ok(sqlx::query_as(
        "select t.organization_id, cast(sum(e.amount_minor) as bigint) from ledger_transactions t
         join ledger_entries e on e.transaction_id = t.id where e.account = 'customer_credit'
         group by t.organization_id having sum(e.amount_minor) > 0",
    )
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, FromRow)]
pub struct TransactionTotals {
    pub at: i64,
    pub kind: String,
    pub reference: String,
    pub receivable_minor: i64,
    pub customer_credit_minor: i64,
}

/// Every transaction of the organization, oldest first, with what it moved on the two accounts
/// a customer has a balance in.
pub async fn transactions_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<TransactionTotals>, Error> {
    Ok(sqlx::query_as(
        "select t.at, t.kind, t.reference,
                cast(coalesce(sum(case when e.account = 'receivable' then e.amount_minor else 0 end), 0) as bigint)
                    as receivable_minor,
                cast(coalesce(sum(case when e.account = 'customer_credit' then e.amount_minor else 0 end), 0) as bigint)
                    as customer_credit_minor
         from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
         where t.organization_id = $1 group by t.id, t.at, t.kind, t.reference order by t.at, t.id",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}
