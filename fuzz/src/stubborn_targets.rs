//! stubborn: reply validation and classification, resolv.conf, the hosts file.

use std::net::SocketAddr;

use hickory_proto::op::{MessageType, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use stubborn::QueryResult;
use stubborn::fuzzing::{self, HostsFile};
use stubborn::query::{Check, Question, check_reply, udp_limit};

use crate::server;

/// Input: a flags byte, then either (bit 0 clear) the query's ID, type and wire-format name
/// followed by the datagram, or (bit 0 set) the datagram alone, the query then being the one
/// its own header and question describe (so that most inputs reach the classification).
/// Flags: bit 1, the datagram comes from another port than the query went to; bit 2, the
/// query advertised EDNS (1232 bytes); bit 3, the reply came over TCP (no size limit).
///
/// Checked: a datagram that is taken (accepted or truncated) came from the server, carries
/// the query's ID, is a response no longer than the limit, has the query's question (or none,
/// for FORMERR), and passes the socket reader's cheap pre-check too; classification agrees
/// with the RCODE, and an answer's records are of the asked type at the end of a CNAME chain
/// that starts at the question's name.
pub fn reply(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (id, question, bytes) = if flags & 1 == 0 {
        let Some(((id, qtype), name_and_reply)) = rest
            .get(..4)
            .map(|h| {
                (
                    u16::from_be_bytes([h[0], h[1]]),
                    u16::from_be_bytes([h[2], h[3]]),
                )
            })
            .zip(rest.get(4..))
        else {
            return;
        };
        let mut decoder = BinDecoder::new(name_and_reply);
        let Ok(name) = Name::read(&mut decoder) else {
            return;
        };
        let used = name_and_reply.len() - decoder.len();
        let question = Question::new(name, RecordType::from(qtype));
        (id, question, &name_and_reply[used..])
    } else {
        let id = rest
            .get(..2)
            .map_or(0, |h| u16::from_be_bytes([h[0], h[1]]));
        let asked = rest
            .get(12..)
            .and_then(|q| Query::read(&mut BinDecoder::new(q)).ok());
        let question = match asked {
            Some(q) => Question::new(q.name().clone(), q.query_type()),
            None => Question::new(Name::from_ascii("www.example.com.").unwrap(), RecordType::A),
        };
        (id, question, rest)
    };
    let from = if flags & 2 == 0 {
        server()
    } else {
        SocketAddr::from(([127, 0, 0, 1], 5353))
    };
    let limit = if flags & 8 != 0 {
        usize::from(u16::MAX)
    } else {
        udp_limit((flags & 4 != 0).then_some(1232))
    };
    let check = check_reply(bytes, from, server(), id, &question, limit);
    let taken = !matches!(check, Check::Ignore(_));
    if taken {
        assert_eq!(from, server(), "taken from another source");
        assert!(bytes.len() <= limit, "taken over the size limit");
        assert_eq!(&bytes[..2], &id.to_be_bytes(), "taken with another ID");
        assert!(bytes[2] & 0x80 != 0, "a query taken as a reply");
        assert!(
            fuzzing::may_answer(bytes, &question),
            "taken by the full check but dropped by the socket reader's pre-check"
        );
    }
    match check {
        Check::Ignore(_) => {}
        Check::Truncated => {
            assert!(bytes[2] & 0x02 != 0, "truncated without TC");
            let q = Query::read(&mut BinDecoder::new(&bytes[12..])).expect("question parses");
            assert_same_question(&q, &question);
        }
        Check::Accept(message) => {
            assert_eq!(message.metadata.id, id);
            assert_eq!(message.metadata.message_type, MessageType::Response);
            match message.queries.as_slice() {
                [] => assert_eq!(
                    message.metadata.response_code,
                    ResponseCode::FormErr,
                    "accepted without a question"
                ),
                [q] => assert_same_question(q, &question),
                more => panic!("accepted with {} questions", more.len()),
            }
            classified(&message, &question);
        }
    }
}

fn assert_same_question(q: &Query, question: &Question) {
    assert_eq!(q.name(), question.name(), "another name");
    assert_eq!(q.query_type(), question.record_type(), "another type");
    assert_eq!(q.query_class(), DNSClass::IN, "another class");
}

fn classified(message: &hickory_proto::op::Message, question: &Question) {
    let rcode = message.metadata.response_code;
    let result = fuzzing::classify(message, question);
    let expected = match rcode {
        ResponseCode::NoError => None,
        ResponseCode::NXDomain => Some(QueryResult::NxDomain),
        ResponseCode::Refused => Some(QueryResult::Refused),
        ResponseCode::NotImp => Some(QueryResult::NotImp),
        ResponseCode::FormErr => Some(QueryResult::FormErr),
        _ => Some(QueryResult::ServFail),
    };
    match (&result, expected) {
        (Err(got), Some(want)) => assert_eq!(*got, want, "RCODE {rcode:?}"),
        (_, Some(want)) => panic!("RCODE {rcode:?} classified {result:?}, not {want:?}"),
        (Err(got), None) => assert!(
            matches!(
                got,
                QueryResult::NoData | QueryResult::Lame | QueryResult::Malformed
            ),
            "NOERROR classified {got:?}"
        ),
        (Ok(answered), None) => {
            assert!(!answered.records.is_empty(), "an answer without records");
            for r in &answered.records {
                assert_eq!(r.name, answered.canonical, "a record off the chain's end");
                assert!(
                    question.record_type() == RecordType::ANY
                        || r.record_type() == question.record_type(),
                    "a record of another type"
                );
            }
            let mut at = question.name().clone();
            for link in &answered.chain {
                assert_eq!(link.name, at, "a broken CNAME chain");
                let RData::CNAME(target) = &link.data else {
                    panic!("a chain link that is not a CNAME: {link:?}");
                };
                at = target.0.clone();
            }
            assert_eq!(at, answered.canonical, "the chain ends elsewhere");
            assert!(answered.chain.len() <= 16, "an endless chain");
            for r in &answered.records {
                assert!(message.answers.contains(r), "a record not in the reply");
            }
        }
    }
    if let Some(ttl) = fuzzing::negative_ttl(message) {
        let soa_ttls: Vec<u32> = message
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .collect();
        assert_eq!(
            soa_ttls.iter().min(),
            Some(&ttl),
            "negative TTL from no SOA"
        );
    }
}

/// Input: resolv.conf text (bytes that are not UTF-8 read as U+FFFD, as from a file).
///
/// Checked: the configuration written back as resolv.conf text reads back the same
/// (parse(write(parse(x))) == parse(x)), and it is one a resolver accepts (at most three
/// servers, at least one; search domains that are names).
pub fn resolv_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = stubborn::Config::parse_resolv_conf(&text);
    assert!(
        (1..=3).contains(&config.servers().len()),
        "servers: {:?}",
        config.servers()
    );
    for domain in config.search() {
        // As `Resolver::new` reads a search domain.
        assert!(
            Name::from_utf8(domain.trim_end_matches('.')).is_ok(),
            "search domain {domain:?} is no name"
        );
    }
    let written = fuzzing::resolv_conf_text(&config);
    let again = stubborn::Config::parse_resolv_conf(&written);
    assert_eq!(config, again, "read back differently from:\n{written}");
}

