//! What the soak asks and what the server does to it: names in groups, each group under one
//! fault at a time, the faults rotating over the groups as the run goes on, and a mix of
//! lookups (names that exist, names that do not, a type the names lack), some with short
//! deadlines of their own, some dropped by their caller.

use std::time::Duration;

use rand::{Rng, RngExt as _};
use serde::Serialize;

use super::check::Truth;

/// Every name asked is below this suffix; the server synthesises an A and an AAAA record for
/// any name below it, except below the `void` zones.
pub const SUFFIX: &str = "soak.test.";

/// Groups of names; each is under one fault at a time. Two per fault, so every fault is in
/// force somewhere at every moment.
pub const GROUPS: usize = 2 * Fault::ALL.len();

/// A fault the server injects on a group's names (over UDP and TCP unless said).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// None: answered at once.
    Clean,
    /// Half the queries dropped, each on its own.
    Drop,
    /// Half the replies 150 ms late, 30% of the rest 1.2 s late (after the attempt's timeout).
    Delay,
    /// 90% of queries answered SERVFAIL.
    ServFail,
    /// 90% of queries answered REFUSED.
    Refused,
    /// Every UDP reply truncated (TC=1), and 70% of the queries then sent over TCP never
    /// answered: the connection stays open, silent.
    TruncateTcpStall,
    /// 90% of replies sent with another message ID.
    WrongId,
    /// 90% of replies replaced by bytes that do not parse, with the query's ID.
    Malformed,
    /// Bursts of loss: 30% of queries dropped, in runs of 50 on average.
    BurstLoss,
}

impl Fault {
    /// Every fault, in rotation order.
    pub const ALL: [Fault; 9] = [
        Fault::Clean,
        Fault::Drop,
        Fault::Delay,
        Fault::ServFail,
        Fault::Refused,
        Fault::TruncateTcpStall,
        Fault::WrongId,
        Fault::Malformed,
        Fault::BurstLoss,
    ];

    /// The faultdns rules (without `name=`) that produce the fault, in evaluation order.
    fn rules(self) -> &'static [&'static str] {
        match self {
            Fault::Clean => &[],
            Fault::Drop => &["drop p=0.5"],
            Fault::Delay => &["answer p=0.5 delay=150ms", "answer p=0.3 delay=1200ms"],
            Fault::ServFail => &["servfail p=0.9"],
            Fault::Refused => &["refused p=0.9"],
            Fault::TruncateTcpStall => &["drop proto=tcp p=0.7", "truncate proto=udp"],
            Fault::WrongId => &["wrong-id p=0.9"],
            Fault::Malformed => &["malformed p=0.9"],
            Fault::BurstLoss => &["drop burst=50 loss=0.3"],
        }
    }

    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Fault::Clean => "clean",
            Fault::Drop => "drop 50%",
            Fault::Delay => "delay 150 ms / 1.2 s",
            Fault::ServFail => "servfail 90%",
            Fault::Refused => "refused 90%",
            Fault::TruncateTcpStall => "truncate, TCP stalls 70%",
            Fault::WrongId => "wrong id 90%",
            Fault::Malformed => "malformed 90%",
            Fault::BurstLoss => "bursts of loss (30%, runs of 50)",
        }
    }
}

/// The suffix of group `g`: `g<g>.soak.test.`.
pub fn group_suffix(g: usize) -> String {
    format!("g{g}.{SUFFIX}")
}

/// The fault group `g` is under in rotation phase `phase`: fault `(g + phase) mod 9`, so over
/// nine phases every group goes through every fault.
pub fn fault_of(g: usize, phase: u64) -> Fault {
    let n = Fault::ALL.len() as u64;
    Fault::ALL[usize::try_from((g as u64 % n + phase % n) % n).unwrap_or(0)]
}

/// The rotation phase at `elapsed` when the faults move on every `every`.
pub fn phase_at(elapsed: Duration, every: Duration) -> u64 {
    if every.is_zero() {
        return 0;
    }
    u64::try_from(elapsed.as_nanos() / every.as_nanos()).unwrap_or(u64::MAX)
}

