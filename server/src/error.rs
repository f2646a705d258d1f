//! The server's error type. It becomes the portal's `AppError` in exactly one place, where
//! internal causes are logged and hidden from the client.
use app::api::error::AppError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("password hashing: {0}")]
    PasswordHash(String),
    #[error("background task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("payment processor: {0}")]
    Processor(String),
    /// A sum or rounding beyond 64 bits: billing stops with this instead of a wrapped amount.
    #[error("{0}")]
    Amount(String),
    /// A posting that would not balance: a bug, never the caller's input.
    #[error("ledger: {0}")]
    Ledger(String),
    /// A wait for other work given up, because something else waited for this work in turn.
    #[error("gave up waiting: {0}")]
    WaitGivenUp(String),
}

impl Error {
    /// An amount or sum beyond 64 bits, here or in the database (PostgreSQL's
    /// `numeric_value_out_of_range`, SQLite's "integer overflow"): retrying cannot help.
    pub fn is_out_of_range(&self) -> bool {
        match self {
            Self::Amount(_) => true,
            Self::Database(sqlx::Error::Database(error)) => {
                error.code().as_deref() == Some("22003") || error.message().contains("integer overflow")
            }
            _ => false,
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { context: context.into(), source }
    }
}

impl From<crate::shared::money::AmountOutOfRange> for Error {
    fn from(error: crate::shared::money::AmountOutOfRange) -> Self {
        Self::Amount(error.to_string())
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        match error {
            Error::App(app) => app,
            other => {
                tracing::error!(error = %other, "request failed");
                AppError::Internal
            }
        }
    }
}
