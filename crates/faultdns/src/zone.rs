//! The data faultdns serves: zone text and one-line records, compiled into prepared answers.
//!
//! Algorithm: at start every (name, type) the data can answer is encoded once into a
//! [`Prepared`] section (answer and authority records, position independent: owner names equal
//! to the question are a pointer to offset 12, other names uncompressed). A query then costs a
//! hash lookup of its lowercase name, or a walk up its suffixes to find a wildcard, a synthesis
//! suffix or the enclosing zone's NXDOMAIN answer. Negative answers carry the zone's SOA with
//! the TTL RFC 2308 asks for (`min(SOA TTL, MINIMUM)`). Names with records but no enclosing SOA
//! get a synthesised SOA at their parent; names outside every zone get one at the root.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, Ipv6Addr},
    path::Path,
    sync::Arc,
};

use hickory_proto::{
    rr::{
        DNSClass, Name, RData, Record, RecordType,
        rdata::{A, AAAA, SOA},
    },
    serialize::{
        binary::{BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict},
        txt::Parser,
    },
};

use crate::{
    error::Error,
    locate::locate,
    wire::{self, rcode},
};

/// Reply sections for one (name, type), ready to copy after the question.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) rcode: u8,
    pub(crate) aa: bool,
    pub(crate) answers: u16,
    pub(crate) authorities: u16,
    pub(crate) bytes: Box<[u8]>,
}

/// TTL of synthesised records and SOAs.
const SYNTH_TTL: u32 = 60;
/// Longest CNAME chain followed inside the data.
const MAX_CHAIN: usize = 8;
const TYPE_CNAME: u16 = 5;
const TYPE_ANY: u16 = 255;

/// Records and synthesis suffixes collected by the builder.
#[derive(Clone, Debug, Default)]
pub(crate) struct Data {
    records: Vec<Record>,
    synth: Vec<(Name, Ipv4Addr, Option<Ipv6Addr>)>,
}

impl Data {
    /// The records collected so far.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn records(&self) -> &[Record] {
        &self.records
    }

    /// Add the records of RFC 1035 zone text. `source` names the text in errors.
    pub(crate) fn add_zone_text(
        &mut self,
        text: &str,
        source: &str,
        path: Option<&Path>,
    ) -> Result<(), Error> {
        let parse =
            |t: &str| Parser::new(t, path.map(Path::to_path_buf), Some(Name::root())).parse();
        match parse(text) {
            Ok((_, sets)) => {
                let before = self.records.len();
                for set in sets.values() {
                    for r in set
                        .records_without_rrsigs()
                        .filter(|&r| r.dns_class == DNSClass::IN)
                    {
                        if let Some(reason) = unsendable(r) {
                            self.records.truncate(before);
                            return Err(Error::Zone {
                                source_name: source.to_string(),
                                line: None,
                                text: None,
                                token: Some(r.name.to_string()),
                                reason,
                            });
                        }
                        self.records.push(r.clone());
                    }
                }
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                let at = locate(text, &reason, parse);
                Err(Error::Zone {
                    source_name: source.to_string(),
                    line: at.line,
                    text: at.text,
                    token: at.token,
                    reason,
                })
            }
        }
    }

    /// Add one record written as a zone-file line with an absolute owner name (TTL optional).
    pub(crate) fn add_record_line(&mut self, line: &str) -> Result<(), Error> {
        let err = |reason: String| Error::Record {
            record: line.trim().to_string(),
            token: None,
            reason,
        };
        if line.contains('\n') || line.trim_start().starts_with('$') {
            return Err(err("expected a single record line".into()));
        }
        if line.starts_with(char::is_whitespace) || line.trim().is_empty() {
            return Err(err("the line must start with the owner name".into()));
        }
        // The TTL is optional in a record line: 60 s unless given.
        let text = format!("$TTL {SYNTH_TTL}\n{line}\n");
        let parse = |t: &str| Parser::new(t, None, Some(Name::root())).parse();
        let (_, sets) = parse(&text).map_err(|e| {
            let reason = e.to_string();
            Error::Record {
                record: line.trim().to_string(),
                token: locate(&text, &reason, parse).token,
                reason,
            }
        })?;
        let before = self.records.len();
        for set in sets.values() {
            for r in set
                .records_without_rrsigs()
                .filter(|&r| r.dns_class == DNSClass::IN)
            {
                if let Some(reason) = unsendable(r) {
                    self.records.truncate(before);
                    return Err(err(reason));
                }
                self.records.push(r.clone());
            }
        }
        if self.records.len() == before {
            return Err(err("no IN-class record in the line".into()));
        }
        Ok(())
    }

    /// Answer A (and AAAA when given) for every name strictly below `suffix`.
    pub(crate) fn add_synthesis(
        &mut self,
        suffix: &str,
        v4: Ipv4Addr,
        v6: Option<Ipv6Addr>,
    ) -> Result<(), Error> {
        let name = Name::from_ascii(suffix).map_err(|e| Error::Synthesis {
            suffix: suffix.to_string(),
            reason: e.to_string(),
        })?;
        let mut name = name.to_lowercase();
        name.set_fqdn(true);
        if name.is_root() {
            return Err(Error::Synthesis {
                suffix: suffix.to_string(),
                reason: "the root cannot be a synthesis suffix".into(),
            });
        }
        self.synth.push((name, v4, v6));
        Ok(())
    }
}

