//! The wire format, as pure functions: building a query, deciding whether a datagram is the
//! reply to it, and classifying an accepted reply.
//!
//! Validation order: source address and port, length (at least a header; over UDP at most the
//! payload size the query advertised), ID, QR, the question (name case-insensitively, type,
//! class); a reply failing any check is ignored and counted, and the query keeps waiting. A
//! truncated reply only needs a valid header and question (its body may be cut mid-record).
//! FORMERR may come without a question, as many servers send it.

use std::net::SocketAddr;

use hickory_proto::op::{Message, Query, ResponseCode};
#[cfg(test)]
use hickory_proto::op::{MessageType, OpCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::trace::QueryResult;

/// Longest CNAME chain followed inside one reply.
const MAX_CHAIN: usize = 16;

/// What one query asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked, absolute.
    pub(crate) name: Name,
    /// The record type asked.
    pub(crate) record_type: RecordType,
    /// [`question_key`] of the two, computed once.
    key: u64,
}

impl Question {
    /// The question `record_type` about `name` (class IN).
    pub fn new(name: Name, record_type: RecordType) -> Question {
        let key = question_key(&name, record_type);
        Question {
            name,
            record_type,
            key,
        }
    }

    /// A hash of the question (name case-insensitively, type, class IN) that a reply's
    /// question section must match: what the socket readers check before handing a datagram
    /// to a query, and what a query that outlived its lookup keeps instead of the name.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// The name asked.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The record type asked.
    pub fn record_type(&self) -> RecordType {
        self.record_type
    }
}

/// FNV-1a, 64 bits: fast on the few dozen bytes of a question. It only tells questions apart
/// cheaply; it is not a defence (the ID, the port and the full question check are).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn byte(mut self, b: u8) -> Fnv {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        self
    }

    fn bytes(self, bytes: &[u8]) -> Fnv {
        bytes.iter().fold(self, |h, &b| h.byte(b))
    }
}

/// The key of a question: FNV-1a over its wire form (length-prefixed labels, ASCII letters
/// lowercased, the root label, type, class IN).
pub(crate) fn question_key(name: &Name, record_type: RecordType) -> u64 {
    let mut h = Fnv::new();
    for label in name.iter() {
        // A label is at most 63 bytes.
        h = h.byte(label.len() as u8);
        h = label.iter().fold(h, |h, b| h.byte(b.to_ascii_lowercase()));
    }
    h.byte(0)
        .bytes(&u16::from(record_type).to_be_bytes())
        .bytes(&u16::from(DNSClass::IN).to_be_bytes())
        .0
}

/// The key of the question section starting at `at` in `bytes`, read straight from the wire
/// (no decoding, no allocation), and where it ends. `None` if it is cut short or its name is
/// compressed (no server compresses the first name of a message: there is nothing before it
/// to point to).
fn wire_question_key(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut h = Fnv::new();
    loop {
        let len = *bytes.get(at)?;
        if len > 63 {
            return None;
        }
        h = h.byte(len);
        at += 1;
        if len == 0 {
            break;
        }
        let label = bytes.get(at..at + usize::from(len))?;
        h = label.iter().fold(h, |h, b| h.byte(b.to_ascii_lowercase()));
        at += usize::from(len);
    }
    let tail = bytes.get(at..at + 4)?;
    Some((h.bytes(tail).0, at + 4))
}

/// What the first 12 bytes of a message say, read straight from the wire.
#[derive(Debug, Clone, Copy)]
struct RawHeader {
    response: bool,
    rcode: u8,
    questions: u16,
}

fn raw_header(bytes: &[u8]) -> Option<RawHeader> {
    let head = bytes.get(..12)?;
    Some(RawHeader {
        response: head[2] & 0x80 != 0,
        rcode: head[3] & 0x0f,
        questions: u16::from_be_bytes([head[4], head[5]]),
    })
}

/// RCODE 1, FORMERR.
const FORMERR: u8 = 1;

/// The question of a reply, as its [`question_key`], if the reply has exactly one question
/// (`None` otherwise). A question of another class than IN gets another key.
pub(crate) fn reply_question_key(bytes: &[u8]) -> Option<u64> {
    let header = raw_header(bytes)?;
    if header.questions != 1 || !header.response {
        return None;
    }
    wire_question_key(bytes, 12).map(|(key, _)| key)
}

