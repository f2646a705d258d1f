//! Figures derived from an organization's hourly rollups (its period's rating, say), kept in this
//! process until a rollup notice says the organization's rollups changed. Every instance hears
//! every notice (`jobs::rollup`), so no instance keeps a figure another one's rollup outdated.
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Beyond this many kept figures all are dropped: a cold start costs one rating per page, which
/// is what every page cost without this.
const MAX_ENTRIES: usize = 10_000;

/// When a figure was read: it is still true while the organization's rollups have not changed
/// since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupGeneration(u64);

#[derive(Default)]
pub struct RollupDerived {
    state: Mutex<State>,
}

impl std::fmt::Debug for RollupDerived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollupDerived").field("entries", &self.state().entries.len()).finish()
    }
}

#[derive(Default)]
struct State {
    /// Counts every notice; an organization's generation is the count at its latest notice.
    notices: u64,
    /// Raised by a notice for every organization: older generations all end.
    floor: u64,
    changed_at: HashMap<String, u64>,
    entries: HashMap<(String, &'static str), (RollupGeneration, Arc<dyn Any + Send + Sync>)>,
}

impl State {
    fn generation(&self, organization_id: &str) -> RollupGeneration {
        RollupGeneration(self.changed_at.get(organization_id).copied().unwrap_or(0).max(self.floor))
    }
}

/// What `rolled_up` is told when notices may have been missed.
pub const EVERY_ORGANIZATION: &str = "*";

impl RollupDerived {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only a map of figures behind: still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Taken before reading the rollups a figure comes from, and handed to [`Self::keep`].
    pub fn generation(&self, organization_id: &str) -> RollupGeneration {
        self.state().generation(organization_id)
    }

    /// The `kind` figure kept for the organization, if its rollups have not changed since.
    pub fn get<T: Any + Send + Sync>(&self, organization_id: &str, kind: &'static str) -> Option<Arc<T>> {
        let state = self.state();
        let (read_at, figure) = state.entries.get(&(organization_id.to_owned(), kind))?;
        if *read_at != state.generation(organization_id) {
            return None;
        }
        figure.clone().downcast::<T>().ok()
    }

    /// Keeps a figure read at `read_at`, unless a notice arrived while it was read.
    pub fn keep<T: Any + Send + Sync>(
        &self,
        organization_id: &str,
        kind: &'static str,
        read_at: RollupGeneration,
        figure: Arc<T>,
    ) {
        let mut state = self.state();
        if read_at != state.generation(organization_id) {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert((organization_id.to_owned(), kind), (read_at, figure));
    }

    /// The organization's rollups changed (or anyone's, for [`EVERY_ORGANIZATION`]).
    pub fn rolled_up(&self, organization_id: &str) {
        let mut state = self.state();
        state.notices += 1;
        let notice = state.notices;
        if organization_id == EVERY_ORGANIZATION {
            state.floor = notice;
            state.changed_at.clear();
            state.entries.clear();
        } else {
            state.changed_at.insert(organization_id.to_owned(), notice);
            state.entries.retain(|(organization, _), _| organization != organization_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_is_kept_until_its_organizations_rollups_change() {
        let derived = RollupDerived::default();
        let read_at = derived.generation("org_a");
        derived.keep("org_a", "estimate", read_at, Arc::new(41_i64));
        derived.keep("org_b", "estimate", derived.generation("org_b"), Arc::new(7_i64));
        assert_eq!(derived.get::<i64>("org_a", "estimate").as_deref(), Some(&41));

        derived.rolled_up("org_a");
        assert_eq!(derived.get::<i64>("org_a", "estimate"), None);
        assert_eq!(derived.get::<i64>("org_b", "estimate").as_deref(), Some(&7), "another organization's stays");

        derived.rolled_up(EVERY_ORGANIZATION);
        assert_eq!(derived.get::<i64>("org_b", "estimate"), None);
    }

    #[test]
    fn a_figure_read_while_a_notice_arrived_is_not_kept() {
        let derived = RollupDerived::default();
        let read_at = derived.generation("org_a");
        derived.rolled_up("org_a");
        derived.keep("org_a", "estimate", read_at, Arc::new(41_i64));
        assert_eq!(derived.get::<i64>("org_a", "estimate"), None);

        let read_at = derived.generation("org_a");
        derived.rolled_up(EVERY_ORGANIZATION);
        derived.keep("org_a", "estimate", read_at, Arc::new(41_i64));
        assert_eq!(derived.get::<i64>("org_a", "estimate"), None, "a notice for everyone ends it too");
    }

    #[test]
    fn a_figure_of_another_type_is_not_handed_out() {
        let derived = RollupDerived::default();
        derived.keep("org_a", "estimate", derived.generation("org_a"), Arc::new(41_i64));
        assert_eq!(derived.get::<String>("org_a", "estimate"), None);
    }
}
