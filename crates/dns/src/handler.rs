//! One query in, one reply out, for both transports: [`Handler::answer_now`] answers
//! from the table without waiting for anything and hands back a [`Pending`] for the few
//! queries that need the forwarders; [`Handler::answer`] does both in turn (TCP, tests).
//!
//! Checked in this order, each failure answered with its code: EDNS version (BADVERS),
//! opcode (NOTIMP), exactly one question (FORMERR), class IN (REFUSED), no zone transfer
//! (REFUSED). Then the table answers ([`crate::lookup`]); a name in none of the zones is
//! forwarded for an allowed client, SERVFAIL when there is no forwarder, none answers or
//! every forwarding slot is taken, and REFUSED for everyone else.
//!
//! The reply is a hickory-proto [`Message`] that echoes the client's question as decoded
//! (its letter case kept, for clients that randomise it) and is encoded with name
//! compression, so answer names point back at the question's name. A UDP reply is
//! limited to the payload size of its OPT record (512 bytes without one) and a TCP reply
//! to 64 KiB; records that do not fit are left out and TC is set.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use tokio::sync::OwnedSemaphorePermit;

use crate::lookup::{self, Outcome};
use crate::Shared;

/// How a message came and how its reply goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// Answers queries from the table in force; cheap to clone.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) shared: Arc<Shared>,
}

/// What a message gets without waiting.
pub(crate) enum Answer {
    /// The encoded reply is in the buffer given.
    Ready,
    /// Nothing goes back: not even a header could be read, or it is a response.
    Nothing,
    /// The reply waits for the forwarders; [`Pending::finish`] completes it.
    Pending(Box<Pending>),
}

/// A reply that waits for the forwarders. It holds one of the forwarding slots
/// ([`crate::Options::max_forwards`]) until it is finished or dropped.
pub(crate) struct Pending {
    reply: Message,
    wait: Wait,
    transport: Transport,
    _slot: OwnedSemaphorePermit,
}

/// A reply, or what it waits for.
enum Next {
    Reply(Message),
    Wait(Pending),
}

/// What a pending reply waits for.
enum Wait {
    /// The whole query (as the client sent it) relayed to the forwarders.
    Relay(Vec<u8>),
    /// The rest of a CNAME chain that left Flotilla's zones.
    Chase(Name, RecordType),
}

impl Handler {
    /// Answer one message as received (`raw`) from `src`, writing the reply into `out`
    /// (cleared first) unless it must wait for the forwarders.
    pub(crate) fn answer_now(
        &self,
        raw: &[u8],
        src: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Answer {
        let Ok(header) = Header::read(&mut BinDecoder::new(raw)) else {
            return Answer::Nothing;
        };
        if header.metadata.message_type == MessageType::Response {
            return Answer::Nothing;
        }
        let request = match Message::read(&mut BinDecoder::new(raw)) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(%src, error = %e, "malformed query");
                header_only(&header.metadata, ResponseCode::FormErr, out);
                return Answer::Ready;
            }
        };
        match self.reply(request, raw, src, transport) {
            Next::Reply(reply) => {
                encode(&reply, transport, out);
                Answer::Ready
            }
            Next::Wait(pending) => Answer::Pending(Box::new(pending)),
        }
    }

    /// [`Handler::answer_now`], then the forwarders when needed: `None` when there is
    /// nothing to send back.
    pub(crate) async fn answer(
        &self,
        raw: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match self.answer_now(raw, src, transport, &mut out) {
            Answer::Ready => Some(out),
            Answer::Nothing => None,
            Answer::Pending(pending) => Some(pending.finish(self).await),
        }
    }

    /// The reply to a request, or what it waits for.
    fn reply(&self, request: Message, raw: &[u8], src: SocketAddr, transport: Transport) -> Next {
        let shared = &self.shared;
        let mut reply = Message::new(
            request.metadata.id,
            MessageType::Response,
            request.metadata.op_code,
        );
        reply.metadata = Metadata::response_from_request(&request.metadata);
        // An OPT record answers an OPT record, advertising (and limited to) the smaller of
        // the client's and our payload size.
        reply.edns = request.edns.as_ref().map(|theirs| {
            let mut ours = Edns::new();
            ours.set_max_payload(theirs.max_payload().min(shared.max_udp_payload));
            ours
        });
        reply.queries = request.queries;
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return Next::Reply(error(reply, ResponseCode::BADVERS));
        }
        if request.metadata.op_code != OpCode::Query {
            return Next::Reply(error(reply, ResponseCode::NotImp));
        }
        let [query] = reply.queries.as_slice() else {
            return Next::Reply(error(reply, ResponseCode::FormErr));
        };
        if query.query_class() != DNSClass::IN {
            return Next::Reply(error(reply, ResponseCode::Refused));
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Next::Reply(error(reply, ResponseCode::Refused));
        }
        let forwarding = &shared.forwarding;
        let client_allowed = forwarding.allows(src.ip());
        reply.metadata.recursion_available = client_allowed && !forwarding.servers.is_empty();
        let outcome = shared
            .with_table(|table| lookup::resolve(table, query.name(), qtype, &mut rand::rng()));
        let wait = match outcome {
            Some(mut outcome) => {
                let outside = outcome.outside.take();
                authoritative(&mut reply, outcome);
                match outside {
                    Some(target) if reply.metadata.recursion_available => {
                        Wait::Chase(target, qtype)
                    }
                    _ => return Next::Reply(reply),
                }
            }
            None if !client_allowed => return Next::Reply(error(reply, ResponseCode::Refused)),
            None if forwarding.servers.is_empty() => {
                return Next::Reply(error(reply, ResponseCode::ServFail))
            }
            None => Wait::Relay(raw.to_vec()),
        };
        match forwarding.slot() {
            Ok(slot) => Next::Wait(Pending {
                reply,
                wait,
                transport,
                _slot: slot,
            }),
            Err(e) => {
                tracing::debug!(error = %e, "not forwarding");
                Next::Reply(match wait {
                    // The chain as far as it goes in Flotilla's zones.
                    Wait::Chase(..) => reply,
                    Wait::Relay(_) => error(reply, ResponseCode::ServFail),
                })
            }
        }
    }
}

