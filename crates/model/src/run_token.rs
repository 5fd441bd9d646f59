//! What a RunTask with a `clientToken` answered, kept so that a retry with the same token
//! answers the same tasks instead of starting new ones.

use serde::{Deserialize, Serialize};

use crate::record::Record;

/// One task that could not be placed, with the ECS reason (`RESOURCE:MEMORY`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementFailure {
    pub arn: String,
    pub reason: String,
}

/// The answer of one RunTask, by client token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTokenRecord {
    pub task_arns: Vec<String>,
    #[serde(default)]
    pub failures: Vec<PlacementFailure>,
}

impl Record for RunTokenRecord {
    const KIND: &'static str = "run-token";
    const VERSION: u32 = 1;

    /// Version 0 is the bare `{"taskArns":[...],"failures":[...]}` document the first
    /// builds stored without an envelope: the same shape.
    fn upgrade(from: u32, data: serde_json::Value) -> Result<serde_json::Value, String> {
        match from {
            0 => Ok(data),
            _ => Err(format!("run-token record format version {from} is unknown")),
        }
    }
}
