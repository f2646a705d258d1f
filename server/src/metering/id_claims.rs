//! Which event ids a group of batches may store without looking them up, and which it must leave
//! until another of this instance's writers has committed.
//!
//! PostgreSQL ingestion runs several writers. Two that copy the same new id conflict on the unique
//! index, and the one refused stores its whole group again: clients retrying a batch that timed
//! out (5 % of events repeating ids of batches still in flight) cut the ingestion rate to a quarter
//! and its p99 to seconds. So a group claims its ids before its transaction begins, one group at a
//! time. An id another group has claimed and not yet committed is stored after that group ends:
//! by then its row is committed and a lookup finds it. Claims are only ever awaited in the order
//! they were made, so writers cannot wait on each other in a circle.
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
    /// Looked up once the group that claimed it has ended.
    AfterOthers,
}

pub struct IdClaims {
    state: Mutex<State>,
}

struct State {
    seen: SeenIds,
    /// Each id claimed by a group still storing, and that group.
    claimed: HashMap<IdHash, u64>,
    /// Each group still storing: its end is the end of its sender.
    groups: HashMap<u64, watch::Receiver<()>>,
    next_group: u64,
}

/// One group's claims, held while it stores; dropping it releases them.
pub struct GroupClaim<'c> {
    claims: &'c IdClaims,
    group: u64,
    owned: Vec<IdHash>,
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
        let mut owned = Vec::new();
        let mut others: HashMap<u64, watch::Receiver<()>> = HashMap::new();
        let routes = batches
            .into_iter()
            .map(|(organization_id, event_ids)| {
                event_ids
                    .into_iter()
                    .map(|event_id| {
                        let hash = IdHash::of(organization_id, event_id);
                        match state.claimed.get(&hash) {
                            Some(&owner) if owner == group => Route::LookUp,
                            Some(&owner) => {
                                if let Some(end) = state.groups.get(&owner) {
                                    others.entry(owner).or_insert_with(|| end.clone());
                                }
                                Route::AfterOthers
                            }
                            None => {
                                state.claimed.insert(hash, group);
                                owned.push(hash);
                                if state.seen.may_contain(hash) {
                                    Route::LookUp
                                } else {
                                    state.seen.insert(hash);
                                    Route::New
                                }
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        GroupClaim { claims: self, group, owned, routes, others: others.into_values().collect(), _ends: ends }
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

impl Drop for GroupClaim<'_> {
    fn drop(&mut self) {
        let mut state = self.claims.state.lock().unwrap_or_else(PoisonError::into_inner);
        for hash in &self.owned {
            state.claimed.remove(hash);
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
}
