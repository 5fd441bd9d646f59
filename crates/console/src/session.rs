//! Console sessions: who signed in, with which key, until when. A session is named by a
//! random id (the `HttpOnly` cookie) and carries a second random token the page must send
//! back in a header with every call (CSRF: another site can make a browser send the
//! cookie, not read the token). Sessions live in this server's memory only: a restart,
//! or another server, asks for the key again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;

/// The person signed in, as the console calls the APIs for them.
#[derive(Clone)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Who the key belongs to (GetCallerIdentity's ARN).
    pub arn: String,
    /// What the page sends in `X-Flotilla-Csrf`.
    pub csrf: String,
    created: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

/// Why a session was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such session (never signed in, signed out, or another server's).
    Unknown,
    /// It was, and has expired.
    Expired,
}

/// The sessions of this server.
pub struct Sessions {
    lifetimes: Lifetimes,
    /// At most this many at once: the oldest goes when a sign-in would pass it.
    cap: usize,
    by_id: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes, URL-safe base64.
fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    pub fn new(lifetimes: Lifetimes, cap: usize) -> Sessions {
        Sessions {
            lifetimes,
            cap: cap.max(1),
            by_id: Mutex::new(HashMap::new()),
        }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expires(&self, s: &Session) -> DateTime<Utc> {
        let idle = chrono::Duration::from_std(self.lifetimes.idle).unwrap_or_default();
        let absolute = chrono::Duration::from_std(self.lifetimes.absolute).unwrap_or_default();
        (s.last_seen + idle).min(s.created + absolute)
    }

    /// A new session for a key that signed in; its id.
    pub fn create(
        &self,
        access_key_id: String,
        secret_access_key: String,
        arn: String,
        now: DateTime<Utc>,
    ) -> (String, Session) {
        let session = Session {
            access_key_id,
            secret_access_key,
            arn,
            csrf: token(),
            created: now,
            last_seen: now,
        };
        let id = token();
        let mut all = self.lock();
        all.retain(|_, s| self.expires(s) > now);
        while all.len() >= self.cap {
            let oldest = all
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => all.remove(&k),
                None => break,
            };
        }
        all.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The session `id` names, if it is still on; using it keeps it on longer (up to its
    /// absolute lifetime). An expired session is forgotten.
    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Session, Missing> {
        let mut all = self.lock();
        let expires = match all.get(id) {
            Some(s) => self.expires(s),
            None => return Err(Missing::Unknown),
        };
        if expires <= now {
            all.remove(id);
            return Err(Missing::Expired);
        }
        let s = all.get_mut(id).ok_or(Missing::Unknown)?;
        s.last_seen = now;
        Ok(s.clone())
    }

    /// When the session `id` ends if it is not used again.
    pub fn expiry(&self, id: &str) -> Option<DateTime<Utc>> {
        self.lock().get(id).map(|s| self.expires(s))
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(cap: usize) -> Sessions {
        Sessions::new(
            Lifetimes {
                idle: Duration::from_secs(60),
                absolute: Duration::from_secs(300),
            },
            cap,
        )
    }

    #[test]
    fn a_session_lasts_while_used_until_its_absolute_end() {
        let s = sessions(10);
        let t0 = Utc::now();
        let (id, created) = s.create("AKIA1".into(), "secret".into(), "arn".into(), t0);
        assert_ne!(id, created.csrf);
        let at = |secs| t0 + chrono::Duration::seconds(secs);
        // Used every 50 s: still on at 250 s, gone at 300 s however recently used.
        for t in [50, 100, 150, 200, 250] {
            assert!(s.get(&id, at(t)).is_ok(), "{t}");
        }
        assert_eq!(s.get(&id, at(300)).unwrap_err(), Missing::Expired);
        assert_eq!(s.get(&id, at(301)).unwrap_err(), Missing::Unknown);

        let (idle, _) = s.create("AKIA1".into(), "secret".into(), "arn".into(), t0);
        assert_eq!(s.get(&idle, at(61)).unwrap_err(), Missing::Expired);
        assert_eq!(s.get("nonsense", t0).unwrap_err(), Missing::Unknown);
    }

    #[test]
    fn the_oldest_session_makes_room_and_ids_are_unguessable() {
        let s = sessions(2);
        let t0 = Utc::now();
        let (a, _) = s.create("A".into(), "x".into(), "arn".into(), t0);
        let (b, _) = s.create(
            "B".into(),
            "x".into(),
            "arn".into(),
            t0 + chrono::Duration::seconds(1),
        );
        let (c, _) = s.create(
            "C".into(),
            "x".into(),
            "arn".into(),
            t0 + chrono::Duration::seconds(2),
        );
        assert!(s.get(&a, t0).is_err());
        assert!(s.get(&b, t0).is_ok() && s.get(&c, t0).is_ok());
        assert_eq!(a.len(), 43);
        assert!(a != b && b != c);
        s.remove(&b);
        assert_eq!(s.get(&b, t0).unwrap_err(), Missing::Unknown);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = sessions(1);
        let (_, session) = s.create("AKIA1".into(), "hunter2".into(), "arn".into(), Utc::now());
        assert!(!format!("{session:?}").contains("hunter2"));
    }
}
