//! `flotilla exec TASK [CONTAINER] -- CMD...`: run a command in a running task's container
//! through its agent, as ECS Exec does. ECS `ExecuteCommand` (authorised as
//! `ecs:ExecuteCommand`, so the task must have been started with
//! `enableExecuteCommand`) opens the session; this end then attaches to it and carries
//! the terminal: `-t` gives the command a terminal (this one goes raw while it runs, and
//! its size follows this one's), `-i` sends standard input (without it the command's
//! input is closed at once). The process exits with the command's status.

use std::io::{IsTerminal, Read, Write};

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use flotilla_aws::client::duplex;
use flotilla_model::exec::{data_frames, join_command, Decoder, Frame, TOKEN_HEADER};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::{Api, Common};

/// How long the session's stream may take to open.
const ATTACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The task: its id or ARN (`flotilla ps` lists them).
    task: String,
    /// The container, when the task has more than one.
    container: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
    /// Give the command a terminal (this one goes raw until it ends).
    #[arg(long, short)]
    tty: bool,
    /// Send standard input to the command.
    #[arg(long, short)]
    interactive: bool,
    #[command(flatten)]
    common: Common,
}

/// Run the command; the exit status to end with.
pub fn run(args: ExecArgs) -> anyhow::Result<i32> {
    crate::server::runtime()?.block_on(session(&args))
}

async fn session(args: &ExecArgs) -> anyhow::Result<i32> {
    let api = Api::new(&args.common)?;
    let answer = api
        .ecs(
            "ExecuteCommand",
            json!({
                "cluster": args.common.cluster(),
                "task": args.task,
                "container": args.container,
                "command": join_command(&args.command),
                "interactive": true,
            }),
        )
        .await?;
    let session = &answer["session"];
    let (Some(path), Some(token)) = (
        session["streamUrl"].as_str(),
        session["tokenValue"].as_str(),
    ) else {
        return Err(anyhow!("ExecuteCommand answered without a session"));
    };
    let url = format!("{}{path}", api.ecs.endpoint().trim_end_matches('/'));
    let stream = duplex(
        &url,
        &[(TOKEN_HEADER, token)],
        api.ecs.tls(),
        ATTACH_TIMEOUT,
    )
    .await
    .map_err(super::explain)
    .context("attaching to the session")?;
    let (cols, rows) = if args.tty { size() } else { (0, 0) };
    let send = stream.send;
    send.send(
        Frame::Start {
            tty: args.tty,
            cols,
            rows,
        }
        .encode()
        .into(),
    )
    .await
    .map_err(|_| anyhow!("the session closed before the command started"))?;
    // Raw while the command runs, restored when this is dropped, whatever the outcome.
    let _raw = match args.tty && std::io::stdin().is_terminal() {
        true => Some(RawMode::enter()?),
        false => None,
    };
    if args.interactive {
        forward_stdin(send.clone());
    } else {
        let _ = send.send(Frame::StdinClosed.encode().into()).await;
    }
    if args.tty {
        tokio::spawn(follow_size(send.clone()));
    }
    let mut receive = stream.receive;
    let mut decoder = Decoder::new();
    loop {
        while let Some(frame) = decoder.next_frame()? {
            match frame {
                Frame::Stdout(data) => write_all(&mut std::io::stdout(), &data)?,
                Frame::Stderr(data) => write_all(&mut std::io::stderr(), &data)?,
                Frame::Exit(code) => return Ok(code),
                Frame::Error(message) => return Err(anyhow!("{message}")),
                other => return Err(anyhow!("the agent sent {other:?}, which only clients send")),
            }
        }
        match receive.next().await {
            Some(Ok(chunk)) => decoder.push(&chunk),
            Some(Err(e)) => return Err(anyhow!("the session's stream failed: {e}")),
            None => {
                return Err(anyhow!(
                    "the session ended without the command's exit status"
                ))
            }
        }
    }
}

fn write_all(out: &mut impl Write, data: &[u8]) -> anyhow::Result<()> {
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

/// Standard input as `Stdin` frames, then `StdinClosed`, read on a thread of its own (a
/// read from a terminal cannot be cancelled; the process ends without waiting for it).
fn forward_stdin(send: mpsc::Sender<Bytes>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let (frames, ended) = match stdin.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => (Frame::StdinClosed.encode(), true),
                Ok(n) => (data_frames(&buf[..n], Frame::Stdin), false),
            };
            if send.blocking_send(frames.into()).is_err() || ended {
                return;
            }
        }
    });
}

/// This terminal's size as (columns, rows); (0, 0) when it has none.
fn size() -> (u16, u16) {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .map(|w| (w.ws_col, w.ws_row))
        .unwrap_or((0, 0))
}

/// Send a `Resize` each time the terminal changes size.
async fn follow_size(send: mpsc::Sender<Bytes>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut changes) = signal(SignalKind::window_change()) else {
        return;
    };
    while changes.recv().await.is_some() {
        let (cols, rows) = size();
        if send
            .send(Frame::Resize { cols, rows }.encode().into())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Standard input in raw mode (no echo, no line editing, no signals from keys: they all
/// go to the command's terminal), put back as it was when dropped.
struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    fn enter() -> anyhow::Result<RawMode> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw).context("making the terminal raw")?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ =
            rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &self.saved);
    }
}
