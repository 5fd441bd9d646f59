//! A task's secrets, read once before its first container is created: the values of its
//! containers' `secrets` (environment variables) and `repositoryCredentials` (a private
//! registry's login), which the server reads with the task's execution role. They are kept
//! in memory only (never in the checkpoint); a task that cannot have them fails to start
//! with the server's `ResourceInitializationError`.

use flotilla_model::agent_protocol::TaskRequest;

use super::TaskActor;

impl TaskActor {
    /// Read the secrets of containers not created yet, if any name one (or have the
    /// server check the execution role, if the task has one); false (and the task
    /// failing) when they cannot be read or the role may not pull or log.
    pub(super) async fn read_secrets(&mut self) -> bool {
        let pending: Vec<_> = self
            .containers
            .iter()
            .filter(|c| c.runtime_id.is_none())
            .collect();
        let named = pending
            .iter()
            .any(|c| !c.def.secrets.is_empty() || c.def.repository_credentials.is_some());
        let wanted = !pending.is_empty() && (named || self.execution_role);
        if !wanted {
            self.secrets_ready = true;
            return true;
        }
        let request = TaskRequest {
            cluster: self.ctx.identity.cluster().to_string(),
            container_instance_arn: self.ctx.identity.instance_arn(),
            task_arn: self.task_arn.clone(),
        };
        let answer = match self.ctx.api.task_secrets(&request).await {
            Ok(a) => a,
            Err(e) => {
                self.fail_to_start(format!(
                    "ResourceInitializationError: unable to pull secrets or registry auth: {e}"
                ));
                return false;
            }
        };
        // The server words the reason as ECS does.
        if let Some(reason) = answer.failure {
            self.fail_to_start(reason);
            return false;
        }
        for c in answer.containers {
            if let Some((username, password)) = c.registry_auth {
                self.spec
                    .registry_auth
                    .insert(c.name.clone(), (username, password));
            }
            self.spec.secret_env.insert(c.name, c.environment);
        }
        self.secrets_ready = true;
        true
    }
}
