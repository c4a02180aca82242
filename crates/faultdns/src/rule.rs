//! The rule language: `ACTION [key=value ...]`, parsed with errors that name the bad token.
//!
//! Grammar (whitespace separated, keys in any order, each at most once):
//!
//! ```text
//! rule    = action *( key "=" value )
//! action  = answer | drop | servfail | refused | nxdomain | truncate | wrong-id | malformed
//! key     = name | qtype | proto | from | p | every | first | delay | burst | loss | on
//! ```

use std::{fmt, net::IpAddr, str::FromStr, time::Duration};

use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;

use crate::{error::Error, wire};

/// What a rule does to a query it fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Answer normally from the data (useful with `delay=`, or to exempt queries from later rules).
    Answer,
    /// Send nothing.
    Drop,
    /// Answer with RCODE SERVFAIL.
    ServFail,
    /// Answer with RCODE REFUSED.
    Refused,
    /// Answer with an authoritative NXDOMAIN (with the zone's SOA), whatever the data says.
    NxDomain,
    /// Over UDP: an empty answer with TC=1. Over TCP: the full answer.
    Truncate,
    /// The normal answer with a different message ID.
    WrongId,
    /// Bytes that do not parse as a DNS message, sent from the server's port with the query's ID.
    Malformed,
}

impl Action {
    /// The keyword of this action in the rule language.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Answer => "answer",
            Action::Drop => "drop",
            Action::ServFail => "servfail",
            Action::Refused => "refused",
            Action::NxDomain => "nxdomain",
            Action::Truncate => "truncate",
            Action::WrongId => "wrong-id",
            Action::Malformed => "malformed",
        }
    }

    const ALL: [Action; 8] = [
        Action::Answer,
        Action::Drop,
        Action::ServFail,
        Action::Refused,
        Action::NxDomain,
        Action::Truncate,
        Action::WrongId,
        Action::Malformed,
    ];
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

impl Proto {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule acts: on the query as it arrives, or on an upstream's reply to a forwarded
/// query (`on=reply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Phase {
    /// When the query arrives, before any answer exists (the default).
    #[default]
    Query,
    /// When an upstream has answered a forwarded query, before the answer is relayed.
    Reply,
}

impl Phase {
    /// `query` or `reply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Query => "query",
            Phase::Reply => "reply",
        }
    }
}

/// Which names a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameMatch {
    /// Exactly this name (lowercase presentation form, with the final dot).
    Exact(String),
    /// Any name strictly below this suffix; stored as `.suffix.` so `ends_with` is the test.
    Below(String),
}

impl NameMatch {
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(n) => n == name,
            NameMatch::Below(dot_suffix) => {
                name.len() > dot_suffix.len() && name.ends_with(dot_suffix.as_str())
            }
        }
    }
}

/// One fault rule. Build it with [`str::parse`]; `Display` gives the canonical text back.
///
/// ```
/// let rule: faultdns::Rule = "drop name=*.example.com. qtype=AAAA p=0.3".parse()?;
/// assert_eq!(rule.action(), faultdns::Action::Drop);
/// # Ok::<(), faultdns::Error>(())
/// ```
///
/// Keys (all optional; a query must satisfy every key given for the rule to *match*):
/// - `name=www.example.com.` exact name, or `name=*.example.com.` any name strictly below
///   `example.com.` (`name=*`: any name); case-insensitive, the final dot optional.
/// - `qtype=AAAA` (any type mnemonic, or `TYPE65`); `proto=udp|tcp`; `from=CIDR` (client address).
///
/// Keys that decide whether a matching rule *fires* (all given must agree):
/// - `every=N`: fires on the Nth, 2Nth, ... match; `first=N`: fires only on the first N matches;
/// - `p=0.3`: fires with probability 0.3, from the server's seeded RNG;
/// - `burst=MEANRUN loss=P`: Gilbert-Elliott burst model: the rule fires in runs whose mean
///   length is `MEANRUN` matches, so that a fraction `P` of matches fire in the long run
///   (exclusive with `p`).
///
/// `delay=DURATION` (`200ms`, `1s`) holds the reply back before the action is carried out; other
/// queries are not held up. It cannot be combined with `drop`. For a forwarded query the delay
/// runs from the moment the upstream's reply arrived.
///
/// `on=reply` makes a rule act on the reply path of forwarding (see [`Phase`]): it is evaluated
/// when an upstream has answered a forwarded query, and its action replaces the relayed reply
/// (`drop` loses it, `answer delay=` holds it back, `servfail` replaces it, `truncate` sends
/// TC=1 over UDP instead, and so on). Rules without `on=` (or `on=query`) act when the query
/// arrives. The two lists are evaluated separately, each in order. Without upstreams there are
/// no replies to act on, and `on=reply` rules never match (the binary refuses them); in the
/// hickory-server layer they act on the wrapped handler's response.
///
/// A rule that matches but does not fire lets evaluation go on to the next rule; a query no rule
/// fires on is answered from the data (or, with upstreams, forwarded when the data does not
/// decide it; see [`crate::Builder::upstream`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub(crate) action: Action,
    pub(crate) name: Option<NameMatch>,
    pub(crate) qtype: Option<u16>,
    pub(crate) proto: Option<Proto>,
    pub(crate) from: Option<IpNet>,
    pub(crate) p: Option<f64>,
    pub(crate) every: Option<u64>,
    pub(crate) first: Option<u64>,
    pub(crate) delay: Option<Duration>,
    pub(crate) burst: Option<Burst>,
    pub(crate) phase: Phase,
}

