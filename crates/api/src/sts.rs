//! STS, query protocol: `GetCallerIdentity`, so `aws sts get-caller-identity` tells a user
//! which account and identity their credentials map to.

use async_trait::async_trait;
use flotilla_aws::xml::XmlWriter;
use flotilla_aws::{AwsError, Context, Input, Output, Protocol, Service, ServiceSpec};

use crate::State;

pub struct Sts {
    spec: ServiceSpec,
    state: State,
}

impl Sts {
    pub fn new(state: State) -> Self {
        let spec = ServiceSpec {
            signing_name: "sts",
            protocol: Protocol::Query,
            target_prefix: "",
            xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
        };
        Sts { spec, state }
    }
}

#[async_trait]
impl Service for Sts {
    fn spec(&self) -> &ServiceSpec {
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
