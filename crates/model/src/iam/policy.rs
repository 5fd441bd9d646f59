//! Policy documents: read from their JSON text and checked as IAM checks them, failing
//! with IAM's `MalformedPolicyDocument` sentences (and, for a JSON syntax error, where it
//! is). Two kinds: identity policies (`Action` and `Resource`, no `Principal`) and trust
//! policies of roles (`Principal` and `Action`, no `Resource`).

use serde_json::{Map, Value};

use super::condition::Condition;

/// The versions of the policy language IAM accepts.
pub const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];

/// Which kind of policy a document is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to (or inline in) a user, a group or a role.
    Identity,
    /// A role's trust policy: who may assume it.
    Trust,
}

/// Why a document is not a policy, in IAM's words (the `MalformedPolicyDocument` message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// A checked policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction`, `Resource`/`NotResource`: patterns, and whether the statement
/// applies to what they match or to everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub negated: bool,
    pub patterns: Vec<String>,
}

/// `Principal`/`NotPrincipal` of a trust policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    pub negated: bool,
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone.
    pub anyone: bool,
    /// `AWS`: account ids, account root ARNs, user and role ARNs.
    pub aws: Vec<String>,
    /// `Service`: `ecs-tasks.amazonaws.com`, ...
    pub service: Vec<String>,
    /// `Federated`: identity providers (stored; no federation is served).
    pub federated: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: Patterns,
    /// Absent in trust policies.
    pub resource: Option<Patterns>,
    /// Present only in trust policies.
    pub principal: Option<Principals>,
    pub conditions: Vec<Condition>,
}

/// The number of characters of `text` that count towards IAM's size quotas: every
/// character but whitespace.
pub fn quota_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Read and check `text` as a policy of `kind`.
pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        malformed(format!(
            "Syntax errors in policy (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(top) = value else {
        return Err(malformed("Syntax errors in policy."));
    };
    let mut version = None;
    let mut statements = Vec::new();
    let mut seen_statement = false;
    for (key, v) in &top {
        match key.as_str() {
            "Version" => {
                let v = v
                    .as_str()
                    .filter(|v| VERSIONS.contains(v))
                    .ok_or_else(|| malformed("The policy failed legacy parsing"))?;
                version = Some(v.to_string());
            }
            "Id" => {
                v.as_str()
                    .ok_or_else(|| malformed("Syntax errors in policy."))?;
            }
            "Statement" => {
                seen_statement = true;
                match v {
                    Value::Array(items) => {
                        for item in items {
                            statements.push(statement(item, kind)?);
                        }
                    }
                    Value::Object(_) => statements.push(statement(v, kind)?),
                    _ => return Err(malformed("Syntax errors in policy.")),
                }
            }
            other => return Err(malformed(format!("Unknown field {other}"))),
        }
    }
    if !seen_statement {
        return Err(malformed("Missing required field Statement"));
    }
    let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
    sids.sort_unstable();
    if sids.windows(2).any(|w| w[0] == w[1]) {
        return Err(malformed(
            "Statement IDs (SID) in a single policy must be unique.",
        ));
    }
    Ok(PolicyDocument {
        version,
        statements,
    })
}

fn statement(value: &Value, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return Err(malformed("Syntax errors in policy."));
    };
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(malformed(format!("Unknown field {key}")));
        }
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(sid)) if sid.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some(sid.clone())
        }
        Some(_) => {
            return Err(malformed(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ))
        }
    };
    let effect = match s.get("Effect") {
        None => return Err(malformed("Missing required field Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => return Err(malformed(format!("Invalid effect: {}", text_of(other)))),
    };
    let action = either(s, "Action", "NotAction")?
        .ok_or_else(|| malformed("Missing required field Action"))?;
    for a in &action.patterns {
        if a != "*" && !a.contains(':') {
            return Err(malformed(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ));
        }
    }
    let resource = either(s, "Resource", "NotResource")?;
    let principal = principals(s)?;
    match kind {
        PolicyKind::Identity => {
            if principal.is_some() {
                return Err(malformed("Policy document should not specify a principal."));
            }
            let r = resource
                .as_ref()
                .ok_or_else(|| malformed("Missing required field Resource"))?;
            for p in &r.patterns {
                if p != "*" && !p.starts_with("arn:") {
                    return Err(malformed(format!(
                        "Resource {p} must be in ARN format or \"*\"."
                    )));
                }
            }
        }
        PolicyKind::Trust => {
            if principal.is_none() {
                return Err(malformed("Missing required field Principal"));
            }
            if resource.is_some() {
                return Err(malformed("Has prohibited field Resource"));
            }
        }
    }
    let conditions = match s.get("Condition") {
        None => vec![],
        Some(Value::Object(block)) => super::condition::parse_block(block)?,
        Some(_) => return Err(malformed("Syntax errors in policy.")),
    };
    Ok(Statement {
        sid,
        effect,
        action,
        resource,
        principal,
        conditions,
    })
}

/// A string or a list of strings (a list must not be empty).
fn strings(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed("Syntax errors in policy."))
            })
            .collect(),
        _ => Err(malformed("Syntax errors in policy.")),
    }
}

/// `field` or `not_field` (not both).
fn either(
    s: &Map<String, Value>,
    field: &str,
    not_field: &str,
) -> Result<Option<Patterns>, PolicyError> {
    match (s.get(field), s.get(not_field)) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement can not have both {field} and {not_field}."
        ))),
        (Some(v), None) => Ok(Some(Patterns {
            negated: false,
            patterns: strings(v)?,
        })),
        (None, Some(v)) => Ok(Some(Patterns {
            negated: true,
            patterns: strings(v)?,
        })),
        (None, None) => Ok(None),
    }
}

