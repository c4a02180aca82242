//! DNS wire format on the hot path: parse a query without allocating, assemble replies.
//!
//! Replies are built from position-independent [`Prepared`] sections (see `zone.rs`): the
//! header is written here, the question is copied byte for byte from the query (so the client's
//! letter case comes back), the prepared records follow, then an OPT record when the query had
//! one. Names in prepared records point at offset 12 (the question name) or are uncompressed,
//! so one prepared section serves every spelling of the name.

use hickory_proto::rr::Name;

use crate::zone::Prepared;

/// Flags byte 2: QR.
const QR: u8 = 0x80;
/// Flags byte 2: AA.
const AA: u8 = 0x04;
/// Flags byte 2: TC.
const TC: u8 = 0x02;
/// Flags byte 2: RD.
const RD: u8 = 0x01;
/// Flags byte 3: CD.
const CD: u8 = 0x10;

/// RCODE values used by the server.
pub(crate) mod rcode {
    pub(crate) const NOERROR: u8 = 0;
    pub(crate) const FORMERR: u8 = 1;
    pub(crate) const SERVFAIL: u8 = 2;
    pub(crate) const NXDOMAIN: u8 = 3;
    pub(crate) const NOTIMP: u8 = 4;
    pub(crate) const REFUSED: u8 = 5;
}

/// The UDP payload size we advertise in our OPT record.
pub(crate) const OUR_UDP_PAYLOAD: u16 = 1232;
/// Largest reply we send over UDP, whatever the client advertises.
const MAX_UDP_REPLY: usize = 4096;

/// EDNS information from a query's OPT record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Edns {
    pub(crate) payload: u16,
    pub(crate) version: u8,
}

/// A well-formed query, borrowed from the receive buffer.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pub(crate) id: u16,
    /// Byte 2 of the header (QR, opcode, AA, TC, RD).
    pub(crate) flags: u8,
    /// Byte 3 of the header (RA, Z, AD, CD, RCODE).
    pub(crate) flags2: u8,
    /// The question section (name, type, class) as sent.
    pub(crate) question: &'a [u8],
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
}

/// What the parser made of a message.
#[derive(Debug)]
pub(crate) enum Parsed<'a> {
    /// A query to evaluate.
    Query(Query<'a>),
    /// Not worth an answer (shorter than a header, or a response): counted and ignored.
    Ignore,
    /// Unparseable or wrong shape: answer FORMERR.
    FormErr { id: u16, flags: u8 },
    /// Not a QUERY opcode: answer NOTIMP.
    NotImp { id: u16, flags: u8 },
}

/// Parse a query. Never panics, never allocates.
pub(crate) fn parse(msg: &[u8]) -> Parsed<'_> {
    if msg.len() < 12 {
        return Parsed::Ignore;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = msg[2];
    if flags & QR != 0 {
        return Parsed::Ignore;
    }
    let opcode = (flags >> 3) & 0x0f;
    if opcode != 0 {
        return Parsed::NotImp { id, flags };
    }
    let formerr = Parsed::FormErr { id, flags };
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    if qd != 1 {
        return formerr;
    }
    // Question: uncompressed name, type, class.
    let mut pos = 12;
    let mut name_len = 0usize;
    loop {
        let Some(&len) = msg.get(pos) else {
            return formerr;
        };
        pos += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            // No earlier name to point at, and extended label types are obsolete.
            return formerr;
        }
        name_len += len as usize + 1;
        if name_len > 254 {
            return formerr;
        }
        pos += len as usize;
    }
    if msg.len() < pos + 4 {
        return formerr;
    }
    let qtype = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
    let qclass = u16::from_be_bytes([msg[pos + 2], msg[pos + 3]]);
    let question = &msg[12..pos + 4];
    pos += 4;
    let mut edns = None;
    let rrs = an as usize + ns as usize + ar as usize;
    for i in 0..rrs {
        let in_additional = i >= an as usize + ns as usize;
        let owner_start = pos;
        if !skip_name(msg, &mut pos) {
            return formerr;
        }
        if msg.len() < pos + 10 {
            return formerr;
        }
        let rtype = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
        let class = u16::from_be_bytes([msg[pos + 2], msg[pos + 3]]);
        let rdlen = u16::from_be_bytes([msg[pos + 8], msg[pos + 9]]) as usize;
        if rtype == 41 {
            // OPT: only in the additional section, owned by the root, at most once.
            if !in_additional || edns.is_some() || msg[owner_start] != 0 {
                return formerr;
            }
            edns = Some(Edns {
                payload: class,
                version: msg[pos + 5],
            });
        }
        pos += 10;
        if msg.len() < pos + rdlen {
            return formerr;
        }
        pos += rdlen;
    }
    if pos != msg.len() {
        return formerr;
    }
    Parsed::Query(Query {
        id,
        flags,
        flags2: msg[3],
        question,
        qtype,
        qclass,
        edns,
    })
}

