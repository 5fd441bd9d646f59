//! ExecuteCommand on this host: a long poll (`PollExec`) for sessions, and for each one
//! the agent's end of its stream (see `flotilla_model::exec`): wait for the client's
//! `Start`, run the command in the container with the runtime, carry input, output and
//! terminal sizes, and end with the command's exit status.
//!
//! Only when the runtime runs commands (Docker; simulated hosts do not poll).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flotilla_aws::client::Duplex;
use flotilla_model::exec::{
    data_frames, split_command, Decoder, ExecRequest, Frame, PollExecRequest,
};
use flotilla_runtime::{ExecOutput, ExecSpec, Runtime};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

use crate::api::{AgentApi, Identity};
use crate::backoff::Backoff;

/// How long one PollExec may be held.
const POLL_WAIT: Duration = Duration::from_secs(20);
/// How long the client has to send `Start` once the agent is attached.
const START_WITHIN: Duration = Duration::from_secs(30);
/// How long the agent's end stays open after its last frame, for the client to leave.
const LINGER: Duration = Duration::from_secs(10);
/// How long after its output ends a command's exit status is waited for.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// Poll for sessions until `stop`, serving each in a task of its own.
pub(crate) async fn run(
    api: Arc<dyn AgentApi>,
    runtime: Arc<dyn Runtime>,
    identity: Arc<Identity>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::standard();
    loop {
        let request = PollExecRequest {
            cluster: identity.cluster().to_string(),
            container_instance_arn: identity.instance_arn(),
            wait_millis: POLL_WAIT.as_millis() as u64,
        };
        let answer = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            answer = api.poll_exec(&request) => answer,
        };
        match answer {
            Ok(answer) => {
                backoff.reset();
                for session in answer.sessions {
                    tokio::spawn(serve(api.clone(), runtime.clone(), session));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "PollExec failed");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}

/// Serve one session; whatever goes wrong is told to the client as an `Error` frame.
async fn serve(api: Arc<dyn AgentApi>, runtime: Arc<dyn Runtime>, session: ExecRequest) {
    let id = session.session_id.clone();
    let Duplex { send, mut receive } =
        match api.attach_exec(&session.session_id, &session.token).await {
            Ok(duplex) => duplex,
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "attaching to an exec session failed");
                return;
            }
        };
    let outcome = run_session(runtime.as_ref(), &session, &send, &mut receive).await;
    let last = match outcome {
        Ok(code) => Frame::Exit(code),
        Err(message) => {
            tracing::info!(session = %id, %message, "exec session ended without a status");
            Frame::Error(message)
        }
    };
    let _ = send.send(Bytes::from(last.encode())).await;
    drop(send);
    // Ending the request's body ends the client's answer once everything sent is through;
    // dropping the answer first would reset the stream and lose the last frames, so wait
    // for the client to go (it does once it has the status).
    let _ = tokio::time::timeout(LINGER, async { while receive.next().await.is_some() {} }).await;
    tracing::info!(session = %id, task = %session.task_arn, container = %session.container_name, "exec session ended");
}

/// The next frame from the client; `None` when its stream ended.
async fn next_frame(
    receive: &mut BoxStream<'static, Result<Bytes, String>>,
    decoder: &mut Decoder,
) -> Result<Option<Frame>, String> {
    loop {
        if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            return Ok(Some(frame));
        }
        match receive.next().await {
            Some(Ok(chunk)) => decoder.push(&chunk),
            Some(Err(e)) => return Err(format!("the client's stream failed: {e}")),
            None => return Ok(None),
        }
    }
}

/// Run the session's command and carry its streams; its exit status.
async fn run_session(
    runtime: &dyn Runtime,
    session: &ExecRequest,
    send: &mpsc::Sender<Bytes>,
    receive: &mut BoxStream<'static, Result<Bytes, String>>,
) -> Result<i32, String> {
    let mut decoder = Decoder::new();
    let start = tokio::time::timeout(START_WITHIN, next_frame(receive, &mut decoder))
        .await
        .map_err(|_| "the client sent nothing to start the command with".to_string())??;
    let (tty, cols, rows) = match start {
        Some(Frame::Start { tty, cols, rows }) => (tty, cols, rows),
        Some(other) => return Err(format!("the client began with {other:?}, not Start")),
        None => return Err("the client left before starting the command".into()),
    };
    let command = split_command(&session.command).map_err(|e| e.to_string())?;
    let spec = ExecSpec {
        command,
        tty,
        size: (cols > 0 && rows > 0).then_some((cols, rows)),
    };
    let exec = runtime
        .exec(&session.runtime_id, &spec)
        .await
        .map_err(|e| format!("the command could not be started: {e}"))?;
    let exec_id = exec.id.clone();
    let mut output = exec.output;
    let mut input = exec.input;
    // The client's frames, carried to the command while its output is carried back.
    let carry_input = async {
        loop {
            match next_frame(receive, &mut decoder).await {
                Ok(Some(Frame::Stdin(data))) => {
                    if input.write_all(&data).await.is_err() {
                        // The command closed its input; its output still matters.
                        std::future::pending::<()>().await;
                    }
                    let _ = input.flush().await;
                }
                Ok(Some(Frame::StdinClosed)) => {
                    let _ = input.shutdown().await;
                }
                Ok(Some(Frame::Resize { cols, rows })) => {
                    if let Err(e) = runtime.resize_exec(&exec_id, cols, rows).await {
                        tracing::debug!(exec = %exec_id, error = %e, "resize failed");
                    }
                }
                Ok(Some(other)) => {
                    return format!("the client sent {other:?}, which only the agent sends")
                }
                Ok(None) => return "the client left".to_string(),
                Err(e) => return e,
            }
        }
    };
    let carry_output = async {
        while let Some(chunk) = output.next().await {
            let bytes = match chunk {
                Ok(ExecOutput::Stdout(b)) => data_frames(&b, Frame::Stdout),
                Ok(ExecOutput::Stderr(b)) => data_frames(&b, Frame::Stderr),
                Err(e) => return Err(format!("reading the command's output failed: {e}")),
            };
            if send.send(Bytes::from(bytes)).await.is_err() {
                return Err("the session's stream closed".to_string());
            }
        }
        Ok(())
    };
    tokio::select! {
        gone = carry_input => return Err(gone),
        done = carry_output => done?,
    }
    exit_code(runtime, &exec_id).await
}

/// The exit status of a command whose output has ended (the engine may take a moment to
/// record it).
async fn exit_code(runtime: &dyn Runtime, exec_id: &str) -> Result<i32, String> {
    let deadline = tokio::time::Instant::now() + EXIT_WITHIN;
    loop {
        match runtime.exec_exit_code(exec_id).await {
            Ok(Some(code)) => return Ok(i32::try_from(code).unwrap_or(i32::MAX)),
            Ok(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(None) => return Err("the command's output ended but it is still running".into()),
            Err(e) => return Err(format!("reading the command's exit status failed: {e}")),
        }
    }
}
