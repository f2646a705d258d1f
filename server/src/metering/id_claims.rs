//! Which event ids a group of batches may store without looking them up, and which it must leave
//! until another of this instance's writers has committed.
//!
//! PostgreSQL ingestion runs several writers. Two that copy the same new id conflict on the unique
//! index, and the one refused stores its whole group again: clients retrying a batch that timed
//! out (5 % of events repeating ids of batches still in flight) cut the ingestion rate to a fifth
//! and its p99 to seconds. So a group claims its ids before its transaction begins, one group at a
//! time. A group that meets an id another group holds takes it over, stores the rest of its events,
//! and then waits until that group has ended: the id's row is then committed (or was never stored)
//! and a lookup settles it.
//!
//! Only one group at a time holds an id, and a group releases its ids only after the groups it took
//! ids over from have ended, so no two of this instance's writers ever copy one id, and none waits
//! in PostgreSQL for another's rows. Waits go only to groups that claimed earlier, so they never
//! form a circle here. One can form through another instance (see `store_in!` in `usage.rs`): a
//! long wait looks for it, and a group that another transaction waits for gives up its wait, rolls
//! back and stores again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

use crate::metering::domain::seen_ids::{IdHash, SeenIds};

/// How a group stores one of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Stored as new without a lookup: no writer of this instance has seen the id lately.
    New,
    /// Looked up first: the id may be stored already (by an earlier commit, or an earlier batch
    /// of this group).
    LookUp,
    /// Looked up once the group that held it has ended.
    AfterOthers,
}

/// The group holding an id, and whether it took the id over from another still storing.
#[derive(Clone, Copy)]
struct Holder {
    group: u64,
    taken_over: bool,
}
pub struct IdClaims {
    state: Mutex<State>,
}

struct State {
    seen: SeenIds,
    /// Each id held by a group still storing.
    claimed: HashMap<IdHash, Holder>,
    /// Each group still storing: its end is the end of its sender.
    groups: HashMap<u64, watch::Receiver<()>>,
    next_group: u64,
}

/// One group's claims, held while it stores; `release` gives them up.
pub struct GroupClaim<'c> {
    claims: &'c IdClaims,
    group: u64,
    held: Vec<IdHash>,
    /// Per batch, per event in the batch's order.
    routes: Vec<Vec<Route>>,
    others: Vec<watch::Receiver<()>>,
    _ends: watch::Sender<()>,
}

impl IdClaims {
    /// `ids_per_generation`: how many ids the filter of seen ids remembers (see `SeenIds`).
    pub fn new(ids_per_generation: usize) -> Self {
        Self {
            state: Mutex::new(State {
                seen: SeenIds::new(ids_per_generation),
                claimed: HashMap::new(),
                groups: HashMap::new(),
                next_group: 0,
            }),
        }
    }

    /// Claims the ids of a group's batches, given as (organization, event ids) in storing order.
    pub fn claim<'c, 'b>(&'c self, batches: impl IntoIterator<Item = (&'b str, Vec<&'b str>)>) -> GroupClaim<'c> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let group = state.next_group;
        state.next_group += 1;
        let (ends, end) = watch::channel(());
        state.groups.insert(group, end);
        let mut held = Vec::new();
        let mut others: HashMap<u64, watch::Receiver<()>> = HashMap::new();
        let routes = batches
            .into_iter()
            .map(|(organization_id, event_ids)| {
                event_ids
                    .into_iter()
                    .map(|event_id| {
                        let hash = IdHash::of(organization_id, event_id);
                        let route = match state.claimed.get(&hash).copied() {
                            Some(Holder { group: holder, taken_over }) if holder == group => {
                                return if taken_over { Route::AfterOthers } else { Route::LookUp };
                            }
                            Some(Holder { group: holder, .. }) => {
                                if let Some(end) = state.groups.get(&holder) {
                                    others.entry(holder).or_insert_with(|| end.clone());
                                }
                                Route::AfterOthers
                            }
                            None if state.seen.may_contain(hash) => Route::LookUp,
                            None => {
                                state.seen.insert(hash);
                                Route::New
                            }
                        };
                        state.claimed.insert(hash, Holder { group, taken_over: route == Route::AfterOthers });
                        held.push(hash);
                        route
                    })
                    .collect()
            })
            .collect();
        GroupClaim { claims: self, group, held, routes, others: others.into_values().collect(), _ends: ends }
    }
}