/// Gilbert-Elliott parameters: mean run length of firing matches and long-run firing fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Burst {
    pub(crate) mean_run: f64,
    pub(crate) loss: f64,
}

impl Burst {
    /// Probability of leaving the firing ("bad") state after a match in it.
    pub(crate) fn p_leave_bad(&self) -> f64 {
        1.0 / self.mean_run
    }

    /// Probability of entering the firing state after a match in the good state, chosen so the
    /// stationary share of the bad state is `loss`: `loss = g / (g + r)`.
    pub(crate) fn p_enter_bad(&self) -> f64 {
        let r = self.p_leave_bad();
        (self.loss * r / (1.0 - self.loss)).min(1.0)
    }
}

impl Rule {
    /// A rule with this action and no keys (it matches and fires on every query).
    pub fn new(action: Action) -> Self {
        Rule {
            action,
            name: None,
            qtype: None,
            proto: None,
            from: None,
            p: None,
            every: None,
            first: None,
            delay: None,
            burst: None,
            phase: Phase::Query,
        }
    }

    /// The action taken when the rule fires.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The delay applied before the action, if any.
    pub fn delay(&self) -> Option<Duration> {
        self.delay
    }

    /// Whether the rule acts on queries (the default) or on upstream replies (`on=reply`).
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the query's identity matches the rule's keys (not whether it fires).
    pub(crate) fn matches(&self, name: &str, qtype: u16, proto: Proto, client: IpAddr) -> bool {
        if let Some(n) = &self.name
            && !n.matches(name)
        {
            return false;
        }
        if self.qtype.is_some_and(|t| t != qtype) {
            return false;
        }
        if self.proto.is_some_and(|p| p != proto) {
            return false;
        }
        if let Some(net) = &self.from
            && !net.contains(&client.to_canonical())
        {
            return false;
        }
        true
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.action.as_str())?;
        match &self.name {
            Some(NameMatch::Exact(n)) => {
                // A literal `*` first label is escaped: `name=*.x.` means the names below x.
                let text = key_text(n);
                let escape = if text == "*." || text.starts_with("*.") {
                    "\\"
                } else {
                    ""
                };
                write!(f, " name={escape}{text}")?
            }
            Some(NameMatch::Below(s)) if s == "." => f.write_str(" name=*")?,
            Some(NameMatch::Below(s)) => write!(f, " name=*.{}", key_text(&s[1..]))?,
            None => {}
        }
        if let Some(t) = self.qtype {
            write!(f, " qtype={}", qtype_text(t))?;
        }
        if let Some(p) = self.proto {
            write!(f, " proto={p}")?;
        }
        if let Some(n) = &self.from {
            write!(f, " from={n}")?;
        }
        if let Some(p) = self.p {
            write!(f, " p={p}")?;
        }
        if let Some(b) = &self.burst {
            write!(f, " burst={} loss={}", b.mean_run, b.loss)?;
        }
        if let Some(n) = self.every {
            write!(f, " every={n}")?;
        }
        if let Some(n) = self.first {
            write!(f, " first={n}")?;
        }
        if let Some(d) = self.delay {
            // One word: humantime writes `30m 18s`, and reads `30m18s` too.
            let text = humantime::format_duration(d).to_string().replace(' ', "");
            write!(f, " delay={text}")?;
        }
        if self.phase == Phase::Reply {
            f.write_str(" on=reply")?;
        }
        Ok(())
    }
}

