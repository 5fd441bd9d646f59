//! The stored form of a task definition revision and of its family.

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::tag::Tag;
use crate::task_definition::{TaskDefinition, TaskDefinitionStatus};

/// One registered revision with its tags (tags are not part of the `TaskDefinition`
/// shape; DescribeTaskDefinition returns them beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDefinitionRecord {
    pub definition: TaskDefinition,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl TaskDefinitionRecord {
    pub fn family(&self) -> &str {
        self.definition.family.as_deref().unwrap_or("")
    }

    pub fn arn(&self) -> &str {
        self.definition.task_definition_arn.as_deref().unwrap_or("")
    }

    pub fn revision(&self) -> i64 {
        i64::from(self.definition.revision)
    }

    pub fn status(&self) -> TaskDefinitionStatus {
        self.definition.status
    }
}

impl Record for TaskDefinitionRecord {
    const KIND: &'static str = "task-definition";
    const VERSION: u32 = 1;
}

/// A family's revision counter: revisions are never reused, even after deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyRecord {
    pub last_revision: i64,
}

impl Record for FamilyRecord {
    const KIND: &'static str = "task-definition-family";
    const VERSION: u32 = 1;
}