impl GroupClaim<'_> {
    /// The route of each event of the `batch`-th batch, in the batch's order.
    pub fn routes(&self, batch: usize) -> &[Route] {
        &self.routes[batch]
    }

    /// Once every group this one waits for has ended (committed or rolled back).
    pub async fn others_ended(&self) {
        for end in &self.others {
            // The channel carries no value: `changed` returns when its sender is dropped.
            let _ = end.clone().changed().await;
        }
    }

    /// Releases the claims once the groups this one took ids over from have ended: if it released
    /// them sooner (after a failure), a later group could take such an id as its own and copy it
    /// while the earlier one still might.
    pub async fn release(self) {
        self.others_ended().await;
    }

    /// For storing the group again after a refusal: every id the filter took as new is looked up,
    /// since the filter may have been wrong about it (an id stored by another instance).
    pub fn look_up_all(&mut self) {
        for route in self.routes.iter_mut().flatten() {
            if *route == Route::New {
                *route = Route::LookUp;
            }
        }
    }
}

/// Without `release` (a writer task that panicked), the claims go at once.
impl Drop for GroupClaim<'_> {
    fn drop(&mut self) {
        let mut state = self.claims.state.lock().unwrap_or_else(PoisonError::into_inner);
        for hash in &self.held {
            // A later group may have taken the id over; it is released when that group ends.
            if state.claimed.get(hash).is_some_and(|holder| holder.group == self.group) {
                state.claimed.remove(hash);
            }
        }
        state.groups.remove(&self.group);
        // The claims go before the sender: a group that claims after this one ended finds the ids
        // in the filter and looks them up.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch<'b>(organization: &'b str, ids: &[&'b str]) -> (&'b str, Vec<&'b str>) {
        (organization, ids.to_vec())
    }

    #[test]
    fn a_new_id_is_stored_without_a_lookup_and_looked_up_when_it_comes_again() {
        let claims = IdClaims::new(1_000);
        let first = claims.claim([batch("org", &["a", "b"]), batch("org", &["b", "c"])]);
        assert_eq!(first.routes(0), [Route::New, Route::New]);
        assert_eq!(first.routes(1), [Route::LookUp, Route::New], "b comes from this group's earlier batch");
        drop(first);
        let again = claims.claim([batch("org", &["a", "d"]), batch("other", &["a"])]);
        assert_eq!(again.routes(0), [Route::LookUp, Route::New]);
        assert_eq!(again.routes(1), [Route::New], "ids are per organization");
    }

    #[tokio::test]
    async fn an_id_another_group_is_storing_waits_until_that_group_ends() {
        let claims = IdClaims::new(1_000);
        let storing = claims.claim([batch("org", &["a", "b"])]);
        let mut retry = claims.claim([batch("org", &["b", "c"])]);
        assert_eq!(retry.routes(0), [Route::AfterOthers, Route::New]);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), retry.others_ended()).await;
        assert!(waiting.is_err(), "the other group has not ended");
        drop(storing);
        retry.others_ended().await;
        retry.look_up_all();
        assert_eq!(retry.routes(0), [Route::AfterOthers, Route::LookUp]);
        drop(retry);
        let later = claims.claim([batch("org", &["b", "c"])]);
        assert_eq!(later.routes(0), [Route::LookUp, Route::LookUp], "ended groups hold no claims");
        later.others_ended().await;
    }

    #[tokio::test]
    async fn an_id_taken_over_stays_held_when_the_group_it_came_from_ends() {
        let claims = IdClaims::new(1_000);
        let first = claims.claim([batch("org", &["x"])]);
        let second = claims.claim([batch("org", &["x", "y"]), batch("org", &["x"])]);
        assert_eq!(second.routes(0), [Route::AfterOthers, Route::New]);
        assert_eq!(second.routes(1), [Route::AfterOthers], "its later batch waits for the same group");
        // The first group fails and ends before the second has looked x up: a third group must not
        // take x as its own, or it and the second would both copy it.
        drop(first);
        let third = claims.claim([batch("org", &["x"])]);
        assert_eq!(third.routes(0), [Route::AfterOthers]);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), third.others_ended()).await;
        assert!(waiting.is_err(), "the third waits for the second, which holds x now");
        drop(second);
        third.others_ended().await;
    }
}