/// The cheap first check a socket's reader makes before handing a datagram to the query with
/// its ID: a response whose question has `key` (or a FORMERR without a question, which many
/// servers send). The full check ([`check_reply`]) is the lookup's.
pub(crate) fn may_answer(bytes: &[u8], key: u64) -> bool {
    if let Some(found) = reply_question_key(bytes) {
        return found == key;
    }
    matches!(
        raw_header(bytes),
        Some(h) if h.response && h.questions == 0 && h.rcode == FORMERR
    )
}

/// The ID of a message (its first two bytes), if it is long enough to have a header.
pub(crate) fn message_id(bytes: &[u8]) -> Option<u16> {
    (bytes.len() >= 12).then(|| u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Writes `id` into an encoded query (see [`build_query`]).
pub(crate) fn set_id(query: &mut [u8], id: u16) {
    if let Some(head) = query.get_mut(..2) {
        head.copy_from_slice(&id.to_be_bytes());
    }
}

/// Encodes a recursive query for `question` with `id` (RFC 1035 §4.1: a header with RD=1
/// and one question), with an EDNS(0) OPT record advertising `edns` bytes when given
/// (RFC 6891 §6.1.2: root owner, type 41, the payload size as class, version 0, no flags).
/// Queries re-sent with another ID change only the first two bytes (`set_id`).
pub fn build_query(id: u16, question: &Question, edns: Option<u16>) -> Vec<u8> {
    let name_len: usize = question.name.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    let mut out = Vec::with_capacity(12 + name_len + 4 + if edns.is_some() { 11 } else { 0 });
    out.extend_from_slice(&id.to_be_bytes());
    // QR=0, opcode QUERY, RD=1; then QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT.
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    for label in question.name.iter() {
        // A label is at most 63 bytes, a name at most 255: `Name` guarantees both.
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out.extend_from_slice(&u16::from(question.record_type).to_be_bytes());
    out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    if let Some(payload) = edns {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&payload.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    out
}

/// Why a datagram was not taken as the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// From another address or port than the query went to.
    WrongSource,
    /// Shorter than a DNS header.
    TooShort,
    /// A UDP datagram longer than the payload size the query advertised (512 bytes without
    /// EDNS): no server may send that (RFC 6891 §6.2.5), so it is not the reply.
    Oversized,
    /// Another ID.
    WrongId,
    /// QR=0: a query, not a response.
    NotResponse,
    /// Not the question asked (name, type or class), or an unparsable question section.
    WrongQuestion,
    /// The body did not parse.
    Unparsable,
}

/// The verdict on one datagram.
#[derive(Debug, Clone)]
pub enum Check {
    /// Not the reply: ignore it, keep waiting.
    Ignore(Ignored),
    /// TC=1 with a valid header and question: ask again over TCP.
    Truncated,
    /// The reply to our query.
    Accept(Box<Message>),
}

/// The longest UDP reply to a query that advertised `edns` (RFC 6891 §6.2.5; 512 bytes
/// without EDNS, RFC 1035 §2.3.4).
pub fn udp_limit(edns: Option<u16>) -> usize {
    usize::from(edns.unwrap_or(512).max(512))
}

/// Checks a datagram from `from` against the query (`id`, `question`) sent to `server`;
/// `limit` is the longest reply the transport allows ([`udp_limit`] over UDP).
pub fn check_reply(
    bytes: &[u8],
    from: SocketAddr,
    server: SocketAddr,
    id: u16,
    question: &Question,
    limit: usize,
) -> Check {
    if from != server {
        return Check::Ignore(Ignored::WrongSource);
    }
    if bytes.len() > limit {
        return Check::Ignore(Ignored::Oversized);
    }
    let Some(header) = raw_header(bytes) else {
        return Check::Ignore(Ignored::TooShort);
    };
    if message_id(bytes) != Some(id) {
        return Check::Ignore(Ignored::WrongId);
    }
    if !header.response {
        return Check::Ignore(Ignored::NotResponse);
    }
    // The question, from the wire first (cheap), then exactly once the message is parsed.
    match header.questions {
        0 if header.rcode == FORMERR => {}
        1 if wire_question_key(bytes, 12).map(|(key, _)| key) == Some(question.key) => {}
        _ => return Check::Ignore(Ignored::WrongQuestion),
    }
    let truncated = bytes[2] & 0x02 != 0;
    if truncated {
        // The body may be cut mid-record: only the question needs to parse.
        let mut decoder = BinDecoder::new(&bytes[12..]);
        return match Query::read(&mut decoder) {
            Ok(q) if same_question(&q, question) => Check::Truncated,
            _ => Check::Ignore(Ignored::WrongQuestion),
        };
    }
    let Ok(message) = Message::from_vec(bytes) else {
        return Check::Ignore(Ignored::Unparsable);
    };
    match message.queries.as_slice() {
        // The header's RCODE said FORMERR; with an OPT record's high bits the full RCODE may
        // be another (one that needs the question to be about ours).
        [] if message.metadata.response_code == ResponseCode::FormErr => {}
        [q] if same_question(q, question) => {}
        _ => return Check::Ignore(Ignored::WrongQuestion),
    }
    Check::Accept(Box::new(message))
}

/// Whether `q` asks `question` (name case-insensitively, type, class IN).
fn same_question(q: &Query, question: &Question) -> bool {
    q.name() == &question.name
        && q.query_type() == question.record_type
        && q.query_class() == DNSClass::IN
}

/// The records of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answered {
    /// The name at the end of the CNAME chain (the question's name without a chain).
    pub(crate) canonical: Name,
    /// Records of the asked type at `canonical`.
    pub(crate) records: Vec<Record>,
    /// The CNAME records followed, in order.
    pub(crate) chain: Vec<Record>,
}

/// What an accepted reply says: its records, or what it said instead (NODATA, NXDOMAIN, an
/// error code; a referral is [`QueryResult::Lame`], answer records that do not answer the
/// question are [`QueryResult::Malformed`]).
pub(crate) type Reply = Result<Answered, QueryResult>;

/// Classifies an accepted reply to `question`.
pub(crate) fn classify(message: &Message, question: &Question) -> Reply {
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Err(QueryResult::NxDomain),
        ResponseCode::Refused => return Err(QueryResult::Refused),
        ResponseCode::NotImp => return Err(QueryResult::NotImp),
        ResponseCode::FormErr => return Err(QueryResult::FormErr),
        _ => return Err(QueryResult::ServFail),
    }
    let (canonical, chain) = follow_chain(&message.answers, question);
    let records: Vec<Record> = message
        .answers
        .iter()
        .filter(|r| r.name == canonical && matches_type(r, question.record_type))
        .cloned()
        .collect();
    if !records.is_empty() {
        return Ok(Answered {
            canonical,
            records,
            chain,
        });
    }
    if !chain.is_empty() {
        return Err(QueryResult::NoData);
    }
    if !message.answers.is_empty() {
        return Err(QueryResult::Malformed);
    }
    let has = |t: RecordType| message.authorities.iter().any(|r| r.record_type() == t);
    if has(RecordType::NS) && !has(RecordType::SOA) && !message.metadata.recursion_available {
        return Err(QueryResult::Lame);
    }
    Err(QueryResult::NoData)
}

/// How long a negative reply (NXDOMAIN or NODATA) may be cached, in seconds, as RFC 2308 §5
/// says: the smaller of the TTL of the SOA record in its authority section and the SOA's
/// MINIMUM field. `None` without a SOA: RFC 2308 §5 says such a reply should not be cached.
pub(crate) fn negative_ttl(message: &Message) -> Option<u32> {
    message
        .authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .min()
}

fn matches_type(record: &Record, record_type: RecordType) -> bool {
    record_type == RecordType::ANY || record.record_type() == record_type
}

/// Follows CNAMEs from the question's name through the answer section.
fn follow_chain(answers: &[Record], question: &Question) -> (Name, Vec<Record>) {
    let mut current = question.name.clone();
    let mut chain = Vec::new();
    if matches!(question.record_type, RecordType::CNAME | RecordType::ANY) {
        return (current, chain);
    }
    while chain.len() < MAX_CHAIN {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name == current => Some((r, target.0.clone())),
            _ => None,
        });
        match next {
            Some((record, target)) if !chain.contains(record) => {
                chain.push(record.clone());
                current = target;
            }
            _ => break,
        }
    }
    (current, chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME, NS, SOA};
    use std::net::Ipv4Addr;

    fn q(name: &str, t: RecordType) -> Question {
        Question::new(Name::from_ascii(name).unwrap(), t)
    }

    fn server() -> SocketAddr {
        "127.0.0.1:53".parse().unwrap()
    }

    fn reply_to(query: &[u8]) -> Message {
        let request = Message::from_vec(query).unwrap();
        let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        m.add_queries(request.queries.clone());
        m
    }

    fn a(name: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            60,
            RData::A(A(Ipv4Addr::from(ip))),
        )
    }

    #[test]
    fn query_has_rd_question_and_edns() {
        let bytes = build_query(7, &q("www.example.com.", RecordType::AAAA), Some(1232));
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 7);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
        assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(1232));
        let plain = Message::from_vec(&build_query(7, &q("a.", RecordType::A), None)).unwrap();
        assert!(plain.edns.is_none());
    }

    #[test]
    fn validation_checks_source_id_qr_and_question() {
        let question = q("www.example.com.", RecordType::A);
        let query = build_query(100, &question, None);
        let good = reply_to(&query).to_vec().unwrap();
        let check = |bytes: &[u8], from: SocketAddr| {
            check_reply(bytes, from, server(), 100, &question, udp_limit(Some(1232)))
        };
        assert!(matches!(check(&good, server()), Check::Accept(_)));
        let other_port: SocketAddr = "127.0.0.1:5300".parse().unwrap();
        assert!(matches!(
            check(&good, other_port),
            Check::Ignore(Ignored::WrongSource)
        ));
        assert!(matches!(
            check(&good[..5], server()),
            Check::Ignore(Ignored::TooShort)
        ));
        let mut wrong_id = good.clone();
        wrong_id[1] ^= 1;
        assert!(matches!(
            check(&wrong_id, server()),
            Check::Ignore(Ignored::WrongId)
        ));
        assert!(matches!(
            check(&query, server()),
            Check::Ignore(Ignored::NotResponse)
        ));
        // The question's name matches case-insensitively, type and class must match.
        let upper = q("WWW.Example.COM.", RecordType::A);
        let mut m = reply_to(&build_query(100, &upper, None));
        assert!(matches!(
            check(&m.to_vec().unwrap(), server()),
            Check::Accept(_)
        ));
        let other = reply_to(&build_query(
            100,
            &q("www.example.com.", RecordType::MX),
            None,
        ));
        let bytes = other.to_vec().unwrap();
        assert!(matches!(
            check(&bytes, server()),
            Check::Ignore(Ignored::WrongQuestion)
        ));
        m.queries[0].set_query_class(DNSClass::CH);
        let bytes = m.to_vec().unwrap();
        assert!(matches!(
            check(&bytes, server()),
            Check::Ignore(Ignored::WrongQuestion)
        ));
        // Garbage after a valid header.
        let mut garbage = good.clone();
        garbage.truncate(14);
        assert!(matches!(
            check(&garbage, server()),
            Check::Ignore(Ignored::WrongQuestion)
        ));
        let mut body_cut = reply_to(&query);
        body_cut.add_answer(a("www.example.com.", [192, 0, 2, 1]));
        let bytes = body_cut.to_vec().unwrap();
        let cut = &bytes[..bytes.len() - 3];
        assert!(matches!(
            check(cut, server()),
            Check::Ignore(Ignored::Unparsable)
        ));
        // ... unless truncated: then the header and question are enough.
        let mut tc = body_cut.clone();
        tc.metadata.truncation = true;
        let bytes = tc.to_vec().unwrap();
        assert!(matches!(
            check(&bytes[..bytes.len() - 3], server()),
            Check::Truncated
        ));
        // Longer than the advertised payload size: not the reply, even if it parses.
        let mut padded = good.clone();
        padded.resize(1233, 0);
        assert!(matches!(
            check(&padded, server()),
            Check::Ignore(Ignored::Oversized)
        ));
        assert_eq!(udp_limit(None), 512);
        assert_eq!(udp_limit(Some(100)), 512);
        // FORMERR without a question is accepted.
        let formerr = Message::error_msg(100, OpCode::Query, ResponseCode::FormErr);
        assert!(matches!(
            check(&formerr.to_vec().unwrap(), server()),
            Check::Accept(_)
        ));
    }

    /// Found by the `stubborn_reply` fuzz target: a reply without a question whose header
    /// RCODE is FORMERR but whose OPT record's extended RCODE bits make it another RCODE
    /// (here 2049) was accepted as if it were a FORMERR.
    #[test]
    fn a_questionless_reply_is_accepted_only_if_its_full_rcode_is_formerr() {
        let question = q("www.example.com.", RecordType::A);
        let mut bytes = vec![0, 100, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 1];
        // OPT: root owner, type 41, payload 4096, extended RCODE 0x81, version 0, no data.
        bytes.extend_from_slice(&[0, 0, 41, 0x10, 0, 0x81, 0, 0, 0, 0, 0]);
        assert_ne!(
            Message::from_vec(&bytes).unwrap().metadata.response_code,
            ResponseCode::FormErr
        );
        let check = check_reply(&bytes, server(), server(), 100, &question, 4096);
        assert!(
            matches!(check, Check::Ignore(Ignored::WrongQuestion)),
            "{check:?}"
        );
        // With extended RCODE bits 0 it is a FORMERR, and accepted.
        bytes[17] = 0;
        let check = check_reply(&bytes, server(), server(), 100, &question, 4096);
        assert!(matches!(check, Check::Accept(_)), "{check:?}");
    }

    #[test]
    fn ids_and_question_keys() {
        let question = q("WWW.Example.com.", RecordType::A);
        let mut query = build_query(1, &question, Some(1232));
        set_id(&mut query, 0xbeef);
        assert_eq!(message_id(&query), Some(0xbeef));
        assert_eq!(message_id(&query[..11]), None);
        let reply = reply_to(&query).to_vec().unwrap();
        assert_eq!(reply_question_key(&reply), Some(question.key()));
        assert_eq!(
            question.key(),
            q("www.example.COM.", RecordType::A).key(),
            "case-insensitive"
        );
        assert_ne!(
            question.key(),
            q("www.example.com.", RecordType::AAAA).key()
        );
        assert_eq!(reply_question_key(&query), None, "a query is not a reply");
        assert_eq!(reply_question_key(&reply[..14]), None);
        assert!(may_answer(&reply, question.key()));
        assert!(!may_answer(
            &reply,
            q("www.example.com.", RecordType::AAAA).key()
        ));
        assert!(!may_answer(&query, question.key()));
        let formerr = Message::error_msg(1, OpCode::Query, ResponseCode::FormErr);
        assert!(may_answer(&formerr.to_vec().unwrap(), question.key()));
        let servfail = Message::error_msg(1, OpCode::Query, ResponseCode::ServFail);
        assert!(!may_answer(&servfail.to_vec().unwrap(), question.key()));
    }

    #[test]
    fn classify_follows_cnames() {
        let question = q("www.example.com.", RecordType::A);
        let mut m = reply_to(&build_query(1, &question, None));
        let target = Name::from_ascii("edge.cdn.example.").unwrap();
        m.add_answer(Record::from_rdata(
            question.name.clone(),
            30,
            RData::CNAME(CNAME(target)),
        ));
        m.add_answer(a("edge.cdn.example.", [192, 0, 2, 7]));
        m.add_answer(a("unrelated.example.", [192, 0, 2, 8]));
        match classify(&m, &question) {
            Ok(answered) => {
                assert_eq!(answered.canonical.to_string(), "edge.cdn.example.");
                assert_eq!(answered.records.len(), 1);
                assert_eq!(answered.chain.len(), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn classify_rcodes_nodata_lame_and_malformed() {
        let question = q("www.example.com.", RecordType::A);
        let base = reply_to(&build_query(1, &question, None));
        let with_rcode = |rcode| {
            let mut m = base.clone();
            m.metadata.response_code = rcode;
            classify(&m, &question)
        };
        use QueryResult as R;
        assert_eq!(with_rcode(ResponseCode::NXDomain), Err(R::NxDomain));
        assert_eq!(with_rcode(ResponseCode::ServFail), Err(R::ServFail));
        assert_eq!(with_rcode(ResponseCode::Refused), Err(R::Refused));
        assert_eq!(with_rcode(ResponseCode::NotImp), Err(R::NotImp));
        assert_eq!(with_rcode(ResponseCode::FormErr), Err(R::FormErr));
        assert_eq!(with_rcode(ResponseCode::YXDomain), Err(R::ServFail));
        assert_eq!(classify(&base, &question), Err(R::NoData));
        let zone = Name::from_ascii("example.com.").unwrap();
        let mut lame = base.clone();
        let ns = Name::from_ascii("ns.example.com.").unwrap();
        lame.add_authority(Record::from_rdata(
            zone.clone(),
            60,
            RData::NS(NS(ns.clone())),
        ));
        assert_eq!(classify(&lame, &question), Err(R::Lame));
        let soa = SOA::new(ns, zone.clone(), 1, 60, 60, 60, 60);
        lame.add_authority(Record::from_rdata(zone, 60, RData::SOA(soa)));
        assert_eq!(classify(&lame, &question), Err(R::NoData));
        let mut odd = base.clone();
        odd.add_answer(a("other.example.", [192, 0, 2, 1]));
        assert_eq!(classify(&odd, &question), Err(R::Malformed));
    }

    #[test]
    fn negative_ttl_is_the_soa_minimum_capped_by_its_ttl() {
        let question = q("nope.example.com.", RecordType::A);
        let mut m = reply_to(&build_query(1, &question, None));
        m.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(negative_ttl(&m), None, "no SOA: not cacheable");
        let zone = Name::from_ascii("example.com.").unwrap();
        let ns = Name::from_ascii("ns.example.com.").unwrap();
        let soa = SOA::new(ns.clone(), zone.clone(), 1, 60, 60, 60, 30);
        m.add_authority(Record::from_rdata(zone.clone(), 300, RData::SOA(soa)));
        assert_eq!(negative_ttl(&m), Some(30), "MINIMUM below the record's TTL");
        let mut short = m.clone();
        short.authorities[0].ttl = 10;
        assert_eq!(
            negative_ttl(&short),
            Some(10),
            "the record's TTL below MINIMUM"
        );
        let mut with_ns = m.clone();
        with_ns.add_authority(Record::from_rdata(zone, 5, RData::NS(NS(ns))));
        assert_eq!(negative_ttl(&with_ns), Some(30), "only the SOA counts");
    }

    proptest::proptest! {
        /// Whatever arrives on the socket, checking it never panics, and only a datagram with
        /// our ID can be taken.
        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let question = q("www.example.com.", RecordType::A);
            match check_reply(&bytes, server(), server(), 0x1234, &question, 4096) {
                Check::Accept(message) => {
                    proptest::prop_assert_eq!(message.metadata.id, 0x1234);
                    let _ = classify(&message, &question);
                }
                Check::Truncated => proptest::prop_assert_eq!(&bytes[..2], &[0x12, 0x34]),
                Check::Ignore(_) => {}
            }
        }

        /// A valid reply with bytes flipped: still no panic.
        #[test]
        fn corrupted_replies_never_panic(flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 1..6)) {
            let question = q("www.example.com.", RecordType::A);
            let mut m = reply_to(&build_query(0x1234, &question, Some(1232)));
            m.add_answer(a("www.example.com.", [192, 0, 2, 1]));
            let mut bytes = m.to_vec().unwrap();
            for (at, value) in flips {
                let i = at % bytes.len();
                bytes[i] = value;
            }
            if let Check::Accept(message) = check_reply(&bytes, server(), server(), 0x1234, &question, 4096) {
                let _ = classify(&message, &question);
            }
        }
    }
}
