//! When a `lookup_ip` may return: A and AAAA are two questions under one deadline, each with
//! the full attempt budget, and the lookup waits for both. No family is given up because the
//! other answered: at 10% loss, giving the slower family only a grace period returned one
//! family alone for about one lookup in six.
//!
//! The opt-in early return follows RFC 8305 §3 (Happy Eyeballs' Resolution Delay), for
//! connectors that race addresses: return as soon as AAAA has answered, or once the delay has
//! passed after A answered.

use std::time::Duration;

use tokio::time::Instant;

/// What the family logic needs to know of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    /// AAAA (the preferred family of RFC 8305) rather than A.
    pub(crate) v6: bool,
    /// Settled, one way or another.
    pub(crate) done: bool,
    /// Settled with records.
    pub(crate) answered: bool,
}

/// The return rule of one candidate's questions.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Families {
    delay: Option<Duration>,
    a_answered: Option<Instant>,
}

impl Families {
    /// Waits for every question, or with a resolution delay, returns early as RFC 8305 says.
    pub(crate) fn new(delay: Option<Duration>) -> Self {
        Families {
            delay,
            a_answered: None,
        }
    }

    /// Whether the candidate's questions may be returned at `now`.
    pub(crate) fn ready(&mut self, now: Instant, families: &[Family]) -> bool {
        if families.iter().all(|f| f.done) {
            return true;
        }
        let Some(delay) = self.delay else {
            return false;
        };
        if families.iter().any(|f| f.v6 && f.answered) {
            return true;
        }
        if self.a_answered.is_none() && families.iter().any(|f| !f.v6 && f.answered) {
            self.a_answered = Some(now);
        }
        self.a_answered.is_some_and(|at| now >= at + delay)
    }

    /// When the resolution delay runs out, if it is running.
    pub(crate) fn wake(&self) -> Option<Instant> {
        Some(self.a_answered? + self.delay?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v6: bool, done: bool, answered: bool) -> Family {
        Family { v6, done, answered }
    }

    #[test]
    fn without_a_delay_both_families_are_waited_for() {
        let t0 = Instant::now();
        let mut families = Families::new(None);
        // A answered, AAAA still asking: wait, however long.
        let a_done = [f(false, true, true), f(true, false, false)];
        assert!(!families.ready(t0, &a_done));
        assert!(!families.ready(t0 + Duration::from_secs(60), &a_done));
        assert_eq!(families.wake(), None);
        // AAAA answered first: still wait for A.
        assert!(!families.ready(t0, &[f(false, false, false), f(true, true, true)]));
        // Both settled, whatever they came to.
        assert!(families.ready(t0, &[f(false, true, false), f(true, true, true)]));
        assert!(families.ready(t0, &[f(false, true, false), f(true, true, false)]));
    }

    #[test]
    fn resolution_delay_returns_early_as_rfc_8305_says() {
        let t0 = Instant::now();
        let delay = Duration::from_millis(50);
        let mut families = Families::new(Some(delay));
        let asking = [f(false, false, false), f(true, false, false)];
        assert!(!families.ready(t0, &asking));
        assert_eq!(families.wake(), None);
        // A answers at t0: AAAA gets 50 ms more.
        let a_done = [f(false, true, true), f(true, false, false)];
        assert!(!families.ready(t0, &a_done));
        assert_eq!(families.wake(), Some(t0 + delay));
        assert!(!families.ready(t0 + Duration::from_millis(49), &a_done));
        assert!(families.ready(t0 + delay, &a_done));
        // AAAA answering first returns at once.
        let mut families = Families::new(Some(delay));
        assert!(families.ready(t0, &[f(false, false, false), f(true, true, true)]));
        // A failing (settled without records) starts no delay: AAAA is waited for.
        let mut families = Families::new(Some(delay));
        let a_failed = [f(false, true, false), f(true, false, false)];
        assert!(!families.ready(t0 + Duration::from_secs(10), &a_failed));
    }
}
