//! faultdns: the request path, the rule language and zone text.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::str::FromStr;

use faultdns::fuzzing::{Handled, Harness};
use faultdns::{Action, Rule};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::split_once;

/// The data every request is answered from: a zone with the usual record types, a CNAME
/// chain, a wildcard, a delegation, and a name outside the zone.
pub const ZONE: &str = "\
$ORIGIN example.com.
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 30
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.10
www IN A 192.0.2.11
www IN AAAA 2001:db8::10
alias IN CNAME www
chain IN CNAME alias
loop1 IN CNAME loop2
loop2 IN CNAME loop1
gone IN CNAME nothing
mail IN MX 10 www
txt IN TXT \"v=spf1 -all\" \"second string\"
*.wild IN A 192.0.2.99
sub IN NS ns.sub
big IN TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"
big IN TXT \"7123456789012345678901234567890123456789012345678901234567890123456789\"
srv IN SRV 0 5 443 www
outside.test. IN A 198.51.100.1
";

thread_local! {
    static HARNESS: RefCell<Harness> =
        RefCell::new(Harness::new(ZONE).expect("the fixed zone parses"));
}

/// Whether `msg` is a valid query: it parses as one whole message (no bytes left over), a
/// QUERY with QR=0 and exactly one question. Its question's wire length, when it is.
fn valid_query(msg: &[u8]) -> Option<(Message, usize)> {
    let mut decoder = BinDecoder::new(msg);
    let message = Message::read(&mut decoder).ok()?;
    if !decoder.is_empty()
        || message.metadata.message_type != MessageType::Query
        || message.metadata.op_code != OpCode::Query
        || message.queries.len() != 1
    {
        return None;
    }
    let mut decoder = BinDecoder::new(msg.get(12..)?);
    Query::read(&mut decoder).ok()?;
    let question_len = msg.len() - 12 - decoder.len();
    Some((message, question_len))
}

/// Input: a flags byte (bit 0: TCP; bit 1: the client's address is IPv6; bit 2: second
/// client), a seed byte, a length byte `n`, `n` bytes of rules (one per line; lines that do
/// not parse are left out), then the message as it arrives.
///
/// Checked: a valid query (see `valid_query`) gets a reply unless a `drop` rule fired, and
/// that reply (unless a `malformed` rule fired, whose point is to be unparsable) parses, is a
/// response with the query's ID (complemented for `wrong_id`), echoes the question byte for
/// byte, and fits the client's UDP size. Whatever arrives, a reply is at least a header,
/// carries the message's ID and has QR=1, and a response never gets one.
pub fn request(data: &[u8]) {
    let [flags, seed, n, rest @ ..] = data else {
        return;
    };
    let n = usize::from(*n);
    let Some((rules_text, msg)) = rest.get(..n).zip(rest.get(n..)) else {
        return;
    };
    let rules: Vec<Rule> = String::from_utf8_lossy(rules_text)
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let tcp = flags & 1 != 0;
    let peer: SocketAddr = match (flags & 2 != 0, flags & 4 != 0) {
        (false, false) => ([127, 0, 0, 1], 40000).into(),
        (false, true) => ([192, 0, 2, 7], 40000).into(),
        (true, false) => (std::net::Ipv6Addr::LOCALHOST, 40000).into(),
        (true, true) => ("2001:db8::7".parse::<std::net::Ipv6Addr>().unwrap(), 40000).into(),
    };
    let handled = HARNESS.with(|h| {
        h.borrow_mut()
            .handle(msg, tcp, peer, rules, u64::from(*seed))
    });
    check_request(msg, tcp, &handled);
}

