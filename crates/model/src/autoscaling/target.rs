//! A scalable target as stored: what RegisterScalableTarget gave (bounds, role, suspended
//! state, tags), what the controller needs to honour cooldowns (the last scale-out and
//! scale-in) and when it last invoked each alarm's policy, and the last
//! [`MAX_ACTIVITIES`] scaling activities, oldest first.
//!
//! Key: `/autoscaling/targets/{region}/{resource id}`. An activity is one rewrite of the
//! record together with the marks it moves, so a reader never sees one without the other.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;

/// The activities kept per scalable target; older ones are dropped.
pub const MAX_ACTIVITIES: usize = 100;

/// Which kinds of scaling are suspended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendedState {
    pub dynamic_in: bool,
    pub dynamic_out: bool,
    pub scheduled: bool,
}

/// A scaling activity's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityStatus {
    Pending,
    InProgress,
    Successful,
    Overridden,
    Unfulfilled,
    Failed,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityStatus::Pending => "Pending",
            ActivityStatus::InProgress => "InProgress",
            ActivityStatus::Successful => "Successful",
            ActivityStatus::Overridden => "Overridden",
            ActivityStatus::Unfulfilled => "Unfulfilled",
            ActivityStatus::Failed => "Failed",
        }
    }
}

/// Why an activity did not scale (IncludeNotScaledActivities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotScaledReason {
    pub code: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub current: Option<i64>,
}

/// One scaling activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    pub description: String,
    pub cause: String,
    #[serde(with = "crate::timestamp")]
    pub start: DateTime<Utc>,
    #[serde(default, with = "crate::timestamp::option")]
    pub end: Option<DateTime<Utc>>,
    pub status: ActivityStatus,
    #[serde(default)]
    pub status_message: Option<String>,
    /// Not empty for an activity that did not scale.
    #[serde(default)]
    pub not_scaled: Vec<NotScaledReason>,
}

/// A scale-out or scale-in that happened, for cooldowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleMark {
    #[serde(with = "crate::timestamp")]
    pub at: DateTime<Utc>,
    /// The capacity before it.
    pub from: i64,
}

/// A scalable target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalableTargetRecord {
    /// The id in its ARN.
    pub id: String,
    pub arn: String,
    pub resource_id: String,
    pub min_capacity: i64,
    pub max_capacity: i64,
    pub role_arn: String,
    #[serde(default)]
    pub suspended: SuspendedState,
    #[serde(with = "crate::timestamp")]
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub last_scale_out: Option<ScaleMark>,
    #[serde(default)]
    pub last_scale_in: Option<ScaleMark>,
    /// When each alarm's action was last invoked, by alarm name (an alarm that stays in
    /// ALARM invokes its action again once per period).
    #[serde(default)]
    pub invoked: BTreeMap<String, InvokedAt>,
    /// Oldest first, at most [`MAX_ACTIVITIES`].
    #[serde(default)]
    pub activities: Vec<Activity>,
}

/// When an alarm's action was last invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvokedAt(#[serde(with = "crate::timestamp")] pub DateTime<Utc>);

impl Record for ScalableTargetRecord {
    const KIND: &'static str = "autoscaling-target";
    const VERSION: u32 = 1;
}

impl ScalableTargetRecord {
    /// Add an activity, dropping the oldest beyond [`MAX_ACTIVITIES`].
    pub fn push_activity(&mut self, activity: Activity) {
        self.activities.push(activity);
        if self.activities.len() > MAX_ACTIVITIES {
            let extra = self.activities.len() - MAX_ACTIVITIES;
            self.activities.drain(..extra);
        }
    }
}
