//! IAM's policy language, as Flotilla enforces it on every call: [`policy`] reads and
//! checks a policy document (identity policies and roles' trust policies) with IAM's own
//! errors, [`condition`] evaluates a statement's `Condition` block, and [`eval`] decides
//! a request against a principal's policies (an explicit deny wins, then an allow, and
//! nothing allowed is denied), [`managed`] holds the AWS-managed policies ECS users attach.
//! The identities: [`user`], [`group`], [`role`] (with STS sessions), what they share
//! ([`identity`]), and the account's own managed policies ([`customer`]).

pub mod condition;
pub mod customer;
pub mod eval;
pub mod group;
pub mod identity;
pub mod managed;
pub mod policy;
pub mod role;
pub mod user;

/// IAM's wildcard match (`*` any run, `?` one character): [`crate::wildcard::glob`].
pub use crate::wildcard::glob;

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn stars_and_question_marks() {
        assert!(glob("ecs:*", "ecs:RunTask", false));
        assert!(glob("ecs:Describe*", "ecs:DescribeClusters", false));
        assert!(glob("ecs:describe*", "ECS:DescribeClusters", true));
        assert!(!glob("ecs:describe*", "ecs:DescribeClusters", false));
        assert!(glob("ecs:?unTask", "ecs:RunTask", false));
        assert!(!glob("ecs:?unTask", "ecs:unTask", false));
        assert!(glob("*", "", false));
        assert!(glob("a*b*c", "aXbYbZc", false));
        assert!(!glob("a*b", "aXbY", false));
        assert!(glob(
            "arn:aws:ecs:*:*:cluster/prod-*",
            "arn:aws:ecs:us-east-1:0:cluster/prod-1",
            false
        ));
    }

    proptest::proptest! {
        /// Any pattern against any text answers (no panic, no blow-up), and a text
        /// matches itself and `*`.
        #[test]
        fn any_pattern_answers(pattern in ".{0,40}", text in ".{0,40}") {
            let _ = glob(&pattern, &text, true);
            proptest::prop_assert!(glob("*", &text, false));
            if !text.contains(['*', '?']) {
                proptest::prop_assert!(glob(&text, &text, false));
            }
        }
    }
}