/// One name of the data: its records, and prepared answers per type.
#[derive(Debug)]
struct Node {
    by_type: Vec<(u16, Arc<Prepared>)>,
    /// For every other type: NODATA (or the CNAME chain ending in NODATA).
    other: Arc<Prepared>,
}

impl Node {
    fn get(&self, qtype: u16) -> &Arc<Prepared> {
        self.by_type
            .iter()
            .find(|(t, _)| *t == qtype)
            .map(|(_, p)| p)
            .unwrap_or(&self.other)
    }
}

#[derive(Debug)]
struct Synth {
    a: Arc<Prepared>,
    aaaa: Arc<Prepared>,
    nodata: Arc<Prepared>,
}

/// The compiled data: what the server consults for every query.
#[derive(Debug)]
pub(crate) struct Store {
    names: HashMap<Box<str>, Node>,
    /// Wildcard nodes, keyed by the parent of the `*` label.
    wildcards: HashMap<Box<str>, Node>,
    synth: HashMap<Box<str>, Synth>,
    /// NXDOMAIN answers per zone apex.
    zones: HashMap<Box<str>, Arc<Prepared>>,
    root_nxdomain: Arc<Prepared>,
    local: Local,
}

/// Which names the data decides when upstreams are configured (everything else is forwarded):
/// names at or below the apex of a zone given with its SOA, or below a synthesis suffix (or
/// the suffix itself); names that own records; names a wildcard record covers.
#[derive(Debug, Default)]
struct Local {
    apexes: std::collections::HashSet<Box<str>>,
    owners: std::collections::HashSet<Box<str>>,
    /// Parents of wildcard owners (`*.x.` gives `x.`): names strictly below them.
    wildcards: std::collections::HashSet<Box<str>>,
}

/// What a lookup found.
pub(crate) struct Found<'a> {
    pub(crate) prepared: &'a Arc<Prepared>,
}

