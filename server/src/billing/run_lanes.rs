//! The invoice run's lanes: groups of work in flight at once, each organization's in one lane.
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::billing::period_rating::PlanCache;
use crate::error::Error;
use crate::store::{Db, Dialect};

/// Groups in flight at once. On PostgreSQL the database works on some groups' statements while
/// others are rated here: one group at a time left one of two cores idle. On the 2-core machine
/// 100,000 subscriptions took 51 s in one lane, 38 s in two, 33 s in three and 50 s in four.
/// SQLite has one writer, which a group holds from its first statement to its commit (a second
/// lane that read its group's usage on a reading connection meanwhile made the run slower: 37.3 s
/// against 35.9).
pub fn lanes(db: &Db) -> usize {
    match db.dialect {
        Dialect::Postgres => 3,
        Dialect::Sqlite => 1,
    }
}

/// The lane an organization's work takes: each organization in one lane only, so lanes never
/// wait for each other's locks (an organization's invoice numbers, credits and status).
pub fn lane_of(organization_id: &str, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    organization_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// The items in `lanes` lists, by the lane of each one's organization, in their order.
pub fn by_lane<T>(
    items: impl IntoIterator<Item = T>,
    organization_of: impl Fn(&T) -> &str,
    lanes: usize,
) -> Vec<Vec<T>> {
    let mut split: Vec<Vec<T>> = (0..lanes).map(|_| Vec::new()).collect();
    for item in items {
        let lane = lane_of(organization_of(&item), lanes);
        split[lane].push(item);
    }
    split
}

/// The plan caches of the lanes after the first, which uses the caller's (see [`lane_caches`]).
pub fn spare_caches(lanes: usize) -> Vec<PlanCache> {
    (1..lanes).map(|_| PlanCache::default()).collect()
}

/// A plan cache for each lane: the caller's for the first, and `extra` of their own.
pub fn lane_caches<'c>(
    first: &'c mut PlanCache,
    extra: &'c mut [PlanCache],
) -> impl Iterator<Item = &'c mut PlanCache> {
    std::iter::once(first).chain(extra.iter_mut())
}

/// The lanes' total, or the first lane's error. Every lane runs to its end or its own error:
/// stopping the others at once would drop them wherever they are, a commit sent but not
/// answered among them, and report as failed a group that committed.
pub fn all_lanes(results: Vec<Result<usize, Error>>) -> Result<usize, Error> {
    results.into_iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_keeps_its_lane_and_the_order_of_its_items() {
        let items = [("org_a", 1), ("org_b", 2), ("org_a", 3), ("org_c", 4), ("org_b", 5), ("org_a", 6)];
        let split = by_lane(items, |(org, _)| org, 3);
        assert_eq!(split.len(), 3);
        assert_eq!(split.iter().map(Vec::len).sum::<usize>(), items.len());
        for lane in &split {
            let mut last_of: std::collections::HashMap<&str, i32> = Default::default();
            for (org, n) in lane {
                assert_eq!(lane_of(org, 3), lane_of(lane[0].0, 3), "one lane per organization");
                assert!(last_of.insert(org, *n).is_none_or(|before| before < *n), "in their order");
            }
        }
        assert_eq!(by_lane(items, |(org, _)| org, 1), vec![items.to_vec()]);
    }
}
