//! Commands run in a task's container (`ExecuteCommand`, `flotilla exec`): how a session
//! is handed to the agent, the frames its two ends exchange, and how ECS's one-string
//! `command` becomes an argument vector.
//!
//! A session has two ends, the client (`flotilla exec`) and the agent on the task's host;
//! each opens an HTTP/2 request to the server that created the session
//! (`/_flotilla/exec/SESSION/client` or `/agent`, with the session's token for that end
//! in [`TOKEN_HEADER`]) and the server joins one's request body to the other's response
//! body, byte for byte. What flows is a sequence of frames, a type byte, a four-byte
//! big-endian length and the payload:
//!
//! - client to agent: [`Frame::Start`] first (whether to allocate a terminal, and its
//!   size), then [`Frame::Stdin`], [`Frame::StdinClosed`] and [`Frame::Resize`];
//! - agent to client: [`Frame::Stdout`], [`Frame::Stderr`], and last [`Frame::Exit`] or
//!   [`Frame::Error`] (which the server sends too, when the other end never came).

use serde::{Deserialize, Serialize};

/// The header carrying an end's token.
pub const TOKEN_HEADER: &str = "x-flotilla-exec-token";
/// The path of a session's ends, below which `client` or `agent` follows.
pub const STREAM_PATH: &str = "/_flotilla/exec/";
/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The longest `command` ECS takes.
pub const MAX_COMMAND: usize = 10_240;

/// One message of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The client is there: start the command, with a terminal of `cols` × `rows` when
    /// `tty`.
    Start {
        tty: bool,
        cols: u16,
        rows: u16,
    },
    Stdin(Vec<u8>),
    /// The client's input ended.
    StdinClosed,
    /// The client's terminal changed size.
    Resize {
        cols: u16,
        rows: u16,
    },
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The command ended with this status.
    Exit(i32),
    /// The session ended without a status: why.
    Error(String),
}

const START: u8 = 1;
const STDIN: u8 = 2;
const STDIN_CLOSED: u8 = 3;
const RESIZE: u8 = 4;
const STDOUT: u8 = 16;
const STDERR: u8 = 17;
const EXIT: u8 = 18;
const ERROR: u8 = 19;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown exec frame type {0}")]
    UnknownType(u8),
    #[error("an exec frame of {0} bytes is longer than the {MAX_PAYLOAD} allowed")]
    TooLong(usize),
    #[error("an exec frame of type {kind} has a payload of {len} bytes, not {expected}")]
    BadLength {
        kind: u8,
        len: usize,
        expected: usize,
    },
}

impl Frame {
    /// The frame on the wire. Data longer than [`MAX_PAYLOAD`] must be split by the
    /// caller ([`data_frames`]); an error message is cut to fit.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            Frame::Start { tty, cols, rows } => {
                let mut p = vec![u8::from(*tty)];
                p.extend_from_slice(&cols.to_be_bytes());
                p.extend_from_slice(&rows.to_be_bytes());
                (START, p.into())
            }
            Frame::Stdin(d) => (STDIN, d.as_slice().into()),
            Frame::StdinClosed => (STDIN_CLOSED, Vec::new().into()),
            Frame::Resize { cols, rows } => {
                let mut p = cols.to_be_bytes().to_vec();
                p.extend_from_slice(&rows.to_be_bytes());
                (RESIZE, p.into())
            }
            Frame::Stdout(d) => (STDOUT, d.as_slice().into()),
            Frame::Stderr(d) => (STDERR, d.as_slice().into()),
            Frame::Exit(code) => (EXIT, code.to_be_bytes().to_vec().into()),
            Frame::Error(m) => {
                let mut end = m.len().min(MAX_PAYLOAD);
                while !m.is_char_boundary(end) {
                    end -= 1;
                }
                (ERROR, m.as_bytes()[..end].into())
            }
        };
        let len = payload.len().min(MAX_PAYLOAD);
        let mut out = Vec::with_capacity(5 + len);
        out.push(kind);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&payload[..len]);
        out
    }

    fn decode(kind: u8, p: &[u8]) -> Result<Frame, FrameError> {
        let exact = |expected: usize| {
            if p.len() == expected {
                Ok(())
            } else {
                Err(FrameError::BadLength {
                    kind,
                    len: p.len(),
                    expected,
                })
            }
        };
        let u16_at = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
        Ok(match kind {
            START => {
                exact(5)?;
                Frame::Start {
                    tty: p[0] != 0,
                    cols: u16_at(1),
                    rows: u16_at(3),
                }
            }
            STDIN => Frame::Stdin(p.to_vec()),
            STDIN_CLOSED => {
                exact(0)?;
                Frame::StdinClosed
            }
            RESIZE => {
                exact(4)?;
                Frame::Resize {
                    cols: u16_at(0),
                    rows: u16_at(2),
                }
            }
            STDOUT => Frame::Stdout(p.to_vec()),
            STDERR => Frame::Stderr(p.to_vec()),
            EXIT => {
                exact(4)?;
                Frame::Exit(i32::from_be_bytes([p[0], p[1], p[2], p[3]]))
            }
            ERROR => Frame::Error(String::from_utf8_lossy(p).into_owned()),
            other => return Err(FrameError::UnknownType(other)),
        })
    }
}