impl Store {
    /// The answer for a lowercase name key and a type.
    pub(crate) fn lookup(&self, key: &str, qtype: u16) -> Found<'_> {
        if let Some(node) = self.names.get(key) {
            return Found {
                prepared: node.get(qtype),
            };
        }
        for suffix in strict_suffixes(key) {
            if let Some(w) = self.wildcards.get(suffix) {
                return Found {
                    prepared: w.get(qtype),
                };
            }
            if let Some(s) = self.synth.get(suffix) {
                let prepared = match qtype {
                    1 => &s.a,
                    28 => &s.aaaa,
                    _ => &s.nodata,
                };
                return Found { prepared };
            }
            if self.names.contains_key(suffix) {
                // The closest encloser exists and has no wildcard: the name does not exist.
                break;
            }
        }
        Found {
            prepared: self.nxdomain_for(key),
        }
    }

    /// Whether the data decides `key` (see [`Local`]); when it does not, a server with upstreams
    /// forwards the query.
    pub(crate) fn is_local(&self, key: &str) -> bool {
        let l = &self.local;
        if l.owners.contains(key) || l.apexes.contains(key) {
            return true;
        }
        strict_suffixes(key).any(|s| l.apexes.contains(s) || l.wildcards.contains(s))
    }

    /// The authoritative NXDOMAIN answer of the zone enclosing `key`.
    pub(crate) fn nxdomain_for(&self, key: &str) -> &Arc<Prepared> {
        std::iter::once(key)
            .chain(strict_suffixes(key))
            .find_map(|s| self.zones.get(s))
            .unwrap_or(&self.root_nxdomain)
    }

    /// Compile the collected data.
    pub(crate) fn build(data: &Data) -> Store {
        Builder::new(data).finish()
    }
}

/// The strict suffixes of a name key, longest first: `a.b.` gives `b.`, `.`.
fn strict_suffixes(key: &str) -> impl Iterator<Item = &str> {
    let bytes = key.as_bytes();
    let ends_with_root = key != ".";
    (0..bytes.len())
        .filter(move |&i| bytes[i] == b'.' && i + 1 < bytes.len())
        .map(move |i| &key[i + 1..])
        .chain(ends_with_root.then_some("."))
}

fn synth_soa(apex: &Name) -> Record {
    let mname = Name::from_ascii("ns.faultdns.invalid.").expect("static name");
    let rname = Name::from_ascii("hostmaster.faultdns.invalid.").expect("static name");
    let soa = SOA::new(mname, rname, 1, 3600, 600, 86400, SYNTH_TTL);
    Record::from_rdata(apex.clone(), SYNTH_TTL, RData::SOA(soa))
}

fn parent(name: &Name) -> Name {
    if name.num_labels() >= 2 {
        name.base_name()
    } else {
        name.clone()
    }
}

struct Builder {
    /// Records per lowercase owner key (wildcard owners included, as `*.x.`).
    records: HashMap<String, Vec<Record>>,
    /// Zone apex key -> SOA record.
    soas: HashMap<String, Record>,
    /// Existing names (owners and empty non-terminals).
    exists: std::collections::HashSet<String>,
    synth: Vec<(String, Name, Ipv4Addr, Option<Ipv6Addr>)>,
    /// Every type present in the data, for prepared CNAME chains.
    types: Vec<u16>,
    local: Local,
}