/// Every group's rules in phase `phase`, as faultdns rule text.
pub fn rules(phase: u64) -> Vec<String> {
    (0..GROUPS)
        .flat_map(|g| {
            let suffix = group_suffix(g);
            fault_of(g, phase)
                .rules()
                .iter()
                .map(move |r| format!("{r} name=*.{suffix}"))
        })
        .collect()
}

/// Zone text for the names that do not exist: a zone `void.g<g>.soak.test.` per group with
/// only its SOA, so every name below it is NXDOMAIN (negative TTL 60 s) and its group's
/// rules apply to it.
pub fn void_zones() -> String {
    (0..GROUPS)
        .map(|g| {
            format!(
                "void.{} 60 IN SOA ns.{SUFFIX} hostmaster.{SUFFIX} 1 60 60 60 60\n",
                group_suffix(g)
            )
        })
        .collect()
}

/// What a lookup asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// `lookup_ip`: A and AAAA.
    Ip,
    /// `lookup` of TXT, which no name here has.
    Txt,
}

impl Ask {
    /// Label for messages.
    pub fn label(self) -> &'static str {
        match self {
            Ask::Ip => "A+AAAA",
            Ask::Txt => "TXT",
        }
    }
}

/// One lookup to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// The name (absolute, so no search list applies).
    pub name: String,
    /// What is asked.
    pub ask: Ask,
    /// What the server holds for it.
    pub truth: Truth,
    /// A deadline of its own (`LookupOptions::with_deadline`), else the resolver's.
    pub deadline: Option<Duration>,
    /// Dropped by its caller after this long, if still running.
    pub cancel_after: Option<Duration>,
}

/// Shares of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Mix {
    /// Lookups of names that do not exist (`lookup_ip`).
    pub nxdomain: f64,
    /// TXT lookups of names that exist without TXT.
    pub nodata: f64,
    /// Lookups that ask a name asked a moment ago again (cache hits, joining a question in
    /// flight).
    pub repeat: f64,
    /// Lookups with a deadline of their own, drawn from 100 ms to 8 s (past the 5 s that the
    /// resolver's attempts take at most, so some give up on their attempts, not their
    /// deadline).
    pub own_deadline: f64,
    /// Lookups dropped by their caller after a time drawn from zero to their deadline.
    pub cancel: f64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            nxdomain: 0.1,
            nodata: 0.1,
            repeat: 0.1,
            own_deadline: 0.25,
            cancel: 0.1,
        }
    }
}

/// The longest deadline a lookup may have of its own.
pub const LONGEST_DEADLINE: Duration = Duration::from_secs(8);

/// Names asked a moment ago, for repeats.
const RECENT: usize = 256;

/// Makes the lookups of a run, from a seeded RNG.
#[derive(Debug)]
pub struct Planner {
    mix: Mix,
    /// The resolver's own deadline (for the cancellation times of lookups without one).
    deadline: Duration,
    next: u64,
    recent: Vec<(String, Ask, Truth)>,
}

impl Planner {
    /// A planner for this mix; lookups without a deadline of their own get `deadline`.
    pub fn new(mix: Mix, deadline: Duration) -> Planner {
        Planner {
            mix,
            deadline,
            next: 0,
            recent: Vec::with_capacity(RECENT),
        }
    }