impl Pending {
    /// Ask the forwarders and encode the reply.
    pub(crate) async fn finish(self: Box<Self>, handler: &Handler) -> Vec<u8> {
        let Pending {
            mut reply,
            wait,
            transport,
            _slot,
        } = *self;
        let shared = &handler.shared;
        let over_tcp = transport == Transport::Tcp;
        match wait {
            Wait::Relay(query) => match shared.forwarding.relay(&query, over_tcp).await {
                Ok(upstream) => relayed(&mut reply, upstream),
                Err(e) => {
                    tracing::debug!(error = %e, "forwarding failed");
                    reply = error(reply, ResponseCode::ServFail);
                }
            },
            Wait::Chase(target, qtype) => {
                chase(shared, &mut reply, target, qtype, over_tcp).await;
            }
        }
        let mut out = Vec::new();
        encode(&reply, transport, &mut out);
        out
    }
}

/// `reply` with `code` and empty sections.
fn error(mut reply: Message, code: ResponseCode) -> Message {
    reply.metadata.response_code = code;
    reply.metadata.authoritative = false;
    reply.answers.clear();
    reply.authorities.clear();
    reply.additionals.clear();
    reply
}

fn authoritative(reply: &mut Message, outcome: Outcome) {
    reply.metadata.response_code = outcome.rcode;
    reply.metadata.authoritative = outcome.authoritative;
    reply.answers = outcome.answers;
    reply.authorities = outcome.authority;
    reply.additionals = outcome.additionals;
}

fn relayed(reply: &mut Message, upstream: Message) {
    let theirs = upstream.metadata;
    reply.metadata.response_code = theirs.response_code;
    reply.metadata.authoritative = theirs.authoritative;
    reply.metadata.truncation = theirs.truncation;
    reply.metadata.authentic_data = theirs.authentic_data;
    reply.answers = upstream.answers;
    reply.authorities = upstream.authorities;
    reply.additionals = upstream.additionals;
}

/// A CNAME chain left Flotilla's zones: ask the forwarders for the rest, as a recursive
/// resolver would, so that stub resolvers get addresses.
async fn chase(
    shared: &Shared,
    reply: &mut Message,
    target: Name,
    qtype: RecordType,
    over_tcp: bool,
) {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(target, qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(shared.max_udp_payload);
    query.edns = Some(edns);
    let Ok(bytes) = query.to_vec() else {
        return;
    };
    match shared.forwarding.relay(&bytes, over_tcp).await {
        Ok(upstream) => {
            reply.answers.extend(upstream.answers);
            if upstream.metadata.response_code == ResponseCode::NXDomain {
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.authorities.extend(upstream.authorities);
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not follow a CNAME out of Flotilla's zones")
        }
    }
}

/// Encode `reply` into `out` with name compression, within the size its transport
/// allows: records past it are left out and TC is set. A reply that cannot be encoded
/// at all becomes a bare SERVFAIL header.
pub(crate) fn encode(reply: &Message, transport: Transport, out: &mut Vec<u8>) {
    let max = match transport {
        Transport::Udp => reply.edns.as_ref().map_or(512, Edns::max_payload),
        Transport::Tcp => u16::MAX,
    };
    out.clear();
    let mut encoder = BinEncoder::new(out);
    encoder.set_max_size(max);
    if let Err(e) = reply.emit(&mut encoder) {
        tracing::warn!(error = %e, "could not encode a reply; answering SERVFAIL");
        let mut failed = reply.metadata;
        failed.response_code = ResponseCode::ServFail;
        out.clear();
        emit_header(failed, out);
    }
}

/// A reply with no sections, only a header with `code`.
fn header_only(request: &Metadata, code: ResponseCode, out: &mut Vec<u8>) {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = code;
    out.clear();
    emit_header(metadata, out);
}

fn emit_header(metadata: Metadata, out: &mut Vec<u8>) {
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    // Twelve bytes into a growable buffer: this cannot fail.
    let _ = header.emit(&mut BinEncoder::new(out));
}
