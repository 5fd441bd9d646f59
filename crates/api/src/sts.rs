//! STS, query protocol: `GetCallerIdentity`, so `aws sts get-caller-identity` tells a user
//! which account and identity their credentials map to (any caller may ask), and
//! `AssumeRole`: temporary credentials of a role whose trust policy allows the caller
//! (and, for a user or a session, whose own policies allow `sts:AssumeRole` on it).

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{
    AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Principal, Protocol,
};

use flotilla_control::iam::authorize::acting;
use flotilla_control::iam::roles::{self, Assumer};
use flotilla_control::iam::IamError;

use crate::query::{form, Params};
use crate::State;

pub struct Sts {
    spec: AwsServiceSpec,
    state: State,
}

impl Sts {
    pub fn new(state: State) -> Self {
        let spec = AwsServiceSpec {
            signing_name: "sts",
            protocol: Protocol::Query,
            target_prefix: "",
            xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
        };
        Sts { spec, state }
    }
}

#[async_trait]
impl AwsService for Sts {
    fn spec(&self) -> &AwsServiceSpec {
        &self.spec
    }

    /// Anyone may ask who they are (AWS needs no permission for it); IAM identities may
    /// ask to assume a role, which [`assume`] decides on the role itself.
    fn admits(&self, principal: &Principal, operation: &str) -> bool {
        match principal {
            Principal::Root => true,
            Principal::User => matches!(operation, "GetCallerIdentity" | "AssumeRole"),
            _ => operation == "GetCallerIdentity",
        }
    }

    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError> {
        match operation {
            "AssumeRole" => assume(&self.state, ctx, input).await,
            "GetCallerIdentity" => {
                let user_id = match ctx.principal {
                    Principal::User => acting(&self.state, &ctx.access_key)
                        .map(|a| a.user_id)
                        .unwrap_or_default(),
                    _ => self.state.account().to_string(),
                };
                let mut w = XmlWriter::new();
                w.leaf("Arn", &ctx.principal_arn);
                w.leaf("UserId", &user_id);
                w.leaf("Account", self.state.account());
                Ok(Output::Xml(w.finish()))
            }
            other => Err(AwsError::client(
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15."),
            )),
        }
    }
}

/// AssumeRole.
async fn assume(state: &State, ctx: &Context, input: Input) -> Result<Output, AwsError> {
    let p = Params::new(form(input, "STS")?);
    let wire = crate::iam::wire;
    let role_arn = p.required("RoleArn").map_err(|e| wire(e.into()))?;
    let session = p.required("RoleSessionName").map_err(|e| wire(e.into()))?;
    let duration = p
        .int("DurationSeconds", 0, i64::from(u32::MAX))
        .map_err(|e| wire(e.into()))?
        .map(|d| d as u32);
    let who = match ctx.principal {
        Principal::Root => Assumer::Root {
            arn: &ctx.principal_arn,
        },
        _ => Assumer::Identity {
            arn: &ctx.principal_arn,
            access_key: &ctx.access_key,
        },
    };
    let s = roles::assume(state, who, role_arn, session, duration)
        .await
        .map_err(wire)?;
    let role = roles::by_arn(state, role_arn).ok_or_else(|| {
        wire(IamError::NoSuchEntity(format!(
            "The role {role_arn} is gone."
        )))
    })?;
    let mut w = XmlWriter::new();
    w.node("Credentials", |w| {
        w.leaf("AccessKeyId", &s.access_key_id);
        w.leaf("SecretAccessKey", &s.secret_access_key);
        w.leaf("SessionToken", &s.session_token);
        w.leaf(
            "Expiration",
            &s.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    });
    w.node("AssumedRoleUser", |w| {
        w.leaf(
            "AssumedRoleId",
            &format!("{}:{}", role.value.role_id, s.session_name),
        );
        w.leaf("Arn", &s.arn(state.account()));
    });
    Ok(Output::Xml(w.finish()))
}
