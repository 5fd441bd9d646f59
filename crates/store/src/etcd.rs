//! The etcd backend (cargo feature `etcd`): [`Store`] on a real etcd v3 cluster.
//!
//! The store's semantics are etcd's own, so most calls map one to one: a key is the
//! store's prefix (default `/flotilla/`) and the key; revisions, mod-revision compares,
//! transactions, watches from a revision and leases are etcd's. What needs care:
//!
//! - A watch from a compacted revision: etcd accepts the watch and cancels it a moment
//!   later with the compaction revision. [`EtcdStore::watch`] reads the range at the start
//!   revision first, and when etcd says it is compacted, waits for that cancellation to
//!   answer [`StoreError::Compacted`] with the oldest revision kept.
//! - Progress ([`Store::watch_progress`]): etcd's on-demand progress notifications in the
//!   3.4 series can overtake events still being sent, so they are not used. A progress
//!   watch follows the store's whole prefix instead and drops events under other
//!   prefixes locally: each batch's progress is its last event's revision, which every
//!   write of the store's own keys advances.
//! - Limits: etcd refuses requests over 1.5 MiB and transactions of more than 128
//!   operations (its defaults). A transaction over either is refused here before it is
//!   sent, naming the limit, and callers that write many keys split their batches.
//! - History: the store compacts etcd's history to the last
//!   [`EtcdOptions::retain_revisions`] revisions every [`EtcdOptions::compact_every`];
//!   several servers sharing one etcd doing it too is harmless. Defragmentation and a
//!   full database (etcd's NOSPACE alarm) are the operator's, and their error says so.

pub mod local;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client as etcd;
use futures::StreamExt;

use crate::{
    Compare, CompareOp, Event, EventKind, KeyValue, LeaseId, Op, ProgressStream, RangePage,
    RangeRequest, Result, Revision, Store, StoreError, Txn, TxnResult, WatchBatch, WatchStream,
};

/// etcd's default `--max-request-bytes` (1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;
/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;
/// What a request carries besides its keys and values (framing, revisions, lease ids),
/// allowed per operation when checking [`MAX_REQUEST_BYTES`].
const OP_OVERHEAD: usize = 32;
/// How often a request that never reached etcd is sent again (see `retrying`).
const UNSENT_RETRIES: u32 = 5;
/// How long a watch on a compacted revision may take to be cancelled by etcd.
const COMPACTED_WAIT: Duration = Duration::from_secs(5);

/// TLS to etcd: the CA that signed its certificates, and a client certificate when etcd
/// asks for one (`--client-cert-auth`).
#[derive(Debug, Clone, Default)]
pub struct EtcdTls {
    /// PEM of the CA certificate(s).
    pub ca: Vec<u8>,
    /// PEM of the client certificate and its key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where the etcd cluster is and how the store uses it.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// `HOST:PORT` of each member.
    pub endpoints: Vec<String>,
    /// Every key of the store is this prefix and the key, so several stores can share
    /// one etcd cluster.
    pub prefix: Vec<u8>,
    pub tls: Option<EtcdTls>,
    /// How long connecting to a member may take.
    pub connect_timeout: Duration,
    /// How long one request may take (a watch's stream is not bounded).
    pub request_timeout: Duration,
    /// Revisions of history kept for watches to start from.
    pub retain_revisions: i64,
    /// How often history is compacted; zero for never.
    pub compact_every: Duration,
}

impl EtcdOptions {
    /// Options from a store URL: `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`. The prefix
    /// defaults to `/flotilla/`; one without a trailing slash gets one.
    pub fn from_url(url: &str) -> std::result::Result<EtcdOptions, String> {
        let rest = url.strip_prefix("etcd://").ok_or_else(|| {
            format!("'{url}' is not an etcd URL: etcd://HOST:PORT[,HOST:PORT...]")
        })?;
        let (hosts, prefix) = match rest.split_once('/') {
            Some((hosts, "")) => (hosts, "/flotilla/".to_string()),
            Some((hosts, path)) => (hosts, format!("/{}/", path.trim_end_matches('/'))),
            None => (rest, "/flotilla/".to_string()),
        };
        let mut endpoints = Vec::new();
        for host in hosts.split(',') {
            let valid = host
                .rsplit_once(':')
                .is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(format!(
                    "'{host}' in '{url}' is not HOST:PORT (etcd://HOST:PORT[,HOST:PORT...])"
                ));
            }
            endpoints.push(host.to_string());
        }
        Ok(EtcdOptions {
            endpoints,
            prefix: prefix.into_bytes(),
            ..EtcdOptions::default()
        })
    }
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            endpoints: vec!["127.0.0.1:2379".into()],
            prefix: b"/flotilla/".to_vec(),
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            retain_revisions: 100_000,
            compact_every: Duration::from_secs(60),
        }
    }
}