/// `data` as frames made by `make` (`Frame::Stdin`, `Frame::Stdout`...), each at most
/// [`MAX_PAYLOAD`] long, encoded one after the other.
pub fn data_frames(data: &[u8], make: fn(Vec<u8>) -> Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5);
    for chunk in data.chunks(MAX_PAYLOAD) {
        out.extend_from_slice(&make(chunk.to_vec()).encode());
    }
    out
}

/// Frames out of bytes that arrive in pieces of any size.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Take more bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` until one has arrived. An error means the stream is
    /// not exec frames: give up on it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLong(len));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let frame = Frame::decode(kind, &self.buf[5..5 + len]);
        self.buf.drain(..5 + len);
        frame.map(Some)
    }

    /// Bytes held that do not make a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// A session as the agent is told of it by `PollExec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecRequest {
    pub session_id: String,
    /// The agent's end's token.
    pub token: String,
    pub task_arn: String,
    pub container_name: String,
    /// The container's Docker id.
    pub runtime_id: String,
    /// ECS's `command`, one string: split with [`split_command`].
    pub command: String,
}

/// `PollExec`'s input: the agent waits for sessions for its instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollExecRequest {
    pub cluster: String,
    pub container_instance_arn: String,
    /// How long the server may hold the call when no session waits.
    pub wait_millis: u64,
}

/// `PollExec`'s answer: the sessions to attach to, often none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollExecResponse {
    pub sessions: Vec<ExecRequest>,
}

/// Why a command string is not a list of words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the command is empty")]
    Empty,
    #[error("the command has an unclosed {0} quote")]
    Unclosed(&'static str),
    #[error("the command ends in a lone backslash")]
    TrailingBackslash,
}

/// ECS's `command` as the words of an argument vector, split as a POSIX shell splits
/// words (blanks separate them; single quotes keep everything; double quotes keep all
/// but `\"` and `\\`; a backslash outside quotes escapes the next character). No
/// variables, globs or pipes: for those, run `sh -c '...'`, as with ECS Exec.
pub fn split_command(command: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(CommandError::Unclosed("single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(CommandError::Unclosed("double")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(CommandError::Unclosed("double")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(CommandError::TrailingBackslash),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(CommandError::Empty);
    }
    Ok(words)
}

/// Words as one command string that [`split_command`] turns back into them: each word
/// that is not plain is single-quoted.
pub fn join_command<S: AsRef<str>>(words: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c);
    words
        .iter()
        .map(|w| {
            let w = w.as_ref();
            if !w.is_empty() && w.chars().all(plain) {
                w.to_string()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