impl Builder {
    fn new(data: &Data) -> Builder {
        let mut b = Builder {
            records: HashMap::new(),
            soas: HashMap::new(),
            exists: Default::default(),
            synth: Vec::new(),
            types: vec![1, 28],
            local: Local::default(),
        };
        let mut records: Vec<Record> = data.records.clone();
        for r in &records {
            let key = wire::name_key(&r.name);
            if let RData::SOA(_) = &r.data {
                b.local.apexes.insert(key.as_str().into());
                b.soas.entry(key).or_insert_with(|| r.clone());
            } else if let Some(parent) = key.strip_prefix("*.") {
                b.local.wildcards.insert(parent.into());
            } else {
                b.local.owners.insert(key.into());
            }
        }
        // Records outside every zone: a synthesised SOA at their parent.
        let mut implicit = Vec::new();
        for r in &records {
            if b.zone_apex(&wire::name_key(&r.name)).is_none() {
                let apex = parent(&r.name.to_lowercase());
                let soa = synth_soa(&apex);
                b.soas.insert(wire::name_key(&apex), soa.clone());
                implicit.push(soa);
            }
        }
        for (suffix, v4, v6) in &data.synth {
            let key = wire::name_key(suffix);
            b.local.apexes.insert(key.as_str().into());
            if b.zone_apex(&key).is_none() {
                let soa = synth_soa(suffix);
                b.soas.insert(key.clone(), soa.clone());
                implicit.push(soa);
            }
            b.exists.insert(key.clone());
            b.synth.push((key, suffix.clone(), *v4, *v6));
        }
        records.extend(implicit);
        for r in records {
            let key = wire::name_key(&r.name);
            let t = u16::from(r.record_type());
            if !b.types.contains(&t) {
                b.types.push(t);
            }
            // The owner and its ancestors down to the apex exist.
            let apex = b.zone_apex(&key).unwrap_or(".").to_string();
            for name in std::iter::once(key.as_str()).chain(strict_suffixes(&key)) {
                if name.len() < apex.len() {
                    break;
                }
                b.exists.insert(name.to_string());
            }
            let list = b.records.entry(key).or_default();
            if !list.contains(&r) {
                list.push(r);
            }
        }
        b
    }