/// The etcd-backed [`Store`]. Cloning the client is cheap; every call uses its own.
pub struct EtcdStore {
    client: etcd::Client,
    prefix: Arc<[u8]>,
    closed: Arc<AtomicBool>,
    compactor: Option<tokio::task::AbortHandle>,
}

/// How often the connection to a member is pinged, and how long its answer may take: a
/// member cut off without a reset (its host lost or partitioned) stalls the watches and
/// calls on its connection until then, so the server moves to another within their sum
/// (9 s). etcd refuses pings closer than its `--grpc-keepalive-min-time` (5 s by default).
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(6);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(3);

impl EtcdStore {
    /// Connects to the cluster; fails when no member answers.
    pub async fn connect(options: EtcdOptions) -> Result<EtcdStore> {
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoints: Vec<String> = options
            .endpoints
            .iter()
            .map(|e| format!("{scheme}://{e}"))
            .collect();
        let mut connect = etcd::ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_timeout(options.request_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT);
        if let Some(tls) = &options.tls {
            let mut t =
                etcd::TlsOptions::new().ca_certificate(etcd::Certificate::from_pem(tls.ca.clone()));
            if let Some((cert, key)) = &tls.identity {
                t = t.identity(etcd::Identity::from_pem(cert.clone(), key.clone()));
            }
            connect = connect.with_tls(t);
        }
        let client = etcd::Client::connect(&endpoints, Some(connect))
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "connecting to etcd at {}: {e}",
                    options.endpoints.join(",")
                ))
            })?;
        let mut store = EtcdStore {
            client,
            prefix: options.prefix.clone().into(),
            closed: Arc::new(AtomicBool::new(false)),
            compactor: None,
        };
        // The first request tells whether the cluster is there at all.
        store.revision().await?;
        if !options.compact_every.is_zero() {
            let task = tokio::spawn(compact_loop(
                store.client.clone(),
                options.retain_revisions.max(1),
                options.compact_every,
            ));
            store.compactor = Some(task.abort_handle());
        }
        Ok(store)
    }

    /// Discards etcd's history before `revision`: a later watch from an older revision
    /// gets `Compacted`. Also done every [`EtcdOptions::compact_every`].
    pub async fn compact(&self, revision: Revision) -> Result<()> {
        self.live()?;
        match self
            .retrying(|mut c| async move { c.compact(revision, None).await })
            .await
        {
            Ok(_) => Ok(()),
            // Already compacted that far (by another server, or by etcd's own setting).
            Err(e) if message(&e).contains("required revision has been compacted") => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    /// Runs `call` on the client, and again (a few times, after a moment) when it failed
    /// without reaching etcd: the client spreads requests over every member and sends
    /// some to one that is down until it notices, and those are safe to send elsewhere.
    async fn retrying<T, F, Fut>(&self, call: F) -> std::result::Result<T, etcd::Error>
    where
        F: Fn(etcd::Client) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, etcd::Error>>,
    {
        let mut attempt = 0;
        loop {
            match call(self.client.clone()).await {
                Err(e) if attempt < UNSENT_RETRIES && never_sent(&e) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    fn live(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    fn full(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(key);
        k
    }

    /// Whether an etcd range at `revision` over `key..end` is still in the history;
    /// `Err(Compacted)` with `oldest` 0 when it is not (the caller finds the oldest).
    async fn check_history(&self, key: &[u8], end: &[u8], revision: Revision) -> Result<()> {
        let options = etcd::GetOptions::new()
            .with_range(end.to_vec())
            .with_revision(revision)
            .with_count_only();
        let call = |mut c: etcd::Client| {
            let (key, options) = (key.to_vec(), options.clone());
            async move { c.get(key, Some(options)).await }
        };
        match self.retrying(call).await {
            Ok(_) => Ok(()),
            Err(e) if message(&e).contains("required revision has been compacted") => {
                Err(StoreError::Compacted {
                    requested: revision,
                    oldest: 0,
                })
            }
            // Later than the current revision: nothing to replay, nothing compacted.
            Err(e) if message(&e).contains("future revision") => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    /// Opens an etcd watch of `key..end` from `from` (0: from now). Errors as
    /// [`Store::watch`] does; the stream yields etcd's responses after the creation.
    async fn open_watch(&self, key: Vec<u8>, end: Vec<u8>, from: Revision) -> Result<RawWatch> {
        self.live()?;
        let mut options = etcd::WatchOptions::new().with_range(end.clone());
        if from > 0 {
            options = options.with_start_revision(from);
        }
        let call = |mut c: etcd::Client| {
            let (key, options) = (key.clone(), options.clone());
            async move { c.watch(key, Some(options)).await }
        };
        let mut stream = self.retrying(call).await.map_err(backend)?;
        match stream.message().await.map_err(backend)? {
            Some(r) if r.created() && !r.canceled() => {}
            Some(r) => {
                return Err(StoreError::Backend(format!(
                    "etcd refused the watch: {}",
                    r.cancel_reason()
                )))
            }
            None => return Err(StoreError::Backend("etcd ended the watch at once".into())),
        }
        if from > 0 {
            if let Err(StoreError::Compacted { requested, .. }) =
                self.check_history(&key, &end, from).await
            {
                let oldest = compaction_of(&mut stream).await.unwrap_or(from + 1);
                return Err(StoreError::Compacted { requested, oldest });
            }
        }
        Ok(RawWatch {
            stream,
            prefix: self.prefix.clone(),
            closed: self.closed.clone(),
            next: from,
        })
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        if let Some(task) = &self.compactor {
            task.abort();
        }
    }
}

/// The compaction revision of a watch etcd is about to cancel for it, if it says so in
/// time.
async fn compaction_of(stream: &mut etcd::WatchStream) -> Option<Revision> {
    let deadline = tokio::time::Instant::now() + COMPACTED_WAIT;
    loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(r))) if r.compact_revision() > 0 => return Some(r.compact_revision()),
            Ok(Ok(Some(_))) => {}
            _ => return None,
        }
    }
}

/// Keeps the last `retain` revisions of history, compacting every `every`.
async fn compact_loop(client: etcd::Client, retain: i64, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut c = client.clone();
        let current = match c.status().await {
            Ok(s) => s.header().map_or(0, |h| h.revision()),
            Err(e) => {
                tracing::warn!(error = %e, "etcd status for compaction failed");
                continue;
            }
        };
        let target = current - retain;
        if target <= 0 {
            continue;
        }
        match c.compact(target, None).await {
            Ok(_) => tracing::debug!(revision = target, "etcd history compacted"),
            Err(e) if message(&e).contains("required revision has been compacted") => {}
            Err(e) => tracing::warn!(error = %e, "etcd compaction failed"),
        }
    }
}

/// An etcd watch after its creation, with what mapping its responses needs.
struct RawWatch {
    stream: etcd::WatchStream,
    prefix: Arc<[u8]>,
    closed: Arc<AtomicBool>,
    /// The first revision not yet delivered (for a compaction's error).
    next: Revision,
}

/// What one etcd watch response becomes.
enum Delivery {
    Events(Vec<Event>),
    End(StoreError),
}

impl RawWatch {
    /// The next response's events (possibly none), or why the watch ended.
    async fn next(&mut self) -> Option<Delivery> {
        if self.closed.load(Ordering::Acquire) {
            return Some(Delivery::End(StoreError::Closed));
        }
        let response = match self.stream.message().await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Some(Delivery::End(StoreError::Backend(
                    "etcd ended the watch".into(),
                )))
            }
            Err(e) => return Some(Delivery::End(backend(e))),
        };
        if response.compact_revision() > 0 {
            return Some(Delivery::End(StoreError::Compacted {
                requested: self.next,
                oldest: response.compact_revision(),
            }));
        }
        if response.canceled() {
            return Some(Delivery::End(StoreError::Backend(format!(
                "etcd cancelled the watch: {}",
                response.cancel_reason()
            ))));
        }
        let events: Vec<Event> = response
            .events()
            .iter()
            .filter_map(|e| event(&self.prefix, e))
            .collect();
        if let Some(last) = events.last() {
            self.next = last.kv.mod_revision + 1;
        }
        Some(Delivery::Events(events))
    }

    /// As a stream of batches: each response's events under `only` (the whole watched
    /// range when empty), with `with_empty` also those left with none.
    fn batches(self, only: Vec<u8>, with_empty: bool) -> ProgressStream {
        futures::stream::unfold(Some(self), move |state| {
            let only = only.clone();
            async move {
                let mut watch = state?;
                loop {
                    match watch.next().await? {
                        Delivery::End(e) => return Some((Err(e), None)),
                        Delivery::Events(events) => {
                            let Some(progress) = events.last().map(|e| e.kv.mod_revision) else {
                                continue;
                            };
                            let events: Vec<Event> = events
                                .into_iter()
                                .filter(|e| e.kv.key.starts_with(&only))
                                .collect();
                            if events.is_empty() && !with_empty {
                                continue;
                            }
                            return Some((Ok(WatchBatch { events, progress }), Some(watch)));
                        }
                    }
                }
            }
        })
        .boxed()
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        self.live()?;
        let key = self.full(key);
        let call = |mut c: etcd::Client| {
            let key = key.clone();
            async move { c.get(key, None).await }
        };
        let response = self.retrying(call).await.map_err(backend)?;
        Ok(response.kvs().first().map(|kv| key_value(&self.prefix, kv)))
    }

    async fn range(&self, req: RangeRequest) -> Result<RangePage> {
        self.live()?;
        let prefix = self.full(&req.prefix);
        let end = prefix_end(&prefix);
        let start = match &req.start_after {
            Some(after) => {
                let mut k = self.full(after);
                k.push(0);
                k.max(prefix)
            }
            None => prefix,
        };
        let mut options = etcd::GetOptions::new().with_range(end);
        if req.limit > 0 {
            options = options.with_limit(i64::try_from(req.limit).unwrap_or(i64::MAX));
        }
        let call = |mut c: etcd::Client| {
            let (start, options) = (start.clone(), options.clone());
            async move { c.get(start, Some(options)).await }
        };
        let response = self.retrying(call).await.map_err(backend)?;
        Ok(RangePage {
            kvs: response
                .kvs()
                .iter()
                .map(|kv| key_value(&self.prefix, kv))
                .collect(),
            more: response.more(),
            revision: response.header().map_or(0, |h| h.revision()),
        })
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResult> {
        self.live()?;
        check_limits(&txn)?;
        let compares: Vec<etcd::Compare> = txn
            .compares
            .iter()
            .map(|c| etcd_compare(&self.full(&c.key), c))
            .collect();
        let ops =
            |ops: &[Op]| -> Vec<etcd::TxnOp> { ops.iter().map(|op| self.etcd_op(op)).collect() };
        let request = etcd::Txn::new()
            .when(compares)
            .and_then(ops(&txn.success))
            .or_else(ops(&txn.failure));
        let leases: Vec<LeaseId> = txn
            .success
            .iter()
            .chain(&txn.failure)
            .filter_map(|op| match op {
                Op::Put { lease, .. } if *lease != 0 => Some(*lease),
                _ => None,
            })
            .collect();
        let call = |mut c: etcd::Client| {
            let request = request.clone();
            async move { c.txn(request).await }
        };
        let response = self
            .retrying(call)
            .await
            .map_err(|e| match lease_missing(&e) {
                // etcd does not say which lease; the first named is the likeliest.
                true => StoreError::LeaseNotFound(leases.first().copied().unwrap_or(0)),
                false => backend(e),
            })?;
        Ok(TxnResult {
            succeeded: response.succeeded(),
            revision: response.header().map_or(0, |h| h.revision()),
        })
    }

    async fn watch(&self, prefix: &[u8], from: Revision) -> Result<WatchStream> {
        let key = self.full(prefix);
        let end = prefix_end(&key);
        let raw = self.open_watch(key, end, from).await?;
        Ok(raw
            .batches(Vec::new(), false)
            .map(|item| item.map(|batch| batch.events))
            .boxed())
    }

    async fn watch_progress(&self, prefix: &[u8], from: Revision) -> Result<ProgressStream> {
        let all = self.full(b"");
        let end = prefix_end(&all);
        let raw = self.open_watch(all, end, from).await?;
        Ok(raw.batches(prefix.to_vec(), true))
    }

    async fn revision(&self) -> Result<Revision> {
        self.live()?;
        let options = etcd::GetOptions::new().with_count_only();
        let key = self.full(b"");
        let call = |mut c: etcd::Client| {
            let (key, options) = (key.clone(), options.clone());
            async move { c.get(key, Some(options)).await }
        };
        let response = self.retrying(call).await.map_err(backend)?;
        Ok(response.header().map_or(0, |h| h.revision()))
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        self.live()?;
        // etcd's TTLs are whole seconds: round up, so a lease never ends early.
        let seconds = i64::try_from(ttl.as_millis().div_ceil(1000))
            .unwrap_or(i64::MAX)
            .max(1);
        let response = self
            .retrying(|mut c| async move { c.lease_grant(seconds, None).await })
            .await
            .map_err(backend)?;
        Ok(response.id())
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<()> {
        self.live()?;
        let outcome = self
            .retrying(|mut c| async move { c.lease_keep_alive(lease).await.map(drop) })
            .await;
        lease_outcome(lease, outcome)
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.live()?;
        let outcome = self
            .retrying(|mut c| async move { c.lease_revoke(lease).await.map(drop) })
            .await;
        lease_outcome(lease, outcome)
    }

    fn max_txn_ops(&self) -> usize {
        MAX_TXN_OPS
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(task) = &self.compactor {
            task.abort();
        }
    }
}

impl EtcdStore {
    fn etcd_op(&self, op: &Op) -> etcd::TxnOp {
        match op {
            Op::Put { key, value, lease } => {
                let options = (*lease != 0).then(|| etcd::PutOptions::new().with_lease(*lease));
                etcd::TxnOp::put(self.full(key), value.clone(), options)
            }
            Op::Delete { key } => etcd::TxnOp::delete(self.full(key), None),
        }
    }
}

/// Refuses a transaction etcd would refuse for its size, before it is sent.
fn check_limits(txn: &Txn) -> Result<()> {
    let ops = txn
        .compares
        .len()
        .max(txn.success.len())
        .max(txn.failure.len());
    if ops > MAX_TXN_OPS {
        return Err(StoreError::Backend(format!(
            "a transaction of {ops} operations is over etcd's limit of {MAX_TXN_OPS} \
             (--max-txn-ops); split the batch"
        )));
    }
    let size = |op: &Op| match op {
        Op::Put { key, value, .. } => key.len() + value.len() + OP_OVERHEAD,
        Op::Delete { key } => key.len() + OP_OVERHEAD,
    };
    let bytes: usize = txn
        .compares
        .iter()
        .map(|c| c.key.len() + OP_OVERHEAD)
        .sum::<usize>()
        + txn
            .success
            .iter()
            .chain(&txn.failure)
            .map(size)
            .sum::<usize>();
    if bytes > MAX_REQUEST_BYTES {
        return Err(StoreError::Backend(format!(
            "a transaction of {bytes} bytes is over etcd's request limit of {MAX_REQUEST_BYTES} \
             bytes (--max-request-bytes); split the batch"
        )));
    }
    Ok(())
}

fn etcd_compare(key: &[u8], c: &Compare) -> etcd::Compare {
    let op = match c.op {
        CompareOp::Equal => etcd::CompareOp::Equal,
        CompareOp::NotEqual => etcd::CompareOp::NotEqual,
        CompareOp::Less => etcd::CompareOp::Less,
        CompareOp::Greater => etcd::CompareOp::Greater,
    };
    etcd::Compare::mod_revision(key.to_vec(), op, c.mod_revision)
}

/// The key after every key starting with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every key: etcd's "from the key on".
    vec![0]
}

fn key_value(prefix: &[u8], kv: &etcd::KeyValue) -> KeyValue {
    KeyValue {
        key: kv.key().strip_prefix(prefix).unwrap_or(kv.key()).to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

/// A store event from an etcd one, if its key is the store's.
fn event(prefix: &[u8], e: &etcd::Event) -> Option<Event> {
    let kv = e.kv()?;
    kv.key().starts_with(prefix).then(|| {
        let kind = match e.event_type() {
            etcd::EventType::Put => EventKind::Put,
            etcd::EventType::Delete => EventKind::Delete,
        };
        let mut kv = key_value(prefix, kv);
        if kind == EventKind::Delete {
            kv.value.clear();
            kv.create_revision = 0;
            kv.version = 0;
            kv.lease = 0;
        }
        Event { kind, kv }
    })
}

fn message(e: &etcd::Error) -> String {
    match e {
        etcd::Error::GRpcStatus(status) => status.message().to_string(),
        other => other.to_string(),
    }
}

/// Whether a request failed before reaching any member (no connection could be made).
fn never_sent(e: &etcd::Error) -> bool {
    let text = message(e);
    text.contains("tcp connect error") || text.contains("Connection refused")
}

fn lease_missing(e: &etcd::Error) -> bool {
    message(e).contains("lease not found")
}

/// A lease call's result as the store's: etcd's "lease not found" is
/// [`StoreError::LeaseNotFound`].
fn lease_outcome(lease: LeaseId, outcome: std::result::Result<(), etcd::Error>) -> Result<()> {
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if lease_missing(&e) => Err(StoreError::LeaseNotFound(lease)),
        Err(e) => Err(backend(e)),
    }
}

/// A failure of etcd as the store's error, with what to do about the ones an operator
/// must act on.
fn backend(e: etcd::Error) -> StoreError {
    let text = message(&e);
    if text.contains("database space exceeded") {
        return StoreError::Backend(
            "etcd's database is full (NOSPACE alarm): compact and defragment it, then \
             disarm the alarm (docs/high-availability.md, 'etcd's database size')"
                .into(),
        );
    }
    match e {
        etcd::Error::GRpcStatus(status) => StoreError::Backend(format!(
            "etcd: {} ({})",
            status.code().description(),
            status.message()
        )),
        other => StoreError::Backend(format!("etcd: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_end(b"/flotilla/"), b"/flotilla0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }

    #[test]
    fn store_urls() {
        let o = EtcdOptions::from_url("etcd://10.0.0.1:2379,10.0.0.2:2379").unwrap();
        assert_eq!(o.endpoints, ["10.0.0.1:2379", "10.0.0.2:2379"]);
        assert_eq!(o.prefix, b"/flotilla/");
        let o = EtcdOptions::from_url("etcd://h:1/team-a").unwrap();
        assert_eq!(o.prefix, b"/team-a/");
        assert!(EtcdOptions::from_url("etcd://h")
            .unwrap_err()
            .contains("HOST:PORT"));
        assert!(EtcdOptions::from_url("etcd://h:1,:2").is_err());
        assert!(EtcdOptions::from_url("http://h:1").is_err());
    }

    #[test]
    fn oversized_transactions_are_refused_before_sending() {
        let many = Txn {
            success: (0..=MAX_TXN_OPS)
                .map(|i| Op::put(format!("k{i}"), "v"))
                .collect(),
            ..Txn::default()
        };
        assert!(check_limits(&many)
            .unwrap_err()
            .to_string()
            .contains("--max-txn-ops"));
        let big = Txn {
            success: vec![Op::put("k", vec![0u8; MAX_REQUEST_BYTES])],
            ..Txn::default()
        };
        assert!(check_limits(&big)
            .unwrap_err()
            .to_string()
            .contains("--max-request-bytes"));
        let fine = Txn {
            success: vec![Op::put("k", vec![0u8; 1024 * 1024])],
            ..Txn::default()
        };
        assert!(check_limits(&fine).is_ok());
    }
}
