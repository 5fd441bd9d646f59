//! Placements decided but not yet committed. A RunTask holds the cluster's placement lock
//! only while it takes a snapshot and plans; its tasks are then reserved here, the lock is
//! released and the commit runs, so the next RunTask can plan (seeing the reservation)
//! while this one's write is in flight, and concurrent commits share one fsync. The
//! reservation ends once the commit is visible in the task index (or failed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::resources::Usage;

/// One reserved task: where, what it takes, its group.
#[derive(Debug, Clone)]
pub struct Reserved {
    pub instance_arn: String,
    pub usage: Usage,
    pub group: String,
}

/// In-flight placements of this process.
#[derive(Default)]
pub struct Reservations {
    next: AtomicU64,
    held: Mutex<HashMap<u64, Vec<Reserved>>>,
}

/// Ends its reservation when dropped (after the commit, or on any early return).
pub struct Reservation<'a> {
    owner: &'a Reservations,
    id: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.owner.lock().remove(&self.id);
    }
}

impl Reservations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<Reserved>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn hold(&self, tasks: Vec<Reserved>) -> Reservation<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, tasks);
        Reservation { owner: self, id }
    }

    /// Everything reserved on each instance.
    pub fn by_instance(&self) -> HashMap<String, Vec<Reserved>> {
        let mut out: HashMap<String, Vec<Reserved>> = HashMap::new();
        for r in self.lock().values().flatten() {
            out.entry(r.instance_arn.clone())
                .or_default()
                .push(r.clone());
        }
        out
    }
}