    /// The longest zone apex that is `key` or a suffix of it.
    fn zone_apex<'k>(&self, key: &'k str) -> Option<&'k str> {
        std::iter::once(key)
            .chain(strict_suffixes(key))
            .find(|s| self.soas.contains_key(*s))
    }

    fn soa_authority(&self, key: &str) -> Option<(Record, u32)> {
        let apex = self.zone_apex(key)?;
        let soa = &self.soas[apex];
        let min = match &soa.data {
            RData::SOA(s) => s.minimum,
            _ => soa.ttl,
        };
        Some((soa.clone(), soa.ttl.min(min)))
    }

    fn finish(mut self) -> Store {
        let local = std::mem::take(&mut self.local);
        let mut names = HashMap::new();
        let mut wildcards = HashMap::new();
        for key in &self.exists {
            let node = self.node(key);
            if let Some(parent_key) = key.strip_prefix("*.") {
                wildcards.insert(parent_key.into(), node);
            } else {
                names.insert(key.as_str().into(), node);
            }
        }
        let mut zones = HashMap::new();
        for apex in self.soas.keys() {
            zones.insert(
                apex.as_str().into(),
                Arc::new(self.negative(apex, rcode::NXDOMAIN)),
            );
        }
        let root_soa = synth_soa(&Name::root());
        let root_nxdomain = Arc::new(prepare(rcode::NXDOMAIN, &[], &[(&root_soa, SYNTH_TTL)]));
        let mut synth = HashMap::new();
        for (key, name, v4, v6) in &self.synth {
            let a = Record::from_rdata(name.clone(), SYNTH_TTL, RData::A(A(*v4)));
            let nodata = Arc::new(self.negative(key, rcode::NOERROR));
            let aaaa = match v6 {
                Some(v6) => {
                    let r = Record::from_rdata(name.clone(), SYNTH_TTL, RData::AAAA(AAAA(*v6)));
                    Arc::new(prepare(rcode::NOERROR, &[(&r, true)], &[]))
                }
                None => nodata.clone(),
            };
            let a = Arc::new(prepare(rcode::NOERROR, &[(&a, true)], &[]));
            synth.insert(key.as_str().into(), Synth { a, aaaa, nodata });
        }
        Store {
            names,
            wildcards,
            synth,
            zones,
            root_nxdomain,
            local,
        }
    }

    /// NOERROR/NODATA or NXDOMAIN with the SOA of the zone enclosing `key`.
    fn negative(&self, key: &str, rcode: u8) -> Prepared {
        match self.soa_authority(key) {
            Some((soa, ttl)) => prepare(rcode, &[], &[(&soa, ttl)]),
            None => prepare(rcode, &[], &[]),
        }
    }

    fn node(&self, key: &str) -> Node {
        let records: &[Record] = self.records.get(key).map_or(&[], Vec::as_slice);
        let cname = records
            .iter()
            .find(|r| r.record_type() == RecordType::CNAME);
        let mut by_type = Vec::new();
        let other = if let Some(cname) = cname {
            let alone = Arc::new(prepare(rcode::NOERROR, &[(cname, true)], &[]));
            by_type.push((TYPE_CNAME, alone.clone()));
            by_type.push((TYPE_ANY, alone));
            for &t in self.types.iter().filter(|t| **t != TYPE_CNAME) {
                by_type.push((t, Arc::new(self.chain(cname, t))));
            }
            Arc::new(self.chain(cname, 0))
        } else {
            let mut types: Vec<u16> = records.iter().map(|r| u16::from(r.record_type())).collect();
            types.sort_unstable();
            types.dedup();
            for t in types {
                let rs: Vec<(&Record, bool)> = records
                    .iter()
                    .filter(|r| u16::from(r.record_type()) == t)
                    .map(|r| (r, true))
                    .collect();
                by_type.push((t, Arc::new(prepare(rcode::NOERROR, &rs, &[]))));
            }
            if !records.is_empty() {
                let all: Vec<(&Record, bool)> = records.iter().map(|r| (r, true)).collect();
                by_type.push((TYPE_ANY, Arc::new(prepare(rcode::NOERROR, &all, &[]))));
            }
            Arc::new(self.negative(key, rcode::NOERROR))
        };
        Node { by_type, other }
    }

    /// The answer for a CNAME owner asked for type `t` (0: a type nothing in the data has).
    fn chain(&self, first: &Record, t: u16) -> Prepared {
        let mut answers: Vec<(&Record, bool)> = vec![(first, true)];
        let Some((mut target, mut target_name)) = cname_target(first) else {
            return prepare(rcode::NOERROR, &answers, &[]);
        };
        for _ in 0..MAX_CHAIN {
            let records = self.records.get(&target);
            if let Some(next) =
                records.and_then(|rs| rs.iter().find(|r| r.record_type() == RecordType::CNAME))
            {
                answers.push((next, false));
                match cname_target(next) {
                    Some((t, n)) => (target, target_name) = (t, n),
                    None => break,
                }
                continue;
            }
            if self.exists.contains(&target) {
                let found: Vec<(&Record, bool)> = records
                    .into_iter()
                    .flatten()
                    .filter(|r| u16::from(r.record_type()) == t)
                    .map(|r| (r, false))
                    .collect();
                if found.is_empty() {
                    let auth = self.soa_authority(&target);
                    let auth: Vec<(&Record, u32)> = auth.iter().map(|(r, ttl)| (r, *ttl)).collect();
                    return prepare(rcode::NOERROR, &answers, &auth);
                }
                answers.extend(found);
                return prepare(rcode::NOERROR, &answers, &[]);
            }
            if let Some((_, _, v4, v6)) = self
                .synth
                .iter()
                .find(|(s, _, _, _)| strict_suffixes(&target).any(|x| x == s))
            {
                let name = target_name.clone();
                let rec = match (t, v6) {
                    (1, _) => Some(Record::from_rdata(name, SYNTH_TTL, RData::A(A(*v4)))),
                    (28, Some(v6)) => {
                        Some(Record::from_rdata(name, SYNTH_TTL, RData::AAAA(AAAA(*v6))))
                    }
                    _ => None,
                };
                if let Some(rec) = &rec {
                    answers.push((rec, false));
                }
                return prepare(rcode::NOERROR, &answers, &[]);
            }
            if let Some((soa, ttl)) = self.soa_authority(&target)
                && !soa.name.is_root()
            {
                return prepare(rcode::NXDOMAIN, &answers, &[(&soa, ttl)]);
            }
            return prepare(rcode::NOERROR, &answers, &[]);
        }
        // A loop or an over-long chain: answer with what was followed.
        prepare(rcode::NOERROR, &answers, &[])
    }
}

