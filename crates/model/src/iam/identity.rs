//! What users, groups and roles have in common: a name, the managed policies attached to
//! them and their inline policies, with IAM's quotas for each kind. The control plane
//! attaches, detaches, puts and deletes policies on any of them through [`Identity`].

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::policy::{parse, quota_size, PolicyDocument, PolicyKind};
use crate::record::Record;

/// At most this many managed policies attached to one user, group or role (IAM's
/// default quota).
pub const MAX_ATTACHED_POLICIES: usize = 10;

/// The kinds of identity, as IAM's messages and quota names spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
    Role,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Role => "Role",
        }
    }

    /// The most characters (whitespace not counted) of all the identity's inline
    /// policies together: IAM's aggregate quotas.
    pub fn inline_quota(self) -> usize {
        match self {
            Kind::User => 2_048,
            Kind::Group => 5_120,
            Kind::Role => 10_240,
        }
    }
}

/// A user, a group or a role as stored.
pub trait Identity: Record + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    const IDENTITY: Kind;
    fn name(&self) -> &str;
    /// The ARNs of the managed policies attached, in attachment order.
    fn attached(&self) -> &Vec<String>;
    fn attached_mut(&mut self) -> &mut Vec<String>;
    /// Inline policies by name: their documents' text.
    fn inline(&self) -> &BTreeMap<String, String>;
    fn inline_mut(&mut self) -> &mut BTreeMap<String, String>;
}

/// Check an inline policy before `identity` takes it as `name`: the name's rules, the
/// document, and the identity's aggregate quota with the new document in place of any
/// old one of that name.
pub fn check_inline<T: Identity>(
    identity: &T,
    name: &str,
    text: &str,
) -> Result<PolicyDocument, InlineError> {
    check_policy_name(name).map_err(InlineError::Validation)?;
    let document = parse(text, PolicyKind::Identity).map_err(|e| InlineError::Malformed(e.0))?;
    let others: usize = identity
        .inline()
        .iter()
        .filter(|(n, _)| n.as_str() != name)
        .map(|(_, t)| quota_size(t))
        .sum();
    let quota = T::IDENTITY.inline_quota();
    if others + quota_size(text) > quota {
        return Err(InlineError::Limit(format!(
            "Maximum policy size of {quota} bytes exceeded for {} {}",
            T::IDENTITY.as_str().to_lowercase(),
            identity.name()
        )));
    }
    Ok(document)
}

/// Why an inline policy was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InlineError {
    Validation(String),
    Malformed(String),
    Limit(String),
}

/// Check a policy name (managed or inline): 1 to 128 of letters, digits and `+=,.@_-`.
pub fn check_policy_name(name: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The specified value for policyName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- and be 1 to 128 characters long: {name}"
        ))
    }
}

/// Implement [`Identity`] for a record with `attached_policies` and `inline_policies`.
macro_rules! identity {
    ($record:ty, $kind:expr, $name:ident) => {
        impl $crate::iam::identity::Identity for $record {
            const IDENTITY: $crate::iam::identity::Kind = $kind;
            fn name(&self) -> &str {
                &self.$name
            }
            fn attached(&self) -> &Vec<String> {
                &self.attached_policies
            }
            fn attached_mut(&mut self) -> &mut Vec<String> {
                &mut self.attached_policies
            }
            fn inline(&self) -> &std::collections::BTreeMap<String, String> {
                &self.inline_policies
            }
            fn inline_mut(&mut self) -> &mut std::collections::BTreeMap<String, String> {
                &mut self.inline_policies
            }
        }
    };
}
pub(crate) use identity;