    /// The next lookup.
    pub fn next(&mut self, rng: &mut impl Rng) -> Planned {
        let (name, ask, truth) = if !self.recent.is_empty() && rng.random_bool(self.mix.repeat) {
            self.recent[rng.random_range(0..self.recent.len())].clone()
        } else {
            let n = self.next;
            self.next += 1;
            let g = group_suffix(rng.random_range(0..GROUPS));
            let x: f64 = rng.random();
            let fresh = if x < self.mix.nxdomain {
                (format!("n{n}.void.{g}"), Ask::Ip, Truth::NxDomain)
            } else if x < self.mix.nxdomain + self.mix.nodata {
                (format!("n{n}.{g}"), Ask::Txt, Truth::NoData)
            } else {
                (format!("n{n}.{g}"), Ask::Ip, Truth::Records)
            };
            if self.recent.len() < RECENT {
                self.recent.push(fresh.clone());
            } else {
                let slot = usize::try_from(n % RECENT as u64).unwrap_or(0);
                self.recent[slot] = fresh.clone();
            }
            fresh
        };
        let deadline = rng.random_bool(self.mix.own_deadline).then(|| {
            Duration::from_millis(rng.random_range(100..=LONGEST_DEADLINE.as_millis() as u64))
        });
        let bound = deadline.unwrap_or(self.deadline);
        let cancel_after = rng
            .random_bool(self.mix.cancel)
            .then(|| bound.mul_f64(rng.random::<f64>()));
        Planned {
            name,
            ask,
            truth,
            deadline,
            cancel_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn every_group_goes_through_every_fault_and_every_fault_is_always_somewhere() {
        for g in 0..GROUPS {
            let mut seen: Vec<Fault> = (0..9).map(|p| fault_of(g, p)).collect();
            seen.sort_by_key(|f| Fault::ALL.iter().position(|x| x == f));
            assert_eq!(seen, Fault::ALL, "group {g}");
        }
        for phase in 0..20 {
            for f in Fault::ALL {
                let groups = (0..GROUPS).filter(|&g| fault_of(g, phase) == f).count();
                assert_eq!(groups, 2, "{f:?} in phase {phase}");
            }
        }
        assert_eq!(
            phase_at(Duration::from_millis(9_999), Duration::from_secs(10)),
            0
        );
        assert_eq!(
            phase_at(Duration::from_secs(25), Duration::from_secs(10)),
            2
        );
        assert_eq!(phase_at(Duration::from_secs(25), Duration::ZERO), 0);
    }

    #[test]
    fn rules_and_zones_parse_in_faultdns() {
        for phase in 0..9 {
            let rules = rules(phase);
            assert!(!rules.is_empty());
            for rule in rules {
                rule.parse::<faultdns::Rule>()
                    .unwrap_or_else(|e| panic!("{rule}: {e}"));
            }
        }
        // Phase 0: group 5 is truncated over UDP, its TCP stalls half the time.
        let r = rules(0);
        assert!(
            r.contains(&"truncate proto=udp name=*.g5.soak.test.".to_owned()),
            "{r:?}"
        );
        assert!(r.contains(&"drop proto=tcp p=0.7 name=*.g5.soak.test.".to_owned()));
        let _zones = faultdns::Server::builder()
            .zone(&void_zones())
            .expect("zones parse");
    }

    #[test]
    fn the_mix_has_its_shares() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut p = Planner::new(Mix::default(), Duration::from_secs(5));
        let all: Vec<Planned> = (0..20_000).map(|_| p.next(&mut rng)).collect();
        let share = |f: &dyn Fn(&Planned) -> bool| {
            all.iter().filter(|l| f(l)).count() as f64 / all.len() as f64
        };
        let near = |x: f64, want: f64| (x - want).abs() < 0.02;
        assert!(near(share(&|l| l.truth == Truth::NxDomain), 0.1));
        assert!(near(share(&|l| l.truth == Truth::NoData), 0.1));
        assert!(near(share(&|l| l.cancel_after.is_some()), 0.1));
        assert!(near(share(&|l| l.deadline.is_some()), 0.25));
        let distinct: std::collections::HashSet<&str> =
            all.iter().map(|l| l.name.as_str()).collect();
        assert!(near(1.0 - distinct.len() as f64 / all.len() as f64, 0.1));
        for l in &all {
            assert!(l.name.ends_with(SUFFIX), "{}", l.name);
            match l.truth {
                Truth::NxDomain => assert!(l.name.contains(".void.g") && l.ask == Ask::Ip),
                Truth::NoData => assert_eq!(l.ask, Ask::Txt),
                Truth::Records => assert!(!l.name.contains("void") && l.ask == Ask::Ip),
            }
            let bound = l.deadline.unwrap_or(Duration::from_secs(5));
            assert!(l.cancel_after.is_none_or(|c| c <= bound));
            assert!(
                l.deadline
                    .is_none_or(|d| (100..=8000).contains(&d.as_millis()))
            );
        }
    }
}