fn check_request(msg: &[u8], tcp: bool, handled: &Handled) {
    let Handled { reply, fired, .. } = handled;
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        assert!(reply.is_none(), "a reply to a response or a runt");
        return;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let expected_id = if *fired == Some(Action::WrongId) {
        !id
    } else {
        id
    };
    if let Some(reply) = reply {
        assert!(reply.len() >= 12, "a reply shorter than a header");
        assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), expected_id);
        assert!(reply[2] & 0x80 != 0, "a reply with QR=0");
    }
    let Some((query, question_len)) = valid_query(msg) else {
        return;
    };
    if *fired == Some(Action::Drop) {
        assert!(reply.is_none(), "a dropped query answered");
        return;
    }
    let reply = reply
        .as_ref()
        .unwrap_or_else(|| panic!("no reply to a valid query: {query:?}"));
    if !tcp {
        let edns = query.edns.as_ref().map(|e| e.max_payload());
        let limit = usize::from(edns.unwrap_or(512)).clamp(512, 4096);
        assert!(
            reply.len() <= limit,
            "{} bytes over UDP, limit {limit}",
            reply.len()
        );
    }
    if *fired == Some(Action::Malformed) {
        return;
    }
    let parsed = Message::from_vec(reply)
        .unwrap_or_else(|e| panic!("reply to {query:?} does not parse: {e}"));
    assert_eq!(parsed.metadata.message_type, MessageType::Response);
    assert_eq!(parsed.metadata.id, expected_id);
    assert_eq!(parsed.queries, query.queries, "the question is not echoed");
    assert_eq!(
        reply.get(12..12 + question_len),
        msg.get(12..12 + question_len),
        "the question is not echoed byte for byte"
    );
}

/// Input: one rule's text.
///
/// Checked: a rule that parses prints (`Display`, its canonical text) as text that parses
/// back to the same rule, and printing that gives the same text again.
pub fn rule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Rule::from_str(text) {
        Ok(rule) => {
            let canonical = rule.to_string();
            let again = Rule::from_str(&canonical)
                .unwrap_or_else(|e| panic!("{text:?} printed as {canonical:?}, which fails: {e}"));
            assert_eq!(again, rule, "{text:?} printed as {canonical:?}");
            assert_eq!(again.to_string(), canonical);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Most records of a zone probed (each probe is a query through the request path).
const MAX_PROBES: usize = 64;

/// Input: zone text.
///
/// Checked: a zone that parses answers, for every record it holds (up to 64, wildcards
/// aside), a query for that record's name and type over TCP: the reply parses, echoes the
/// question, is NOERROR (or NXDOMAIN at the end of a CNAME chain) and its first answer is
/// owned by the name asked, of the type asked or a CNAME.
pub fn zone(data: &[u8]) {
    let (zone, _) = split_once(data, 0xff);
    let Ok(text) = std::str::from_utf8(zone) else {
        return;
    };
    let Ok(mut harness) = Harness::new(text) else {
        return;
    };
    let probes: Vec<(Name, RecordType)> = harness
        .records()
        .iter()
        .filter(|(name, t)| {
            !name.is_wildcard()
                && !matches!(
                    t,
                    RecordType::OPT | RecordType::ANY | RecordType::AXFR | RecordType::IXFR
                )
        })
        .take(MAX_PROBES)
        .cloned()
        .collect();
    for (name, rtype) in probes {
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.iter() {
            query.push(label.len() as u8);
            query.extend_from_slice(label);
        }
        query.push(0);
        query.extend_from_slice(&u16::from(rtype).to_be_bytes());
        query.extend_from_slice(&[0, 1]);
        let handled = harness.handle(&query, true, ([127, 0, 0, 1], 40000).into(), Vec::new(), 0);
        let reply = handled.reply.as_deref().expect("a reply from the data");
        // hickory refuses records with empty RDATA outside UPDATE messages; RFC 1035 allows
        // them (and other clients read them), so faultdns sends them as the zone has them.
        if let Err(e) = Message::from_vec(reply)
            && e.to_string().contains("length 0")
        {
            continue;
        }
        check_request(&query, true, &handled);
        let parsed = Message::from_vec(reply).expect("checked above");
        if parsed.metadata.truncation {
            continue;
        }
        let rcode = parsed.metadata.response_code;
        assert!(
            matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain),
            "{name} {rtype}: {rcode:?}"
        );
        let first = parsed
            .answers
            .first()
            .unwrap_or_else(|| panic!("{name} {rtype}: no answer from the data"));
        assert_eq!(
            first.name, name,
            "{name} {rtype}: answered for another name"
        );
        assert!(
            first.record_type() == rtype || first.record_type() == RecordType::CNAME,
            "{name} {rtype}: answered with {}",
            first.record_type()
        );
    }
}
