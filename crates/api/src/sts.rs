//! STS, query protocol: `GetCallerIdentity`, so `aws sts get-caller-identity` tells a user
//! which account and identity their credentials map to.

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, AwsService, AwsServiceSpec, Context, Input, Output, Protocol};

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

    async fn call(
        &self,
        ctx: &Context,
        operation: &str,
        _input: Input,
    ) -> Result<Output, AwsError> {
        match operation {
            "GetCallerIdentity" => {
                let mut w = XmlWriter::new();
                w.leaf("Arn", &ctx.principal_arn);
                w.leaf("UserId", self.state.account());
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