/// Why `r` cannot be sent, if it cannot: its RDATA does not encode (the zone parser accepts
/// some values the wire cannot carry, such as a TXT string longer than 255 bytes), is longer
/// than a record can be, or does not read back.
fn unsendable(r: &Record) -> Option<String> {
    let mut rdata = Vec::new();
    let mut enc = BinEncoder::new(&mut rdata);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    if let Err(e) = r.data.emit(&mut enc) {
        return Some(format!(
            "the {} record of {} cannot be encoded: {e}",
            r.record_type(),
            r.name
        ));
    }
    let Ok(length) = u16::try_from(rdata.len()) else {
        return Some(format!(
            "the {} record of {} has {} bytes of RDATA, more than a record holds",
            r.record_type(),
            r.name,
            rdata.len()
        ));
    };
    // hickory writes some values its own reader refuses (a CAA tag with a quote in it): a
    // client would not read them either.
    let mut decoder = BinDecoder::new(&rdata);
    match RData::read(&mut decoder, r.record_type(), Restrict::new(length)) {
        Ok(_) if decoder.is_empty() => None,
        Ok(_) => Some(format!(
            "the {} record of {} encodes as RDATA that reads back shorter",
            r.record_type(),
            r.name
        )),
        Err(e) => Some(format!(
            "the {} record of {} encodes as RDATA that does not read back: {e}",
            r.record_type(),
            r.name
        )),
    }
}

/// The lookup key and name of a CNAME record's target.
fn cname_target(r: &Record) -> Option<(String, Name)> {
    match &r.data {
        RData::CNAME(c) => Some((wire::name_key(&c.0), c.0.clone())),
        _ => None,
    }
}

/// Encode sections. `answers` flag: the owner is the question name (written as a pointer).
fn prepare(rcode: u8, answers: &[(&Record, bool)], auth: &[(&Record, u32)]) -> Prepared {
    let mut bytes = Vec::with_capacity(64);
    for (r, owner_is_qname) in answers {
        encode(r, *owner_is_qname, r.ttl, &mut bytes);
    }
    for (r, ttl) in auth {
        encode(r, false, *ttl, &mut bytes);
    }
    Prepared {
        rcode,
        aa: true,
        answers: answers.len() as u16,
        authorities: auth.len() as u16,
        bytes: bytes.into_boxed_slice(),
    }
}

