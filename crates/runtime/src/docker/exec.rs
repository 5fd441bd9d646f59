//! Commands in running containers: Docker's exec create, start (attached: the engine
//! hands over the connection, raw with a terminal, stdout and stderr multiplexed without),
//! resize and inspect.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;

use super::error::from_bollard;
use crate::{ExecOutput, ExecSession, ExecSpec, Result, RuntimeError};

pub(crate) async fn start(docker: &Docker, id: &str, spec: &ExecSpec) -> Result<ExecSession> {
    let created = docker
        .create_exec(
            id,
            CreateExecOptions::<String> {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(spec.tty),
                cmd: Some(spec.command.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(from_bollard)?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: spec.tty,
                output_capacity: None,
            }),
        )
        .await
        .map_err(from_bollard)?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(RuntimeError::Unavailable(format!(
            "the engine started exec {} detached",
            created.id
        )));
    };
    let output = output
        .filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(ExecOutput::Stdout(message)))
                }
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(from_bollard(e))),
            }
        })
        .boxed();
    // API 1.41 takes no size at creation: the terminal gets it once it exists.
    if let (true, Some((cols, rows))) = (spec.tty, spec.size) {
        if let Err(e) = resize(docker, &created.id, cols, rows).await {
            tracing::debug!(exec = %created.id, error = %e, "sizing the terminal failed");
        }
    }
    Ok(ExecSession {
        id: created.id,
        output,
        input,
    })
}

pub(crate) async fn resize(docker: &Docker, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
    docker
        .resize_exec(
            exec_id,
            ResizeExecOptions {
                height: rows,
                width: cols,
            },
        )
        .await
        .map_err(from_bollard)
}

pub(crate) async fn exit_code(docker: &Docker, exec_id: &str) -> Result<Option<i64>> {
    let answer = docker.inspect_exec(exec_id).await.map_err(from_bollard)?;
    Ok(match answer.running {
        Some(true) => None,
        _ => answer.exit_code,
    })
}
