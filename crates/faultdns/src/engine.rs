//! The decision engine: which rule, if any, fires for a query. Plain code, no I/O.
//!
//! Algorithm: rules are tried in order. A rule *matches* when the query satisfies its name,
//! qtype, proto and from keys; its `matched` count then goes up. It *fires* when, in addition,
//! `every` divides the match count, the count is within `first`, the burst model is in its
//! firing state, and a draw from the rule's own ChaCha8 stream falls under `p`. The first rule
//! that fires decides; otherwise the query is answered from the data. Each rule draws from its
//! own stream seeded from (seed, rule index), so one rule's decisions depend only on the
//! sequence of queries it matched, and the same seed and query sequence give the same decisions.

use std::{collections::HashMap, net::IpAddr, time::Duration};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    counters::RuleCounters,
    rule::{Action, Phase, Proto, Rule},
};

/// At most this many distinct names are counted for `queries_for`; later names are not.
pub(crate) const MAX_TRACKED_NAMES: usize = 100_000;

/// The outcome of evaluating the rules for one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Index of the rule that fired, `None` for the default answer.
    pub(crate) rule: Option<usize>,
    pub(crate) action: Action,
    pub(crate) delay: Option<Duration>,
}

struct RuleState {
    rule: Rule,
    matched: u64,
    fired: u64,
    rng: ChaCha8Rng,
    /// Gilbert-Elliott state: true while in the firing ("bad") state.
    bad: bool,
}

/// Rule state, counters and per-name query counts, behind the server's one lock.
pub(crate) struct Engine {
    seed: u64,
    rules: Vec<RuleState>,
    queries: u64,
    names: HashMap<Box<str>, u64>,
    untracked: u64,
}

fn rule_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mix = (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ChaCha8Rng::seed_from_u64(seed ^ mix)
}

impl Engine {
    pub(crate) fn new(rules: Vec<Rule>, seed: u64) -> Engine {
        let mut e = Engine {
            seed,
            rules: Vec::new(),
            queries: 0,
            names: HashMap::new(),
            untracked: 0,
        };
        e.set_rules(rules);
        e
    }

    /// Replace the rules; their counters and random streams start afresh.
    pub(crate) fn set_rules(&mut self, rules: Vec<Rule>) {
        self.rules = rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| RuleState {
                rule,
                matched: 0,
                fired: 0,
                rng: rule_rng(self.seed, i),
                bad: false,
            })
            .collect();
    }

    /// Count the query and decide what to do with it (the rules of [`Phase::Query`]).
    pub(crate) fn decide(
        &mut self,
        name: &str,
        qtype: u16,
        proto: Proto,
        client: IpAddr,
    ) -> Decision {
        self.queries += 1;
        if let Some(n) = self.names.get_mut(name) {
            *n += 1;
        } else if self.names.len() < MAX_TRACKED_NAMES {
            self.names.insert(name.into(), 1);
        } else {
            self.untracked += 1;
        }
        self.evaluate(Phase::Query, name, qtype, proto, client)
    }

    /// Decide what to do with an upstream's reply to a forwarded query (the rules of
    /// [`Phase::Reply`]); the query was counted when it arrived.
    pub(crate) fn decide_reply(
        &mut self,
        name: &str,
        qtype: u16,
        proto: Proto,
        client: IpAddr,
    ) -> Decision {
        self.evaluate(Phase::Reply, name, qtype, proto, client)
    }

    /// Whether any rule acts on the reply path.
    pub(crate) fn has_reply_rules(&self) -> bool {
        self.rules.iter().any(|st| st.rule.phase == Phase::Reply)
    }

    fn evaluate(
        &mut self,
        phase: Phase,
        name: &str,
        qtype: u16,
        proto: Proto,
        client: IpAddr,
    ) -> Decision {
        for (i, st) in self.rules.iter_mut().enumerate() {
            if st.rule.phase != phase || !st.rule.matches(name, qtype, proto, client) {
                continue;
            }
            st.matched += 1;
            if st.fires() {
                st.fired += 1;
                return Decision {
                    rule: Some(i),
                    action: st.rule.action,
                    delay: st.rule.delay,
                };
            }
        }
        Decision {
            rule: None,
            action: Action::Answer,
            delay: None,
        }
    }

    pub(crate) fn queries(&self) -> u64 {
        self.queries
    }

    pub(crate) fn untracked_names(&self) -> u64 {
        self.untracked
    }

    pub(crate) fn queries_for(&self, key: &str) -> u64 {
        self.names.get(key).copied().unwrap_or(0)
    }

    pub(crate) fn rule_counters(&self) -> Vec<RuleCounters> {
        self.rules
            .iter()
            .map(|st| RuleCounters {
                rule: st.rule.to_string(),
                matched: st.matched,
                fired: st.fired,
            })
            .collect()
    }
}