/// Input: hosts-file text.
///
/// Checked: every name the table holds is found by a lookup, in any letter case and with or
/// without its trailing dot; every address's reverse name is a name that resolves to that
/// address; and the table written back as one `ADDRESS NAME` line per pair reads back with
/// the same names and addresses in the same order.
pub fn hosts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let hosts = HostsFile::parse(&text);
    let table = hosts.table();
    let mut written = String::new();
    for (key, (canonical, ips)) in &table.by_name {
        let name = Name::from_ascii(key).unwrap_or_else(|e| panic!("key {key:?}: {e}"));
        let found = hosts.lookup(&name);
        assert_eq!(
            found.as_ref(),
            Some(&(canonical.clone(), ips.clone())),
            "{key:?}"
        );
        let mut fqdn = name.clone();
        fqdn.set_fqdn(true);
        assert_eq!(hosts.lookup(&fqdn), found, "{key:?} with its dot");
        let upper = Name::from_ascii(key.to_ascii_uppercase()).expect("upper case parses");
        assert_eq!(hosts.lookup(&upper), found, "{key:?} in upper case");
        assert!(!ips.is_empty(), "{key:?} without addresses");
        for ip in ips {
            written.push_str(&format!("{ip} {key}\n"));
        }
    }
    for (ip, name) in &table.by_addr {
        assert_eq!(hosts.reverse(*ip).as_ref(), Some(name));
        let (_, ips) = hosts
            .lookup(name)
            .unwrap_or_else(|| panic!("reverse name {name} of {ip} does not resolve"));
        assert!(
            ips.contains(ip),
            "reverse name {name} does not resolve to {ip}"
        );
    }
    let again = HostsFile::parse(&written).table();
    let ips = |t: &fuzzing::HostsTable| -> Vec<(String, Vec<std::net::IpAddr>)> {
        t.by_name
            .iter()
            .map(|(k, (_, ips))| (k.clone(), ips.clone()))
            .collect()
    };
    assert_eq!(
        ips(&table),
        ips(&again),
        "read back differently from:\n{written}"
    );
}
