//! ExecuteCommand sessions on this server: where an agent waiting in `PollExec` learns of
//! a session, and where a session's two ends (the client and the agent, see
//! `flotilla_model::exec`) are joined.
//!
//! Sessions live in this server's memory only. A session is opened only for an instance
//! whose agent is waiting here (or was a moment ago): an agent polling another server
//! answers `TargetNotConnectedException`, which names the limit. Each end attaches with
//! its own token within [`ATTACH_WITHIN`] of the session's opening, once; the server then
//! carries bytes between them without reading them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla_model::exec::{ExecRequest, Frame};
use flotilla_model::token::same;
use rand::RngCore;
use tokio::sync::{mpsc, watch, Notify};

/// How long both ends have to attach after a session opens.
pub const ATTACH_WITHIN: Duration = Duration::from_secs(30);
/// How long after its last poll an agent still counts as waiting here (the gap between
/// two polls).
const SEEN_WITHIN: Duration = Duration::from_secs(5);
/// How long after its last poll an agent is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Sessions opened and not yet joined, at most, on one server.
pub const MAX_PENDING: usize = 100;
/// Chunks in flight each way before a sender waits.
const PIPE_CHUNKS: usize = 32;

/// The two ends of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Client,
    Agent,
}

impl End {
    /// `client` or `agent`, as the end's path says.
    pub fn parse(s: &str) -> Option<End> {
        match s {
            "client" => Some(End::Client),
            "agent" => Some(End::Agent),
            _ => None,
        }
    }
}

/// Why a session was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the agent of this task's container instance is not connected to this server")]
    NotConnected,
    #[error("this server is shutting down")]
    Closed,
    #[error("this server has {MAX_PENDING} sessions waiting for their ends already")]
    TooMany,
}

/// Why an end was not attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("no such session on this server (it ended, expired, or was opened elsewhere)")]
    Unknown,
    #[error("the token does not match the session's")]
    Forbidden,
    #[error("this end of the session is attached already")]
    Taken,
}

/// What a session needs to know about its command.
#[derive(Debug, Clone)]
pub struct Command {
    pub instance_arn: String,
    pub task_arn: String,
    pub container_name: String,
    pub runtime_id: String,
    pub command: String,
}

/// A session just opened: its id and the client's token.
#[derive(Debug, Clone)]
pub struct Opened {
    pub session_id: String,
    pub token: String,
}

/// An attached end: where the bytes it sends go, and the bytes it is sent.
pub struct Attached {
    pub inbound: mpsc::Sender<Bytes>,
    pub outbound: mpsc::Receiver<Bytes>,
}

/// This server's sessions and waiting agents; clones share them.
#[derive(Clone)]
pub struct ExecHub {
    inner: Arc<Mutex<Inner>>,
    /// Set when the server shuts down: polls answer at once, sessions end.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for ExecHub {
    fn default() -> Self {
        ExecHub {
            inner: Arc::default(),
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

struct Inner {
    agents: HashMap<String, AgentSlot>,
    sessions: HashMap<String, Session>,
    /// When agents not seen for [`FORGET_AFTER`] were last forgotten.
    pruned: Instant,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            agents: HashMap::new(),
            sessions: HashMap::new(),
            pruned: Instant::now(),
        }
    }
}

impl Inner {
    /// Forget agents gone for [`FORGET_AFTER`], visiting them at most once per that
    /// interval rather than at every poll.
    fn prune(&mut self) {
        if self.pruned.elapsed() < FORGET_AFTER {
            return;
        }
        self.pruned = Instant::now();
        self.agents
            .retain(|_, s| s.waiting > 0 || s.seen.elapsed() < FORGET_AFTER);
    }
}

struct AgentSlot {
    /// Polls held now.
    waiting: usize,
    /// When a poll last started or ended.
    seen: Instant,
    queue: Vec<ExecRequest>,
    notify: Arc<Notify>,
}

impl AgentSlot {
    fn new() -> Self {
        AgentSlot {
            waiting: 0,
            seen: Instant::now(),
            queue: Vec::new(),
            notify: Arc::new(Notify::new()),
        }
    }

    fn connected(&self) -> bool {
        self.waiting > 0 || self.seen.elapsed() < SEEN_WITHIN
    }
}

/// One direction of a session, its ends taken as each side attaches.
struct Pipe {
    tx: Option<mpsc::Sender<Bytes>>,
    rx: Option<mpsc::Receiver<Bytes>>,
}

impl Pipe {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel(PIPE_CHUNKS);
        Pipe {
            tx: Some(tx),
            rx: Some(rx),
        }
    }
}

struct Session {
    instance_arn: String,
    client_token: String,
    agent_token: String,
    to_agent: Pipe,
    to_client: Pipe,
}

impl Session {
    fn token(&self, end: End) -> &str {
        match end {
            End::Client => &self.client_token,
            End::Agent => &self.agent_token,
        }
    }