impl RuleState {
    /// Whether a match (already counted) fires.
    fn fires(&mut self) -> bool {
        let rule = &self.rule;
        if rule.every.is_some_and(|n| !self.matched.is_multiple_of(n)) {
            return false;
        }
        if rule.first.is_some_and(|n| self.matched > n) {
            return false;
        }
        if let Some(b) = rule.burst {
            let fire = self.bad;
            self.bad = if self.bad {
                !self.rng.random_bool(b.p_leave_bad())
            } else {
                self.rng.random_bool(b.p_enter_bad())
            };
            return fire;
        }
        match rule.p {
            Some(p) if p < 1.0 => self.rng.random_bool(p),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn engine(rules: &[&str], seed: u64) -> Engine {
        Engine::new(rules.iter().map(|r| r.parse().unwrap()).collect(), seed)
    }

    fn run(e: &mut Engine, name: &str, n: usize) -> Vec<Decision> {
        (0..n)
            .map(|_| e.decide(name, 1, Proto::Udp, LOCAL))
            .collect()
    }

    #[test]
    fn probability_is_respected_and_reproducible() {
        let mut e = engine(&["drop name=a.example. p=0.3"], 7);
        let d1 = run(&mut e, "a.example.", 10_000);
        let drops = d1.iter().filter(|d| d.action == Action::Drop).count();
        assert!((2_800..=3_200).contains(&drops), "{drops} drops of 10000");
        let c = e.rule_counters();
        assert_eq!((c[0].matched, c[0].fired), (10_000, drops as u64));
        let d2 = run(
            &mut engine(&["drop name=a.example. p=0.3"], 7),
            "a.example.",
            10_000,
        );
        assert_eq!(d1, d2, "same seed, same decisions");
        let d3 = run(
            &mut engine(&["drop name=a.example. p=0.3"], 8),
            "a.example.",
            10_000,
        );
        assert_ne!(d1, d3, "another seed, other decisions");
    }

    #[test]
    fn every_and_first_are_exact() {
        let mut e = engine(&["servfail every=3", "refused first=2"], 1);
        let got: Vec<Action> = run(&mut e, "x.", 9).iter().map(|d| d.action).collect();
        use Action::*;
        assert_eq!(
            got,
            [
                Refused, Refused, ServFail, Answer, Answer, ServFail, Answer, Answer, ServFail
            ]
        );
        let c = e.rule_counters();
        assert_eq!((c[0].matched, c[0].fired), (9, 3));
        assert_eq!((c[1].matched, c[1].fired), (6, 2));
        assert_eq!(e.queries(), 9);
    }

    #[test]
    fn non_matching_rules_are_skipped_and_names_counted() {
        let mut e = engine(&["drop name=other.", "nxdomain qtype=AAAA"], 1);
        assert_eq!(e.decide("x.", 1, Proto::Udp, LOCAL).action, Action::Answer);
        let d = e.decide("x.", 28, Proto::Udp, LOCAL);
        assert_eq!((d.rule, d.action), (Some(1), Action::NxDomain));
        assert_eq!(e.queries_for("x."), 2);
        assert_eq!(e.rule_counters()[0].matched, 0);
    }

    #[test]
    fn burst_model_has_the_asked_loss_and_run_length() {
        let mut e = engine(&["drop burst=4 loss=0.2"], 3);
        let d = run(&mut e, "x.", 200_000);
        let lost: Vec<bool> = d.iter().map(|d| d.action == Action::Drop).collect();
        let loss = lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64;
        assert!((0.18..0.22).contains(&loss), "loss {loss}");
        let runs = lost.windows(2).filter(|w| w[0] && !w[1]).count() as f64;
        let mean_run = lost.iter().filter(|l| **l).count() as f64 / runs;
        assert!((3.6..4.4).contains(&mean_run), "mean run {mean_run}");
    }

    #[test]
    fn replacing_rules_takes_effect_and_resets_counters() {
        let mut e = engine(&["drop"], 1);
        assert_eq!(e.decide("x.", 1, Proto::Udp, LOCAL).action, Action::Drop);
        e.set_rules(vec!["truncate".parse().unwrap()]);
        assert_eq!(
            e.decide("x.", 1, Proto::Udp, LOCAL).action,
            Action::Truncate
        );
        assert_eq!(e.rule_counters()[0].fired, 1);
    }

    #[test]
    fn reply_rules_are_apart_from_query_rules() {
        let mut e = engine(&["servfail on=reply every=2", "drop name=x."], 1);
        assert!(e.has_reply_rules());
        assert_eq!(e.decide("y.", 1, Proto::Udp, LOCAL).action, Action::Answer);
        assert_eq!(e.decide("x.", 1, Proto::Udp, LOCAL).action, Action::Drop);
        let r: Vec<Action> = (0..4)
            .map(|_| e.decide_reply("y.", 1, Proto::Udp, LOCAL).action)
            .collect();
        use Action::*;
        assert_eq!(r, [Answer, ServFail, Answer, ServFail]);
        let d = e.decide_reply("y.", 1, Proto::Udp, LOCAL);
        assert_eq!(d.rule, None);
        let c = e.rule_counters();
        assert_eq!((c[0].matched, c[0].fired), (5, 2));
        assert_eq!((c[1].matched, c[1].fired), (1, 1));
        assert_eq!(e.queries(), 2, "replies are not queries");
        assert!(!engine(&["drop"], 1).has_reply_rules());
    }

    #[test]
    fn tracked_names_are_bounded() {
        let mut e = engine(&[], 1);
        for i in 0..MAX_TRACKED_NAMES + 10 {
            e.decide(&format!("n{i}.load."), 1, Proto::Udp, LOCAL);
        }
        assert_eq!(e.names.len(), MAX_TRACKED_NAMES);
        assert_eq!(e.untracked_names(), 10);
    }
}
