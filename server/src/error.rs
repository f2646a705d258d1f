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
    #[error("ledger: {0}")]
    Ledger(#[from] crate::domain::ledger::PostingError),
}

/// A refused state change is the caller's conflict, and the message names both states.
impl From<crate::domain::invoice::IllegalTransition> for Error {
    fn from(refused: crate::domain::invoice::IllegalTransition) -> Self {
        Self::App(AppError::conflict("status", refused.to_string()))
    }
}

impl From<crate::domain::subscription::IllegalSubscriptionTransition> for Error {
    fn from(refused: crate::domain::subscription::IllegalSubscriptionTransition) -> Self {
        Self::App(AppError::conflict("status", refused.to_string()))
    }
}

impl From<crate::payments::ChannelError> for Error {
    fn from(error: crate::payments::ChannelError) -> Self {
        match error {
            crate::payments::ChannelError::Store(error) => error,
            other => Self::Processor(other.to_string()),
        }
    }
}

impl Error {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { context: context.into(), source }
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
