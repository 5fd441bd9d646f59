//! Deadlines and events: the heap that tells the runtime's single ticker when a
//! scripted exit or a health change owes an event, and the event channel itself.

use std::cmp::Reverse;

use tokio::sync::broadcast;

use super::{State, Status};
use crate::sim::clock::{container_id, Stamp};
use crate::ContainerEvent;

/// What a deadline brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Due {
    Health,
    Exit,
}

/// A change due to run `run` of container `key` at `at` (ordered by time first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Deadline {
    pub(super) at: Stamp,
    pub(super) key: u64,
    pub(super) run: u32,
    pub(super) due: Due,
}

/// Send an event, if anyone listens.
pub(super) fn emit(events: &Option<broadcast::Sender<ContainerEvent>>, key: u64, action: &str) {
    if let Some(tx) = events.as_ref().filter(|tx| tx.receiver_count() > 0) {
        let _ = tx.send(ContainerEvent {
            id: container_id(key),
            action: action.to_string(),
        });
    }
}

pub(super) fn health_action(healthy: bool) -> &'static str {
    if healthy {
        "health_status: healthy"
    } else {
        "health_status: unhealthy"
    }
}

impl State {
    /// Add a deadline; wake the ticker if it is now the earliest.
    pub(super) fn push_deadline(&mut self, deadline: Deadline) {
        if self
            .deadlines
            .peek()
            .is_none_or(|Reverse(first)| deadline < *first)
        {
            self.wake_ticker = true;
        }
        self.deadlines.push(Reverse(deadline));
    }

    /// When the next deadline is due, if any.
    pub(in crate::sim) fn next_deadline(&self) -> Option<Stamp> {
        self.deadlines.peek().map(|Reverse(d)| d.at)
    }

    /// Settle every deadline due by `now`, sending the events they owe.
    pub(in crate::sim) fn fire_due(&mut self, now: Stamp) {
        while let Some(Reverse(d)) = self.deadlines.peek().copied() {
            if d.at > now {
                break;
            }
            self.deadlines.pop();
            // As of the deadline, so a health change due before an exit is announced.
            self.settle(d.key, d.at);
            let Some(c) = self.containers.get_mut(&d.key).filter(|c| c.runs == d.run) else {
                continue;
            };
            match d.due {
                Due::Exit if c.scripted_end => {
                    c.scripted_end = false;
                    emit(&self.events, d.key, "die");
                }
                Due::Health if c.status == Status::Running => {
                    let healthy = c.script.health.is_some_and(|h| h.healthy);
                    emit(&self.events, d.key, health_action(healthy));
                }
                Due::Exit | Due::Health => {}
            }
        }
    }
}
