//! One query in, one reply out: the [`RequestHandler`] hickory's server calls for every
//! UDP query, and [`Handler::answer`], the same path from raw bytes for our TCP
//! connections and for tests.
//!
//! Checked in this order, each failure answered with its code: EDNS version (BADVERS),
//! opcode (NOTIMP), exactly one question (FORMERR), class IN (REFUSED), no zone transfer
//! (REFUSED). Then the table answers ([`crate::lookup`]); a name in none of the zones is
//! forwarded for an allowed client, SERVFAIL when there is no forwarder or none answers,
//! and REFUSED for everyone else.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_server::net::runtime::{Time, TokioTime};
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_server::proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_server::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder,
};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};

use crate::lookup::{self, Outcome};
use crate::Shared;

/// Answers queries from the table in force; cheap to clone.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) shared: Arc<Shared>,
}

/// A reply being put together.
struct Reply {
    metadata: Metadata,
    edns: Option<Edns>,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additionals: Vec<Record>,
}

impl Reply {
    /// An empty NOERROR reply to `request`, with an OPT record when the request had one,
    /// advertising (and limited to) the smaller of the client's and our payload size.
    fn new(request: &Request, max_udp_payload: u16) -> Self {
        let edns = request.edns.as_ref().map(|theirs| {
            let mut ours = Edns::new();
            ours.set_max_payload(theirs.max_payload().min(max_udp_payload));
            ours
        });
        Reply {
            metadata: Metadata::response_from_request(&request.metadata),
            edns,
            answers: Vec::new(),
            authority: Vec::new(),
            additionals: Vec::new(),
        }
    }

    fn error(mut self, code: ResponseCode) -> Self {
        self.metadata.response_code = code;
        self.metadata.authoritative = false;
        self.answers.clear();
        self.authority.clear();
        self.additionals.clear();
        self
    }

    fn authoritative(mut self, outcome: Outcome) -> Self {
        self.metadata.response_code = outcome.rcode;
        self.metadata.authoritative = outcome.authoritative;
        self.answers = outcome.answers;
        self.authority = outcome.authority;
        self.additionals = outcome.additionals;
        self
    }

    fn relayed(mut self, upstream: Message) -> Self {
        let theirs = upstream.metadata;
        self.metadata.response_code = theirs.response_code;
        self.metadata.authoritative = theirs.authoritative;
        self.metadata.truncation = theirs.truncation;
        self.metadata.authentic_data = theirs.authentic_data;
        self.answers = upstream.answers;
        self.authority = upstream.authorities;
        self.additionals = upstream.additionals;
        self
    }
}

impl Handler {
    async fn reply(&self, request: &Request) -> Reply {
        let shared = &self.shared;
        let reply = Reply::new(request, shared.max_udp_payload);
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return reply.error(ResponseCode::BADVERS);
        }
        if request.metadata.op_code != OpCode::Query {
            return reply.error(ResponseCode::NotImp);
        }
        let [query] = request.queries.queries() else {
            return reply.error(ResponseCode::FormErr);
        };
        if query.query_class() != DNSClass::IN {
            return reply.error(ResponseCode::Refused);
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return reply.error(ResponseCode::Refused);
        }
        let forwarding = &shared.forwarding;
        let client_allowed = forwarding.allows(request.src().ip());
        let mut reply = reply;
        reply.metadata.recursion_available = client_allowed && !forwarding.servers.is_empty();
        let over_tcp = request.protocol() == Protocol::Tcp;
        let outcome = {
            let table = shared.table();
            lookup::resolve(&table, query.name(), qtype, &mut rand::rng())
        };
        match outcome {
            Some(outcome) => {
                let outside = outcome.outside.clone();
                let mut reply = reply.authoritative(outcome);
                if let Some(target) = outside {
                    if reply.metadata.recursion_available {
                        self.chase(&mut reply, target, qtype, over_tcp).await;
                    }
                }
                reply
            }
            None if !client_allowed => reply.error(ResponseCode::Refused),
            None if forwarding.servers.is_empty() => reply.error(ResponseCode::ServFail),
            None => match forwarding.relay(request.as_slice(), over_tcp).await {
                Ok(upstream) => reply.relayed(upstream),
                Err(e) => {
                    tracing::debug!(name = %query.name(), error = %e, "forwarding failed");
                    reply.error(ResponseCode::ServFail)
                }
            },
        }
    }

    /// A CNAME chain left Flotilla's zones: ask the forwarders for the rest, as a
    /// recursive resolver would, so that stub resolvers get addresses.
    async fn chase(&self, reply: &mut Reply, target: Name, qtype: RecordType, over_tcp: bool) {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(target, qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(self.shared.max_udp_payload);
        query.edns = Some(edns);
        let Ok(bytes) = query.to_vec() else {
            return;
        };
        match self.shared.forwarding.relay(&bytes, over_tcp).await {
            Ok(upstream) => {
                reply.answers.extend(upstream.answers);
                if upstream.metadata.response_code == ResponseCode::NXDomain {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                    reply.authority.extend(upstream.authorities);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not follow a CNAME out of Flotilla's zones")
            }
        }
    }

    /// Answer one message as received (`raw`) from `src`: `None` when there is nothing to
    /// send back (not even a header could be read, or it is a response).
    pub(crate) async fn answer(
        &self,
        raw: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let header = Header::read(&mut BinDecoder::new(&raw)).ok()?;
        if header.metadata.message_type == MessageType::Response {
            return None;
        }
        match Request::from_bytes(raw, src, protocol) {
            Ok(request) => {
                let capture = Capture::new(protocol);
                self.handle_request::<_, TokioTime>(&request, capture.clone())
                    .await;
                capture.take()
            }
            Err(e) => {
                tracing::debug!(%src, error = %e, "malformed query");
                header_only(&header.metadata, ResponseCode::FormErr)
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let reply = self.reply(request).await;
        let metadata = reply.metadata;
        let response = MessageResponseBuilder::new(&request.queries, reply.edns.as_ref()).build(
            metadata,
            reply.answers.iter(),
            reply.authority.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(src = %request.src(), error = %e, "could not send a reply");
                let mut failed = metadata;
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// A reply with no sections, only a header with `code`.
fn header_only(request: &Metadata, code: ResponseCode) -> Option<Vec<u8>> {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = code;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    header.to_bytes().ok()
}

/// Keeps the encoded reply instead of sending it: UDP replies are limited to the
/// payload size of their OPT record (512 without one), TCP replies to 64 KiB.
#[derive(Clone)]
struct Capture {
    protocol: Protocol,
    out: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Capture {
    fn new(protocol: Protocol) -> Self {
        Capture {
            protocol,
            out: Arc::new(Mutex::new(None)),
        }
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let max = match self.protocol {
            Protocol::Udp => response.edns().map_or(512, Edns::max_payload),
            _ => u16::MAX,
        };
        let metadata = *response.metadata();
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let (info, bytes) = match response.destructive_emit(&mut encoder) {
            Ok(info) => (info, bytes),
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a reply; answering SERVFAIL");
                let mut failed = metadata;
                failed.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                };
                (ResponseInfo::from(header), header.to_bytes()?)
            }
        };
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes);
        Ok(info)
    }
}