    /// Take `end`'s halves: the sender of what it sends, the receiver of what it is sent.
    fn take(&mut self, end: End) -> Option<Attached> {
        let (send, receive) = match end {
            End::Client => (&mut self.to_agent, &mut self.to_client),
            End::Agent => (&mut self.to_client, &mut self.to_agent),
        };
        let outbound = receive.rx.take()?;
        let inbound = send.tx.take()?;
        Some(Attached { inbound, outbound })
    }

    fn joined(&self) -> bool {
        self.to_agent.rx.is_none() && self.to_client.rx.is_none()
    }
}

fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl ExecHub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open a session for `command` and tell the instance's agent; it must be waiting
    /// here. The session ends unless both ends attach within [`ATTACH_WITHIN`].
    pub fn open(&self, command: Command) -> Result<Opened, OpenError> {
        let session_id = format!("ecs-execute-command-{}", uuid::Uuid::new_v4().simple());
        let client_token = token();
        {
            let mut inner = self.lock();
            if self.is_closed() {
                return Err(OpenError::Closed);
            }
            if !inner
                .agents
                .get(&command.instance_arn)
                .is_some_and(AgentSlot::connected)
            {
                return Err(OpenError::NotConnected);
            }
            if inner.sessions.len() >= MAX_PENDING {
                return Err(OpenError::TooMany);
            }
            let agent_token = token();
            let request = ExecRequest {
                session_id: session_id.clone(),
                token: agent_token.clone(),
                task_arn: command.task_arn,
                container_name: command.container_name,
                runtime_id: command.runtime_id,
                command: command.command,
            };
            inner.sessions.insert(
                session_id.clone(),
                Session {
                    instance_arn: command.instance_arn.clone(),
                    client_token: client_token.clone(),
                    agent_token,
                    to_agent: Pipe::new(),
                    to_client: Pipe::new(),
                },
            );
            if let Some(slot) = inner.agents.get_mut(&command.instance_arn) {
                slot.queue.push(request);
                slot.notify.notify_one();
            }
        }
        let hub = self.clone();
        let id = session_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ATTACH_WITHIN).await;
            hub.expire(&id);
        });
        Ok(Opened {
            session_id,
            token: client_token,
        })
    }

    /// End a session whose ends did not both attach in time: a client left waiting is
    /// told why.
    fn expire(&self, id: &str) {
        let mut inner = self.lock();
        let Some(session) = inner.sessions.remove(id) else {
            return;
        };
        if let Some(slot) = inner.agents.get_mut(&session.instance_arn) {
            slot.queue.retain(|r| r.session_id != id);
        }
        drop(inner);
        if session.to_client.rx.is_none() {
            if let Some(tx) = &session.to_client.tx {
                let message = format!(
                    "the agent on the task's host did not attach to the session within {} s",
                    ATTACH_WITHIN.as_secs()
                );
                let _ = tx.try_send(Frame::Error(message).encode().into());
            }
        }
    }

    /// The sessions waiting for `instance_arn`'s agent, waiting up to `wait` for one.
    pub async fn poll(&self, instance_arn: &str, wait: Duration) -> Vec<ExecRequest> {
        let notify = {
            let mut inner = self.lock();
            inner.prune();
            let slot = inner
                .agents
                .entry(instance_arn.to_string())
                .or_insert_with(AgentSlot::new);
            slot.seen = Instant::now();
            if !slot.queue.is_empty() || self.is_closed() {
                return std::mem::take(&mut slot.queue);
            }
            slot.waiting += 1;
            slot.notify.clone()
        };
        let _waiting = Waiting {
            hub: self,
            instance_arn,
        };
        let woken = async {
            tokio::select! {
                () = notify.notified() => {}
                () = self.closed() => {}
            }
        };
        let _ = tokio::time::timeout(wait, woken).await;
        let mut inner = self.lock();
        inner
            .agents
            .get_mut(instance_arn)
            .map(|s| std::mem::take(&mut s.queue))
            .unwrap_or_default()
    }

    /// Attach `end` of session `id`, proving it with `token`.
    pub fn attach(&self, id: &str, end: End, token: &str) -> Result<Attached, AttachError> {
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(id).ok_or(AttachError::Unknown)?;
        if !same(session.token(end), token) {
            return Err(AttachError::Forbidden);
        }
        let attached = session.take(end).ok_or(AttachError::Taken)?;
        if session.joined() {
            // Both ends hold their halves now: the session needs no keeping.
            inner.sessions.remove(id);
        }
        Ok(attached)
    }

    /// Sessions opened and not yet joined.
    pub fn pending(&self) -> usize {
        self.lock().sessions.len()
    }

    /// The server is shutting down: answer every poll held now and later at once, open
    /// no session, and end those running ([`ExecHub::closed`]), so that nothing here
    /// holds the listeners' drain.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once [`ExecHub::close`] was called.
    pub async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// A poll being held: counted while it is, even if its caller goes away.
struct Waiting<'a> {
    hub: &'a ExecHub,
    instance_arn: &'a str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        if let Some(slot) = inner.agents.get_mut(self.instance_arn) {
            slot.waiting = slot.waiting.saturating_sub(1);
            slot.seen = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests;
