//! A person's own settings: the time zone they read the portal's times in.
use app::api::dto::{Preferences, SessionUser};
use app::api::error::AppError;

use crate::accounts::db::users;
use crate::error::Error;
use crate::reader::display_time;
use crate::shared::time::{is_time_zone, time_zone_names};
use crate::store::Db;

pub fn preferences(db: &Db, user: &SessionUser, browser_zone: Option<String>) -> Preferences {
    Preferences {
        email: user.email.clone(),
        time_zone: user.time_zone.clone(),
        browser_time_zone: browser_zone,
        time_zones: time_zone_names(),
        now: display_time(db.clock.now_ms()),
    }
}

#[tracing::instrument(skip_all)]
pub async fn set_time_zone(db: &Db, user: &SessionUser, zone: &str) -> Result<(), Error> {
    let zone = zone.trim();
    if !zone.is_empty() && !is_time_zone(zone) {
        return Err(AppError::invalid("time_zone", "is not a time zone such as Europe/Paris").into());
    }
    let mut conn = db.pool.acquire().await?;
    users::set_time_zone(&mut conn, &user.user_id, (!zone.is_empty()).then_some(zone)).await
}