impl FromStr for Rule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let err = |token: &str, reason: String| Error::Rule {
            rule: text.trim().to_string(),
            token: token.to_string(),
            reason,
        };
        let mut words = text.split_whitespace();
        let Some(first) = words.next() else {
            return Err(err("", "empty rule: expected an action".into()));
        };
        let action = Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(first))
            .ok_or_else(|| {
                let names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
                err(
                    first,
                    format!("unknown action, expected one of {}", names.join(", ")),
                )
            })?;
        let mut rule = Rule::new(action);
        let mut seen: Vec<String> = Vec::new();
        let mut mean_run: Option<f64> = None;
        let mut loss: Option<f64> = None;
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(err(word, "expected key=value".into()));
            };
            let key_lc = key.to_ascii_lowercase();
            if seen.contains(&key_lc) {
                return Err(err(word, format!("key `{key}` given twice")));
            }
            seen.push(key_lc.clone());
            if value.is_empty() {
                return Err(err(word, format!("key `{key}` needs a value")));
            }
            match key_lc.as_str() {
                "name" => rule.name = Some(parse_name_match(value).map_err(|r| err(word, r))?),
                "qtype" => {
                    let t = RecordType::from_str(&value.to_ascii_uppercase())
                        .ok()
                        .map(u16::from)
                        .or_else(|| {
                            value
                                .to_ascii_uppercase()
                                .strip_prefix("TYPE")
                                .and_then(|n| n.parse().ok())
                        })
                        .ok_or_else(|| err(word, "unknown record type".into()))?;
                    rule.qtype = Some(t);
                }
                "proto" => {
                    rule.proto = Some(match value.to_ascii_lowercase().as_str() {
                        "udp" => Proto::Udp,
                        "tcp" => Proto::Tcp,
                        _ => return Err(err(word, "expected proto=udp or proto=tcp".into())),
                    })
                }
                "from" => {
                    let net = value
                        .parse::<IpNet>()
                        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| err(word, "expected an address or CIDR prefix".into()))?;
                    rule.from = Some(net.trunc());
                }
                "p" => {
                    let p = parse_fraction(value).map_err(|r| err(word, r))?;
                    rule.p = Some(p);
                }
                "every" => rule.every = Some(parse_count(value).map_err(|r| err(word, r))?),
                "first" => rule.first = Some(parse_count(value).map_err(|r| err(word, r))?),
                "delay" => {
                    let d = humantime::parse_duration(value)
                        .map_err(|e| err(word, format!("bad duration ({e}); write e.g. 200ms")))?;
                    if d > Duration::from_secs(3600) {
                        return Err(err(word, "delay longer than an hour".into()));
                    }
                    rule.delay = Some(d);
                }
                "burst" => {
                    let m: f64 = value
                        .parse()
                        .ok()
                        .filter(|m: &f64| m.is_finite() && *m >= 1.0)
                        .ok_or_else(|| {
                            err(word, "burst is a mean run length, a number >= 1".into())
                        })?;
                    mean_run = Some(m);
                }
                "loss" => {
                    let l = parse_fraction(value).map_err(|r| err(word, r))?;
                    if l >= 1.0 {
                        return Err(err(
                            word,
                            "loss must be below 1 (use no p= for always)".into(),
                        ));
                    }
                    loss = Some(l);
                }
                "on" => {
                    rule.phase = match value.to_ascii_lowercase().as_str() {
                        "query" => Phase::Query,
                        "reply" => Phase::Reply,
                        _ => return Err(err(word, "expected on=query or on=reply".into())),
                    }
                }
                _ => {
                    return Err(err(
                        word,
                        "unknown key, expected one of name, qtype, proto, from, p, every, first, \
                         delay, burst, loss, on"
                            .into(),
                    ));
                }
            }
        }
        match (mean_run, loss) {
            (Some(mean_run), Some(loss)) => {
                if rule.p.is_some() {
                    return Err(err("p", "p= cannot be combined with burst=/loss=".into()));
                }
                rule.burst = Some(Burst { mean_run, loss });
            }
            (Some(_), None) => {
                return Err(err(
                    "burst",
                    "burst= needs loss= (the long-run share)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "loss",
                    "loss= needs burst= (the mean run length)".into(),
                ));
            }
            (None, None) => {}
        }
        if action == Action::Drop && rule.delay.is_some() {
            return Err(err("delay", "a dropped query has no reply to delay".into()));
        }
        Ok(rule)
    }
}