fn encode(r: &Record, owner_is_qname: bool, ttl: u32, out: &mut Vec<u8>) {
    if owner_is_qname {
        out.extend_from_slice(&[0xc0, 0x0c]);
    } else {
        wire::name_wire(&r.name, out);
    }
    out.extend_from_slice(&u16::from(r.record_type()).to_be_bytes());
    out.extend_from_slice(&u16::from(r.dns_class).to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let mut rdata = Vec::with_capacity(32);
    let mut enc = BinEncoder::new(&mut rdata);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    // Records that do not encode are refused when the data is added (`unsendable`); the
    // synthesised ones always encode.
    if r.data.emit(&mut enc).is_err() {
        rdata.clear();
    }
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_errors_name_the_line_and_token() {
        let text = "$ORIGIN example.com.\n@ 60 IN SOA ns. host. 1 60 60 60 60\nwww 60 IN A 192.0.2.1\nbad 60 IN AAA 192.0.2.2\n";
        let err = Data::default()
            .add_zone_text(text, "test.zone", None)
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Zone { line: Some(4), .. }), "{msg}");
        assert!(msg.contains("at `AAA`"), "{msg}");
        assert!(msg.contains("test.zone") && msg.contains("line 4"), "{msg}");
        let text = "$ORIGIN example.com.\nwww 60 IN A 192.0.2.1\nmail 60 IN MX ten mail\n";
        let msg = Data::default()
            .add_zone_text(text, "t", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 3") && msg.contains("at `ten`"), "{msg}");
    }

    #[test]
    fn record_lines_reject_garbage() {
        let mut d = Data::default();
        assert!(d.add_record_line("www.example.com. 60 A 192.0.2.1").is_ok());
        assert!(d.add_record_line("ttl.example.com. A 192.0.2.1").is_ok());
        assert_eq!(d.records.last().unwrap().ttl, 60);
        for bad in [
            "",
            " www. 60 A 1.2.3.4",
            "www. 60 A 1.2.3",
            "www. 60 A 1.2.3.4\nx. A 1.1.1.1",
            "$ORIGIN x.",
        ] {
            let e = d.add_record_line(bad).unwrap_err();
            assert!(matches!(e, Error::Record { .. }), "{bad:?}: {e}");
        }
        let msg = d
            .add_record_line("www. 60 A 1.2.3")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("1.2.3"), "{msg}");
    }

    /// Found by the `faultdns_zone` fuzz target: a TXT string of more than 255 bytes parsed,
    /// did not encode, and went out with empty RDATA, a reply no client can parse.
    #[test]
    fn records_that_cannot_be_encoded_are_refused() {
        let long = "x".repeat(300);
        let mut d = Data::default();
        let e = d
            .add_zone_text(
                &format!(
                    "$ORIGIN t.\n@ 60 IN SOA ns. host. 1 60 60 60 60\nbig 60 IN TXT \"{long}\"\n"
                ),
                "zone text",
                None,
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Zone { token: Some(t), .. } if t == "big.t."),
            "{e}"
        );
        assert!(e.to_string().contains("TXT"), "{e}");
        assert!(d.records.is_empty());
        let e = d
            .add_record_line(&format!("big.t. 60 TXT \"{long}\""))
            .unwrap_err();
        assert!(matches!(e, Error::Record { .. }), "{e}");
        assert!(d.records.is_empty());
        d.add_record_line(&format!("ok.t. 60 TXT \"{}\"", &long[..255]))
            .unwrap();
        // Found by the same target: a CAA record whose tag has a quote in it encodes, but
        // what it encodes to does not read back.
        let e = d
            .add_record_line("c.t. 60 CAA 0 si\" sueca.example\"")
            .unwrap_err();
        assert!(e.to_string().contains("CAA"), "{e}");
        d.add_record_line("c.t. 60 CAA 0 issue \"ca.example\"")
            .unwrap();
    }

    #[test]
    fn local_names_are_zones_owners_wildcards_and_synthesis() {
        let mut d = Data::default();
        d.add_zone_text(
            "$ORIGIN example.com.\n@ 60 IN SOA ns. host. 1 60 60 60 60\nwww 60 IN A 192.0.2.1\n",
            "t",
            None,
        )
        .unwrap();
        d.add_record_line("one.other.test. 60 A 192.0.2.2").unwrap();
        d.add_record_line("*.wild.test. 60 A 192.0.2.3").unwrap();
        d.add_synthesis("load.test.", Ipv4Addr::new(192, 0, 2, 4), None)
            .unwrap();
        let store = Store::build(&d);
        for local in [
            "example.com.",
            "www.example.com.",
            "nope.example.com.",
            "one.other.test.",
            "a.wild.test.",
            "b.a.wild.test.",
            "load.test.",
            "x.load.test.",
        ] {
            assert!(store.is_local(local), "{local}");
        }
        for forwarded in [
            "com.",
            "other.test.",
            "two.other.test.",
            "wild.test.",
            "cloudflare.com.",
            ".",
        ] {
            assert!(!store.is_local(forwarded), "{forwarded}");
        }
        assert!(!Store::build(&Data::default()).is_local("www.example.com."));
    }

    #[test]
    fn suffixes_walk_up_to_the_root() {
        let got: Vec<&str> = strict_suffixes("a.b.c.").collect();
        assert_eq!(got, ["b.c.", "c.", "."]);
        assert_eq!(strict_suffixes(".").count(), 0);
    }
}