/// What an upstream's reply is, checked without decoding it into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyCheck {
    /// A response whose sections parse and whose question is the one asked (or which has no
    /// question, as header-only error replies do).
    Good,
    /// A well-formed response to some other question.
    OtherQuestion,
    /// Not a DNS response: shorter than a header, QR=0, more than one question, or sections
    /// that run off the end or leave bytes over.
    Garbage,
}

/// Check an upstream reply against the question section of the query sent (`question`: name,
/// type and class as sent). Names are compared case-insensitively. Never panics, never allocates.
pub(crate) fn check_reply(msg: &[u8], question: &[u8]) -> ReplyCheck {
    if msg.len() < 12 || msg[2] & QR == 0 {
        return ReplyCheck::Garbage;
    }
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]) as usize;
    let (qd, rrs) = (count(4), count(6) + count(8) + count(10));
    if qd > 1 {
        return ReplyCheck::Garbage;
    }
    let mut pos = 12;
    let mut same = true;
    if qd == 1 {
        if !skip_name(msg, &mut pos) || msg.len() < pos + 4 {
            return ReplyCheck::Garbage;
        }
        pos += 4;
        same = msg[12..pos].eq_ignore_ascii_case(question);
    }
    for _ in 0..rrs {
        if !skip_name(msg, &mut pos) || msg.len() < pos + 10 {
            return ReplyCheck::Garbage;
        }
        let rdlen = u16::from_be_bytes([msg[pos + 8], msg[pos + 9]]) as usize;
        pos += 10 + rdlen;
        if msg.len() < pos {
            return ReplyCheck::Garbage;
        }
    }
    if pos != msg.len() {
        return ReplyCheck::Garbage;
    }
    if same {
        ReplyCheck::Good
    } else {
        ReplyCheck::OtherQuestion
    }
}

/// Skip a possibly compressed name; false when it runs off the end or is invalid.
fn skip_name(msg: &[u8], pos: &mut usize) -> bool {
    let mut total = 0usize;
    loop {
        let Some(&len) = msg.get(*pos) else {
            return false;
        };
        match len & 0xc0 {
            0x00 => {
                *pos += 1;
                if len == 0 {
                    return true;
                }
                total += len as usize + 1;
                if total > 254 {
                    return false;
                }
                *pos += len as usize;
            }
            0xc0 => {
                // A pointer ends the name (we never follow it: we do not need the owner).
                if msg.len() < *pos + 2 {
                    return false;
                }
                *pos += 2;
                return true;
            }
            _ => return false,
        }
    }
}

impl Query<'_> {
    /// The question name as lowercase presentation text with the final dot, written into `out`.
    pub(crate) fn name_into(&self, out: &mut String) {
        out.clear();
        let name_bytes = &self.question[..self.question.len() - 4];
        write_name_key(name_bytes, out);
    }

    /// The largest UDP reply the client said it accepts: its EDNS payload size (at least 512),
    /// or 512 without EDNS. Unlike [`Query::udp_limit`], not capped at what we send ourselves.
    pub(crate) fn client_udp_size(&self) -> usize {
        self.edns.map_or(512, |e| (e.payload as usize).max(512))
    }

    /// The UDP reply size limit for this query.
    pub(crate) fn udp_limit(&self) -> usize {
        match self.edns {
            Some(e) => (e.payload as usize).clamp(512, MAX_UDP_REPLY),
            None => 512,
        }
    }
}

/// Append the lowercase presentation form of uncompressed wire-format labels to `out`.
/// Bytes other than letters, digits, `-`, `_` and `*` are written as `\DDD`, so the text is
/// unambiguous and a `.` always separates labels.
pub(crate) fn write_name_key(mut labels: &[u8], out: &mut String) {
    let mut any = false;
    while let Some((&len, rest)) = labels.split_first() {
        if len == 0 || rest.len() < len as usize {
            break;
        }
        any = true;
        for &b in &rest[..len as usize] {
            let b = b.to_ascii_lowercase();
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*' {
                out.push(b as char);
            } else {
                out.push('\\');
                out.push((b'0' + b / 100) as char);
                out.push((b'0' + (b / 10) % 10) as char);
                out.push((b'0' + b % 10) as char);
            }
        }
        out.push('.');
        labels = &rest[len as usize..];
    }
    if !any {
        out.push('.');
    }
}

