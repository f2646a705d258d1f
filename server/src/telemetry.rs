//! Structured logs with `tracing`.
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::error::Error;

pub fn init_tracing(level: &str, format: LogFormat) -> Result<(), Error> {
    let filter = EnvFilter::try_new(level).map_err(|e| Error::Config(format!("LOG_LEVEL: {e}")))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| Error::Config(format!("LOG_FORMAT: {e}")))
}