/// A name key (see [`wire::write_name_key`]: `\\DDD` in decimal for odd bytes) as a rule's
/// `name=` reads it back: hickory's presentation text, whose `\\DDD` escapes are octal.
fn key_text(key: &str) -> String {
    let labels: Option<Vec<Vec<u8>>> = key
        .strip_suffix('.')
        .filter(|k| !k.is_empty())
        .map(|k| k.split('.').map(unescape_decimal).collect());
    labels
        .and_then(|labels| Name::from_labels(labels).ok())
        .map_or_else(|| key.to_string(), |name| name.to_ascii())
}

/// The bytes of a key's label: `\\DDD` (decimal) is one byte, any other character itself.
fn unescape_decimal(label: &str) -> Vec<u8> {
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(u8::is_ascii_digit))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u8>().ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// A type as `qtype=` reads it back: its mnemonic where hickory has one that parses back to
/// the same number, else `TYPE` and the number (RFC 3597), as hickory prints the types it does
/// not know as `Unknown`.
fn qtype_text(t: u16) -> String {
    let mnemonic = RecordType::from(t).to_string();
    match RecordType::from_str(&mnemonic.to_ascii_uppercase()) {
        Ok(parsed) if u16::from(parsed) == t => mnemonic,
        _ => format!("TYPE{t}"),
    }
}

fn parse_name_match(value: &str) -> Result<NameMatch, String> {
    if value == "*" || value == "*." {
        // Every name below the root, i.e. every name a client asks for.
        return Ok(NameMatch::Below(".".to_string()));
    }
    let (below, name) = match value.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let parsed = Name::from_ascii(name).map_err(|e| format!("bad domain name: {e}"))?;
    let text = wire::name_key(&parsed);
    if below {
        let dotted = if text == "." {
            ".".to_string()
        } else {
            format!(".{text}")
        };
        Ok(NameMatch::Below(dotted))
    } else {
        Ok(NameMatch::Exact(text))
    }
}

fn parse_fraction(value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| "expected a probability between 0 and 1".to_string())
}