/// The lookup key of a hickory name: lowercase presentation text, as [`write_name_key`].
pub(crate) fn name_key(name: &Name) -> String {
    let mut wire = Vec::with_capacity(64);
    name_wire(name, &mut wire);
    let mut out = String::with_capacity(wire.len() + 1);
    write_name_key(&wire, &mut out);
    out
}

/// Uncompressed wire form of a name (labels as they are, final root label included).
pub(crate) fn name_wire(name: &Name, out: &mut Vec<u8>) {
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// How to assemble a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The prepared sections as they are.
    Full,
    /// Header and question only, TC=1 (UDP truncation).
    Truncated,
}

/// Write a reply to `q` from `prep` into `out`; returns true when it had to be truncated to
/// fit `limit` (the records left out, TC=1).
pub(crate) fn write_reply(
    q: &Query<'_>,
    prep: &Prepared,
    id: u16,
    shape: Shape,
    limit: usize,
    out: &mut Vec<u8>,
) -> bool {
    let opt_len = if q.edns.is_some() { 11 } else { 0 };
    let full_len = 12 + q.question.len() + prep.bytes.len() + opt_len;
    let truncated = shape == Shape::Truncated || full_len > limit;
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    let mut f = QR | (q.flags & RD);
    if prep.aa {
        f |= AA;
    }
    if truncated {
        f |= TC;
    }
    out.push(f);
    out.push((q.flags2 & CD) | (prep.rcode & 0x0f));
    let (an, ns) = if truncated {
        (0, 0)
    } else {
        (prep.answers, prep.authorities)
    };
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&an.to_be_bytes());
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&(u16::from(q.edns.is_some())).to_be_bytes());
    out.extend_from_slice(q.question);
    if !truncated {
        out.extend_from_slice(&prep.bytes);
    }
    if q.edns.is_some() {
        push_opt(out, 0);
    }
    truncated && shape == Shape::Full
}

/// A reply with only a header (and the question when there is a parsed query), for error
/// RCODEs that carry no records.
pub(crate) fn write_bare(q: &Query<'_>, id: u16, rcode: u8, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.push(QR | (q.flags & RD));
    out.push((q.flags2 & CD) | (rcode & 0x0f));
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(q.edns.is_some())]);
    out.extend_from_slice(q.question);
    if q.edns.is_some() {
        push_opt(out, 0);
    }
}

/// An empty reply with TC=1 and RCODE NOERROR (the question, and OPT when the query had one):
/// "too large for UDP, ask again over TCP", for a name whose answer is not ours.
pub(crate) fn write_truncated(q: &Query<'_>, out: &mut Vec<u8>) {
    write_bare(q, q.id, rcode::NOERROR, out);
    out[2] |= TC;
}

/// BADVERS (extended RCODE 16) for an EDNS version we do not speak.
pub(crate) fn write_badvers(q: &Query<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    out.push(QR | (q.flags & RD));
    out.push(q.flags2 & CD);
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(q.question);
    push_opt(out, 1);
}

/// A header-only reply for messages without a usable question (FORMERR, NOTIMP).
pub(crate) fn write_header_only(id: u16, flags: u8, rcode: u8, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.push(QR | (flags & 0x78) | (flags & RD));
    out.push(rcode & 0x0f);
    out.extend_from_slice(&[0; 8]);
}

/// Bytes that carry the query's ID and look like a reply but do not parse: the header
/// announces one answer that is cut off after its owner name.
pub(crate) fn write_malformed(q: &Query<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    out.push(QR | AA | (q.flags & RD));
    out.push(0);
    out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    out.extend_from_slice(q.question);
    // An answer record: a pointer to the question name, then a type and half a class.
    out.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00]);
}

