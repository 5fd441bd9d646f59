//! Deciding a request against a principal's policies, as IAM does within one account: a
//! statement applies when its action, its resource and its conditions all match; any
//! applicable `Deny` denies, otherwise any applicable `Allow` allows, otherwise the
//! request is denied by default. Trust policies decide who may assume a role the same way,
//! with the caller matched against their `Principal` instead of a resource.

use std::collections::BTreeMap;

use super::glob;
use super::policy::{Effect, Patterns, PolicyDocument, Principals, Statement};

/// The condition keys of a request and their values (`aws:RequestedRegion`,
/// `ecs:cluster`, `aws:ResourceTag/team`, ...), looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// Set `key` to `values`.
    pub fn set(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// Set `key` to one value.
    pub fn set_one(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.set(key, vec![value.into()])
    }

    /// Add every key of `other`, replacing any of the same name.
    pub fn extend(&mut self, other: &Context) -> &mut Self {
        self.values
            .extend(other.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// What is asked: an action (`ecs:RunTask`) on a resource ARN (`*` for actions that take
/// none), with the request's condition keys.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The outcome, and which it is: AWS's denial messages tell an explicit deny from a
/// missing allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Decide `request` against every policy of the principal (attached, inline, its
/// groups').
pub fn evaluate<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    request: &Request<'_>,
) -> Decision {
    decide(
        policies
            .into_iter()
            .flat_map(|p| &p.statements)
            .filter(|s| {
                patterns(&s.action, request.action, true)
                    && s.resource
                        .as_ref()
                        .is_none_or(|r| patterns(r, request.resource, false))
                    && conditions(s, request.context)
            }),
    )
}

/// The decision of the statements that apply: a deny among them wins, then an allow.
fn decide<'a>(applicable: impl Iterator<Item = &'a Statement>) -> Decision {
    let mut allowed = false;
    for s in applicable {
        match s.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Who asks to assume a role: the caller's ARN and account, or an AWS service.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A user, a role session or an account root: its ARN and its account.
    Aws { arn: &'a str, account: &'a str },
    /// A service principal (`ecs-tasks.amazonaws.com`).
    Service(&'a str),
}

/// Decide whether `caller` may perform `action` (`sts:AssumeRole`) under a role's trust
/// policy.
pub fn trusts(
    trust: &PolicyDocument,
    caller: Caller<'_>,
    action: &str,
    context: &Context,
) -> Decision {
    decide(trust.statements.iter().filter(|s| {
        s.principal
            .as_ref()
            .is_some_and(|p| principal_matches(p, caller) != p.negated)
            && patterns(&s.action, action, true)
            && conditions(s, context)
    }))
}

fn principal_matches(p: &Principals, caller: Caller<'_>) -> bool {
    match caller {
        Caller::Service(service) => p.anyone || p.service.iter().any(|s| s == service),
        Caller::Aws { arn, account } => {
            p.anyone
                || p.aws.iter().any(|a| {
                    // An account id or its root ARN stands for every principal of it.
                    a == account || *a == format!("arn:aws:iam::{account}:root") || a == arn
                })
        }
    }
}

/// Whether `value` matches one of the patterns (or, negated, none of them).
fn patterns(p: &Patterns, value: &str, fold: bool) -> bool {
    let hit = p.patterns.iter().any(|pat| glob(pat, value, fold));
    hit != p.negated
}

fn conditions(s: &Statement, context: &Context) -> bool {
    s.conditions.iter().all(|c| c.holds(context.get(&c.key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::{parse, PolicyKind};

    fn policy(text: &str) -> PolicyDocument {
        parse(text, PolicyKind::Identity).unwrap()
    }

    fn decide(
        policies: &[PolicyDocument],
        action: &str,
        resource: &str,
        ctx: &Context,
    ) -> Decision {
        evaluate(
            policies,
            &Request {
                action,
                resource,
                context: ctx,
            },
        )
    }

    const PROD: &str = "arn:aws:ecs:us-east-1:000000000000:cluster/prod";
    const DEV: &str = "arn:aws:ecs:us-east-1:000000000000:cluster/dev";

    #[test]
    fn explicit_deny_wins_and_nothing_allowed_is_denied() {
        let read = policy(
            r#"{"Statement": [{"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*"}]}"#,
        );
        let ctx = Context::default();
        assert_eq!(
            decide(
                std::slice::from_ref(&read),
                "ecs:DescribeClusters",
                PROD,
                &ctx
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                std::slice::from_ref(&read),
                "ecs:describeclusters",
                PROD,
                &ctx
            ),
            Decision::Allow,
            "actions ignore case"
        );
        assert_eq!(
            decide(std::slice::from_ref(&read), "ecs:RunTask", PROD, &ctx),
            Decision::ImplicitDeny
        );
        let all = policy(r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#);
        let no_prod = policy(&format!(
            r#"{{"Statement": [{{"Effect": "Deny", "Action": "ecs:*", "Resource": "{PROD}"}}]}}"#
        ));
        let both = [all, no_prod];
        assert_eq!(decide(&both, "ecs:RunTask", DEV, &ctx), Decision::Allow);
        assert_eq!(
            decide(&both, "ecs:RunTask", PROD, &ctx),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&[], "ecs:RunTask", DEV, &ctx),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action_not_resource_and_conditions() {
        let p = policy(&format!(
            r#"{{"Statement": [{{"Effect": "Allow", "NotAction": "ecs:Delete*", "NotResource": "{PROD}",
                "Condition": {{"StringEquals": {{"aws:RequestedRegion": "us-east-1"}}}}}}]}}"#
        ));
        let mut ctx = Context::default();
        ctx.set_one("aws:RequestedRegion", "us-east-1");
        assert_eq!(
            decide(std::slice::from_ref(&p), "ecs:RunTask", DEV, &ctx),
            Decision::Allow
        );
        assert_eq!(
            decide(std::slice::from_ref(&p), "ecs:DeleteCluster", DEV, &ctx),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(std::slice::from_ref(&p), "ecs:RunTask", PROD, &ctx),
            Decision::ImplicitDeny
        );
        ctx.set_one("AWS:REQUESTEDREGION", "eu-west-1");
        assert_eq!(
            decide(&[p], "ecs:RunTask", DEV, &ctx),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn trust_policies_match_the_caller() {
        let trust = parse(
            r#"{"Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/ci"}, "Action": "sts:AssumeRole"},
                {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/intern"}, "Action": "sts:*"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let ctx = Context::default();
        let aws = |arn| Caller::Aws {
            arn,
            account: "000000000000",
        };
        assert!(trusts(
            &trust,
            Caller::Service("ecs-tasks.amazonaws.com"),
            "sts:AssumeRole",
            &ctx
        )
        .allowed());
        assert!(trusts(
            &trust,
            aws("arn:aws:iam::000000000000:user/ci"),
            "sts:AssumeRole",
            &ctx
        )
        .allowed());
        assert_eq!(
            trusts(
                &trust,
                aws("arn:aws:iam::000000000000:user/bob"),
                "sts:AssumeRole",
                &ctx
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            trusts(
                &trust,
                aws("arn:aws:iam::000000000000:user/intern"),
                "sts:AssumeRole",
                &ctx
            ),
            Decision::ExplicitDeny
        );
        let account = parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        assert!(trusts(
            &account,
            aws("arn:aws:iam::000000000000:user/bob"),
            "sts:AssumeRole",
            &ctx
        )
        .allowed());
        assert!(!trusts(
            &account,
            Caller::Aws {
                arn: "arn:aws:iam::111111111111:user/x",
                account: "111111111111"
            },
            "sts:AssumeRole",
            &ctx
        )
        .allowed());
    }
}