fn parse_count(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| "expected a whole number >= 1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `faultdns_rule` fuzz target: `qtype=TYPE66` printed as `qtype=Unknown`,
    /// which does not parse (and hides the type in the rule counters).
    #[test]
    fn types_without_a_mnemonic_print_as_numbers() {
        for (text, canonical) in [
            ("drop qtype=TYPE66", "drop qtype=TYPE66"),
            ("drop qtype=type65534", "drop qtype=TYPE65534"),
            ("drop qtype=TYPE28", "drop qtype=AAAA"),
            ("drop qtype=https", "drop qtype=HTTPS"),
        ] {
            let rule: Rule = text.parse().unwrap();
            assert_eq!(rule.to_string(), canonical);
            assert_eq!(canonical.parse::<Rule>().unwrap(), rule);
        }
    }

    /// Found by the `faultdns_rule` fuzz target: a name with an escaped dot printed as
    /// `exl\\046comroq` (the key's decimal escape), which hickory reads as octal (`&`); and
    /// the exact name `\\*.778dap` printed as `*.778dap.`, the names below 778dap.
    #[test]
    fn names_with_odd_bytes_print_as_they_parse() {
        for text in [
            "drop name=*.exl\\.comroq.3",
            "drop name=a\\055b.example.",
            "drop name=A\\.B.",
            "servfail name=\\*.778dap",
            "drop name=\\*",
            "drop name=*.\\*.x",
        ] {
            let rule: Rule = text.parse().unwrap();
            let canonical = rule.to_string();
            let again: Rule = canonical
                .parse()
                .unwrap_or_else(|e| panic!("{text:?} printed as {canonical:?}: {e}"));
            assert_eq!(again, rule, "{text:?} printed as {canonical:?}");
        }
        let rule: Rule = "drop name=*.exl\\.comroq.3".parse().unwrap();
        assert_eq!(rule.to_string(), "drop name=*.exl\\.comroq.3.");
    }

    /// Found by the `faultdns_rule` fuzz target: `delay=30.30m` printed as `delay=30m 18s`,
    /// two words, the second no `key=value`.
    #[test]
    fn delays_of_several_units_print_as_one_word() {
        let rule: Rule = "answer delay=30.30m on=reply".parse().unwrap();
        assert_eq!(rule.to_string(), "answer delay=30m18s on=reply");
        assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
        let rule: Rule = "answer delay=59m59s999ms1us".parse().unwrap();
        assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
    }

    fn bad_token(rule: &str) -> String {
        match rule.parse::<Rule>() {
            Err(Error::Rule { token, .. }) => token,
            other => panic!("expected a rule error for {rule:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_displays_every_key() {
        let text = "servfail name=*.Example.COM qtype=aaaa proto=udp from=10.1.2.3/8 p=0.5 \
                    every=2 first=10 delay=150ms";
        let rule: Rule = text.parse().unwrap();
        assert_eq!(rule.action, Action::ServFail);
        assert_eq!(rule.name, Some(NameMatch::Below(".example.com.".into())));
        assert_eq!(rule.qtype, Some(28));
        assert_eq!(rule.from, Some("10.0.0.0/8".parse().unwrap()));
        assert_eq!(rule.delay, Some(Duration::from_millis(150)));
        let shown = rule.to_string();
        assert_eq!(
            shown,
            "servfail name=*.example.com. qtype=AAAA proto=udp from=10.0.0.0/8 p=0.5 every=2 \
             first=10 delay=150ms"
        );
        assert_eq!(shown.parse::<Rule>().unwrap(), rule);
    }

    #[test]
    fn errors_name_the_token() {
        assert_eq!(bad_token("dorp name=a."), "dorp");
        assert_eq!(bad_token("drop nmae=a."), "nmae=a.");
        assert_eq!(bad_token("drop p=1.5"), "p=1.5");
        assert_eq!(bad_token("drop every=0"), "every=0");
        assert_eq!(bad_token("answer delay=soon"), "delay=soon");
        assert_eq!(bad_token("drop qtype=NOPE"), "qtype=NOPE");
        assert_eq!(bad_token("drop proto=sctp"), "proto=sctp");
        assert_eq!(bad_token("drop from=10.0.0.300/8"), "from=10.0.0.300/8");
        assert_eq!(bad_token("drop name"), "name");
        assert_eq!(bad_token("drop p=0.1 p=0.2"), "p=0.2");
        assert_eq!(bad_token("drop burst=3"), "burst");
        assert_eq!(bad_token("drop delay=1s"), "delay");
        assert_eq!(bad_token("servfail on=answer"), "on=answer");
        assert_eq!(bad_token(""), "");
        let msg = "drop nmae=a.".parse::<Rule>().unwrap_err().to_string();
        assert!(
            msg.contains("unknown key") && msg.contains("nmae=a."),
            "{msg}"
        );
    }

    #[test]
    fn reply_phase_round_trips() {
        let rule: Rule = "servfail name=*.example.com. ON=Reply p=0.5"
            .parse()
            .unwrap();
        assert_eq!(rule.phase(), Phase::Reply);
        assert_eq!(
            rule.to_string(),
            "servfail name=*.example.com. p=0.5 on=reply"
        );
        assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
        let q: Rule = "drop on=query".parse().unwrap();
        assert_eq!((q.phase(), q.to_string().as_str()), (Phase::Query, "drop"));
    }

    #[test]
    fn name_matching() {
        let exact: Rule = "drop name=WWW.example.com".parse().unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(exact.matches("www.example.com.", 1, Proto::Udp, ip));
        assert!(!exact.matches("example.com.", 1, Proto::Udp, ip));
        let below: Rule = "drop name=*.example.com.".parse().unwrap();
        assert!(below.matches("a.b.example.com.", 1, Proto::Udp, ip));
        assert!(!below.matches("example.com.", 1, Proto::Udp, ip));
        assert!(!below.matches("badexample.com.", 1, Proto::Udp, ip));
        let any: Rule = "drop name=*".parse().unwrap();
        assert!(any.matches("a.", 1, Proto::Udp, ip) && any.matches("b.c.", 1, Proto::Udp, ip));
        assert_eq!(any.to_string(), "drop name=*");
        let from: Rule = "drop from=127.0.0.0/8 proto=tcp".parse().unwrap();
        assert!(from.matches("x.", 1, Proto::Tcp, "::ffff:127.0.0.9".parse().unwrap()));
        assert!(!from.matches("x.", 1, Proto::Udp, ip));
        assert!(!from.matches("x.", 1, Proto::Tcp, "10.0.0.1".parse().unwrap()));
    }
}