/// Append our OPT record: root owner, our payload size, extended RCODE high bits, version 0.
fn push_opt(out: &mut Vec<u8>, ext_rcode: u8) {
    out.push(0);
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&OUR_UDP_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[ext_rcode, 0, 0, 0]);
    out.extend_from_slice(&0u16.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
        for label in name.split('.').filter(|l| !l.is_empty()) {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        if edns {
            m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
        }
        m
    }

    #[test]
    fn parses_a_query_with_edns() {
        let m = query("WWW.Example.com", 28, true);
        let Parsed::Query(q) = parse(&m) else {
            panic!("not a query")
        };
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qtype, 28);
        assert_eq!(q.edns.unwrap().payload, 4096);
        let mut name = String::new();
        q.name_into(&mut name);
        assert_eq!(name, "www.example.com.");
        assert_eq!(q.udp_limit(), 4096);
    }

    #[test]
    fn rejects_bad_shapes() {
        let good = query("a.b", 1, false);
        assert!(matches!(parse(&good[..11]), Parsed::Ignore));
        let mut resp = good.clone();
        resp[2] |= 0x80;
        assert!(matches!(parse(&resp), Parsed::Ignore));
        let mut two = good.clone();
        two[5] = 2;
        assert!(matches!(parse(&two), Parsed::FormErr { .. }));
        let mut zero = good.clone();
        zero[5] = 0;
        assert!(matches!(parse(&zero), Parsed::FormErr { .. }));
        let mut trailing = good.clone();
        trailing.push(7);
        assert!(matches!(parse(&trailing), Parsed::FormErr { .. }));
        assert!(matches!(
            parse(&good[..good.len() - 1]),
            Parsed::FormErr { .. }
        ));
        let mut notify = good.clone();
        notify[2] = 4 << 3;
        assert!(matches!(parse(&notify), Parsed::NotImp { .. }));
        let mut two_opt = query("a.b", 1, true);
        two_opt[11] = 2;
        two_opt.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(parse(&two_opt), Parsed::FormErr { .. }));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_respects_bounds(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Parsed::Query(q) = parse(&bytes) {
                let mut name = String::new();
                q.name_into(&mut name);
                proptest::prop_assert!(name.ends_with('.'));
                proptest::prop_assert!(q.question.len() <= 259);
            }
        }

        #[test]
        fn mutated_queries_never_panic(flip in proptest::collection::vec((0usize..40, proptest::prelude::any::<u8>()), 1..6), cut in 0usize..60) {
            let mut m = query("www.example.com", 1, true);
            for (i, b) in flip {
                let i = i % m.len();
                m[i] = b;
            }
            m.truncate(cut.max(1));
            let _ = parse(&m);
        }
    }

    #[test]
    fn replies_are_checked_against_the_question() {
        let q = query("www.example.com", 1, false);
        let question = &q[12..];
        let mut r = q.clone();
        r[2] |= 0x80;
        assert_eq!(check_reply(&r, question), ReplyCheck::Good);
        let mut upper = r.clone();
        upper[13] = b'W';
        assert_eq!(check_reply(&upper, question), ReplyCheck::Good);
        let other = {
            let mut o = query("xyz.example.com", 1, false);
            o[2] |= 0x80;
            o
        };
        assert_eq!(check_reply(&other, question), ReplyCheck::OtherQuestion);
        // An answer record: pointer to the question, A, IN, TTL, 4 bytes.
        let mut with_answer = r.clone();
        with_answer[7] = 1;
        with_answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        assert_eq!(check_reply(&with_answer, question), ReplyCheck::Good);
        assert_eq!(
            check_reply(&with_answer[..with_answer.len() - 1], question),
            ReplyCheck::Garbage
        );
        let mut trailing = r.clone();
        trailing.push(0);
        assert_eq!(check_reply(&trailing, question), ReplyCheck::Garbage);
        assert_eq!(check_reply(&q, question), ReplyCheck::Garbage, "QR=0");
        assert_eq!(check_reply(&r[..11], question), ReplyCheck::Garbage);
        let header_only = [0x12, 0x34, 0x81, 0x82, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(check_reply(&header_only, question), ReplyCheck::Good);
    }

    proptest::proptest! {
        #[test]
        fn reply_check_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let q = query("www.example.com", 1, false);
            let _ = check_reply(&bytes, &q[12..]);
        }
    }

    #[test]
    fn name_keys_escape_odd_bytes() {
        let mut out = String::new();
        write_name_key(&[3, b'A', b'.', b' ', 2, b'c', b'o', 0], &mut out);
        assert_eq!(out, "a\\046\\032.co.");
        out.clear();
        write_name_key(&[0], &mut out);
        assert_eq!(out, ".");
        assert_eq!(name_key(&Name::from_ascii("Foo.Bar.").unwrap()), "foo.bar.");
    }
}
