//! Placements planned but not yet visible in the task index. A RunTask plans on its
//! cluster's picture (which then counts the plan) and reserves its tasks here before it
//! lets go of the picture, so a picture rebuilt while the plan is with the plan applier
//! still counts them. A reservation ends once its tasks are visible in the task index, or
//! the applier turned the plan down; once committed it carries its revision, and a rebuild
//! that finds the index past that revision leaves it out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use flotilla_store::Revision;

use crate::placement::resources::Usage;

/// One reserved task: where, what it takes, its group.
#[derive(Debug, Clone)]
pub struct Reserved {
    pub instance_arn: String,
    pub usage: Usage,
    pub group: String,
}

/// One reservation's tasks, with the revision they were committed at once known.
type Held = (Option<Revision>, Vec<Reserved>);

/// In-flight placements of this process.
#[derive(Default)]
pub struct Reservations {
    next: AtomicU64,
    /// Each reservation's tasks, and the revision they were committed at once known.
    held: Mutex<HashMap<u64, Held>>,
}

/// Ends its reservation when dropped (after the commit, or on any early return).
pub struct Reservation<'a> {
    owner: &'a Reservations,
    id: u64,
}

impl Reservation<'_> {
    /// The reserved tasks were committed at `rev`.
    pub fn committed(&self, rev: Revision) {
        if let Some(entry) = self.owner.lock().get_mut(&self.id) {
            entry.0 = Some(rev);
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.owner.lock().remove(&self.id);
    }
}

impl Reservations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn hold(&self, tasks: Vec<Reserved>) -> Reservation<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (None, tasks));
        Reservation { owner: self, id }
    }

    /// Everything reserved on each instance, leaving out what was committed at or before
    /// `visible` (the task index's loads hold that already).
    pub fn by_instance(&self, visible: Revision) -> HashMap<String, Vec<Reserved>> {
        let mut out: HashMap<String, Vec<Reserved>> = HashMap::new();
        let held = self.lock();
        let pending = held
            .values()
            .filter(|(rev, _)| rev.is_none_or(|r| r > visible))
            .flat_map(|(_, tasks)| tasks);
        for r in pending {
            out.entry(r.instance_arn.clone())
                .or_default()
                .push(r.clone());
        }
        out
    }
}