fn principals(s: &Map<String, Value>) -> Result<Option<Principals>, PolicyError> {
    let (value, negated) = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(malformed(
                "Statement can not have both Principal and NotPrincipal.",
            ))
        }
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => return Ok(None),
    };
    let mut p = Principals {
        negated,
        ..Principals::default()
    };
    match value {
        Value::String(s) if s == "*" => p.anyone = true,
        Value::Object(map) => {
            for (kind, v) in map {
                let list = strings(v)?;
                match kind.as_str() {
                    "AWS" => {
                        for a in &list {
                            if a == "*" {
                                p.anyone = true;
                            } else if !(is_account(a) || a.starts_with("arn:")) {
                                return Err(malformed(format!(
                                    "Invalid principal in policy: \"AWS\":\"{a}\""
                                )));
                            }
                        }
                        p.aws.extend(list);
                    }
                    "Service" => p.service.extend(list),
                    "Federated" => p.federated.extend(list),
                    "CanonicalUser" => {}
                    other => {
                        return Err(malformed(format!(
                            "Invalid principal in policy: \"{other}\""
                        )))
                    }
                }
            }
        }
        other => {
            return Err(malformed(format!(
                "Invalid principal in policy: {}",
                text_of(other)
            )))
        }
    }
    Ok(Some(p))
}

/// A twelve-digit account id.
fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(text: &str) -> Result<PolicyDocument, String> {
        parse(text, PolicyKind::Identity).map_err(|e| e.0)
    }

    #[test]
    fn a_usual_policy_reads() {
        let doc = identity(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"},
                {"Effect": "Deny", "NotAction": "ecs:RunTask",
                 "Resource": "arn:aws:ecs:*:*:cluster/prod",
                 "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}"#,
        )
        .unwrap();
        assert_eq!(doc.statements.len(), 2);
        assert_eq!(
            doc.statements[0].action.patterns,
            ["ecs:Describe*", "ecs:List*"]
        );
        assert!(doc.statements[1].action.negated);
        assert_eq!(doc.statements[1].conditions.len(), 1);
        // One statement as an object, no version.
        identity(r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#).unwrap();
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        let cases = [
            (
                "{\"Statement\": [",
                "Syntax errors in policy (line 1, column 15).",
            ),
            ("[]", "Syntax errors in policy."),
            (
                r#"{"Version": "2019-01-01", "Statement": []}"#,
                "The policy failed legacy parsing",
            ),
            (
                r#"{"Version": "2012-10-17"}"#,
                "Missing required field Statement",
            ),
            (r#"{"Statement": [], "Extra": 1}"#, "Unknown field Extra"),
            (
                r#"{"Statement": [{"Action": "*", "Resource": "*"}]}"#,
                "Missing required field Effect",
            ),
            (
                r#"{"Statement": [{"Effect": "Allowed", "Action": "*", "Resource": "*"}]}"#,
                "Invalid effect: Allowed",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#,
                "Missing required field Action",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "RunTask", "Resource": "*"}]}"#,
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "ecs:*"}]}"#,
                "Missing required field Resource",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "cluster/x"}]}"#,
                "Resource cluster/x must be in ARN format or \"*\".",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "ecs:*", "NotAction": "ecs:x", "Resource": "*"}]}"#,
                "Statement can not have both Action and NotAction.",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}"#,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Statement": [{"Sid": "a", "Effect": "Allow", "Action": "*", "Resource": "*"},
                               {"Sid": "a", "Effect": "Deny", "Action": "*", "Resource": "*"}]}"#,
                "Statement IDs (SID) in a single policy must be unique.",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                               "Condition": {"StringEqualz": {"a:b": "c"}}}]}"#,
                "Invalid Condition type : StringEqualz",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}"#,
                "Syntax errors in policy.",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(identity(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn trust_policies_name_principals_and_no_resource() {
        let doc = parse(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com", "AWS": ["123456789012", "arn:aws:iam::123456789012:user/ci"]},
                "Action": "sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let p = doc.statements[0].principal.as_ref().unwrap();
        assert_eq!(p.service, ["ecs-tasks.amazonaws.com"]);
        assert_eq!(p.aws.len(), 2);
        let err = |t: &str| parse(t, PolicyKind::Trust).unwrap_err().0;
        assert_eq!(
            err(r#"{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}"#),
            "Missing required field Principal"
        );
        assert_eq!(
            err(
                r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}]}"#
            ),
            "Invalid principal in policy: \"AWS\":\"bob\""
        );
        assert_eq!(
            err(
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]}"#
            ),
            "Has prohibited field Resource"
        );
    }

    #[test]
    fn quota_size_skips_whitespace() {
        assert_eq!(quota_size("{ \"a\" :\n\t1 }"), 7);
    }

    proptest::proptest! {
        /// Whatever the bytes, reading them answers a document or IAM's error, never a
        /// panic.
        #[test]
        fn arbitrary_text_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text, PolicyKind::Identity);
            let _ = parse(&text, PolicyKind::Trust);
        }

        /// Arbitrary JSON shapes in the places of a policy's fields are read or refused.
        #[test]
        fn arbitrary_json_never_panics(v in arbitrary_json()) {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": v.clone(), "Resource": v.clone(), "Condition": v.clone(), "Principal": v.clone()},
                v]});
            let _ = parse(&doc.to_string(), PolicyKind::Identity);
            let _ = parse(&doc.to_string(), PolicyKind::Trust);
        }
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z:*?/${}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[A-Za-z:]{1,16}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
