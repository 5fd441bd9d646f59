//! SimulatePrincipalPolicy: the decision the policies of a user, group or role give for
//! each action on each resource, as the gateway would decide a request.

use flotilla_aws::xml::XmlWriter;
use flotilla_control::iam::authorize::of_arn;
use flotilla_control::iam::IamError;
use flotilla_model::iam::eval::{Context, Decision};

use super::truncated;
use crate::query::Params;
use crate::State;

/// Handle `operation` if it is SimulatePrincipalPolicy; false otherwise.
pub(super) fn dispatch(
    s: &State,
    operation: &str,
    p: &Params,
    w: &mut XmlWriter,
) -> Result<bool, IamError> {
    if operation != "SimulatePrincipalPolicy" {
        return Ok(false);
    }
    let who = of_arn(s, p.required("PolicySourceArn")?)?;
    let actions = p.strings("ActionNames");
    if actions.is_empty() {
        return Err(IamError::Validation(
            "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null".into(),
        ));
    }
    let mut resources = p.strings("ResourceArns");
    if resources.is_empty() {
        resources.push("*".into());
    }
    let mut context = Context::default();
    for entry in p.members("ContextEntries") {
        if let Some(key) = entry.get("ContextKeyName") {
            context.set(key, entry.strings("ContextKeyValues"));
        }
    }
    w.node("EvaluationResults", |w| {
        for action in &actions {
            for resource in &resources {
                let decision = match who.decide(action, resource, &context) {
                    Decision::Allow => "allowed",
                    Decision::ExplicitDeny => "explicitDeny",
                    Decision::ImplicitDeny => "implicitDeny",
                };
                w.node("member", |w| {
                    w.leaf("EvalActionName", action);
                    w.leaf("EvalResourceName", resource);
                    w.leaf("EvalDecision", decision);
                    w.node("MatchedStatements", |_| {});
                    w.node("MissingContextValues", |_| {});
                });
            }
        }
    });
    truncated(w, None);
    Ok(true)
}
