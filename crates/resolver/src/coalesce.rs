//! Coalescing: identical questions (a candidate name and a record type) in flight share one
//! exchange. The exchange is a future shared by its waiters ([`Shared`]) and driven by whichever
//! of them polls it; no task is spawned. A waiter dropped does not cancel the others; the last
//! one dropped drops the exchange, which frees its queries at once.
//!
//! Deadlines: an exchange runs under the deadline of the lookup that started it. A lookup joins
//! only an exchange that will end by its own deadline (give or take [`JOIN_SLACK`]); one that
//! needs an answer sooner starts its own exchange, not shared. An exchange that the deadline
//! cut short before its attempts were spent says nothing final about the question, so a
//! waiter with time left asks again (joining or starting the next exchange).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, WeakShared};
use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use crate::policy::exchange::Concluded;
use crate::trace::QueryTrace;

/// How much later than a lookup's own deadline an exchange it joins may end. Lookups that
/// start together take their start times before they reach the exchange, in any order: without
/// this slack a lookup that took its time a few microseconds before the exchange's starter
/// could not join it. It bounds how late a joiner may return, within the scheduling slack every
/// deadline has.
pub(crate) const JOIN_SLACK: Duration = Duration::from_millis(10);

/// A question: a candidate name (compared case-insensitively) and a record type.
pub(crate) type Key = (Name, RecordType);

/// What a shared exchange came to, for every lookup that waited for it.
#[derive(Debug)]
pub(crate) struct Flown {
    /// Its conclusion.
    pub(crate) concluded: Concluded,
    /// The address of the server behind an answer.
    pub(crate) server: Option<SocketAddr>,
    /// Its queries, times relative to `start`.
    pub(crate) queries: Vec<QueryTrace>,
    /// When the exchange started.
    pub(crate) start: Instant,
    /// Whether it ran its course: it ended before its deadline, or all its attempts were made.
    /// A failure that did not is no verdict on the question.
    pub(crate) complete: bool,
}

impl Flown {
    /// The queries with times relative to `lookup_start` (a lookup that joined late sees the
    /// earlier queries at time zero).
    pub(crate) fn queries_since(&self, lookup_start: Instant) -> Vec<QueryTrace> {
        let shift = |d: Duration| (self.start + d).saturating_duration_since(lookup_start);
        self.queries
            .iter()
            .map(|q| {
                let mut q = q.clone();
                q.sent_at = shift(q.sent_at);
                q.finished_at = shift(q.finished_at);
                q
            })
            .collect()
    }
}

/// An exchange being flown, as its waiters hold it.
pub(crate) type Flight = Shared<BoxFuture<'static, Arc<Flown>>>;

#[derive(Debug)]
struct Entry {
    id: u64,
    deadline: Instant,
    flight: WeakShared<BoxFuture<'static, Arc<Flown>>>,
}

/// The exchanges in flight of one resolver, by question.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<Key, Entry>>,
    next: AtomicU64,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights")
            .field("in_flight", &self.lock().len())
            .finish()
    }
}

/// Removes an exchange's entry when the exchange ends or is dropped. Lives inside the
/// exchange's future.
pub(crate) struct Unregister {
    flights: Arc<Flights>,
    key: Key,
    id: u64,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map.get(&self.key).is_some_and(|e| e.id == self.id) {
            map.remove(&self.key);
        }
    }
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The exchange in flight for `key` if there is one this lookup (`deadline`) may join;
    /// else a new one made by `start` (which gets the guard to keep inside the future),
    /// registered for others to join unless a longer one is already registered. Returns the
    /// flight and whether it was joined.
    pub(crate) fn join_or_start(
        self: &Arc<Self>,
        key: &Key,
        deadline: Instant,
        start: impl FnOnce(Unregister) -> BoxFuture<'static, Arc<Flown>>,
    ) -> (Flight, bool) {
        // A flight upgraded but not joined is dropped after the lock is released: if it was
        // the last handle, dropping it runs `Unregister`, which takes the lock.
        let mut spare: Option<Flight> = None;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let flight = {
            let mut map = self.lock();
            let mut vacant = true;
            if let Some(entry) = map.get(key)
                && let Some(flight) = entry.flight.upgrade()
            {
                if entry.deadline <= deadline + JOIN_SLACK {
                    return (flight, true);
                }
                spare = Some(flight);
                vacant = false;
            }
            let guard = Unregister {
                flights: self.clone(),
                key: key.clone(),
                id,
            };
            let flight = start(guard).shared();
            if vacant && let Some(weak) = flight.downgrade() {
                map.insert(
                    key.clone(),
                    Entry {
                        id,
                        deadline,
                        flight: weak,
                    },
                );
            }
            flight
        };
        drop(spare);
        (flight, false)
    }

    /// Questions in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::FailureKind;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Waker};

    fn key(name: &str) -> Key {
        (Name::from_ascii(name).unwrap(), RecordType::A)
    }

    fn flown() -> Arc<Flown> {
        Arc::new(Flown {
            concluded: Concluded::Failed {
                kind: FailureKind::Timeout,
                io: None,
            },
            server: None,
            queries: Vec::new(),
            start: Instant::now(),
            complete: true,
        })
    }

    /// A flight that stays pending until `release` is set, counting how often it started.
    fn pending_flight(
        started: Arc<AtomicUsize>,
        release: Arc<std::sync::atomic::AtomicBool>,
    ) -> impl FnOnce(Unregister) -> BoxFuture<'static, Arc<Flown>> {
        move |guard| {
            started.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let _guard = guard;
                std::future::poll_fn(|cx| {
                    if release.load(Ordering::SeqCst) {
                        Poll::Ready(flown())
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn identical_questions_share_one_flight_until_the_last_waiter_goes() {
        let flights = Arc::new(Flights::default());
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut waiters = Vec::new();
        for i in 0..100 {
            // Later lookups have later deadlines; a few microseconds earlier is within slack.
            let own = deadline + Duration::from_millis(i) - Duration::from_micros(5);
            let make = pending_flight(started.clone(), release.clone());
            let (flight, joined) = flights.join_or_start(&key("a.example."), own, make);
            assert_eq!(joined, i > 0);
            waiters.push(flight);
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(flights.len(), 1);
        // Dropping all waiters but one keeps the flight; that one is answered.
        let last = waiters.pop().unwrap();
        drop(waiters);
        assert_eq!(flights.len(), 1);
        release.store(true, Ordering::SeqCst);
        let flown = last.await;
        assert!(flown.complete);
        assert_eq!(flights.len(), 0, "an ended flight leaves the map");
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_waiter_dropped_cancels_and_unregisters() {
        let flights = Arc::new(Flights::default());
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(5);
        let make = pending_flight(started.clone(), release.clone());
        let (flight, _) = flights.join_or_start(&key("b.example."), deadline, make);
        {
            let mut polled = pin!(flight.clone());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(polled.as_mut().poll(&mut cx).is_pending());
        }
        drop(flight);
        assert_eq!(flights.len(), 0, "no waiter left: the flight is gone");
        let make = pending_flight(started.clone(), release.clone());
        let (_again, joined) = flights.join_or_start(&key("b.example."), deadline, make);
        assert!(!joined, "a new flight, not the cancelled one");
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_with_an_earlier_deadline_flies_alone() {
        let flights = Arc::new(Flights::default());
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_secs(5);
        let make = pending_flight(started.clone(), release.clone());
        let (_long, _) = flights.join_or_start(&key("c.example."), deadline, make);
        let make = pending_flight(started.clone(), release.clone());
        let early = deadline - Duration::from_secs(4);
        let (_short, joined) = flights.join_or_start(&key("c.example."), early, make);
        assert!(!joined);
        assert_eq!(started.load(Ordering::SeqCst), 2);
        // The registered flight is still the long one: a third lookup joins it.
        let make = pending_flight(started.clone(), release.clone());
        let (_third, joined) = flights.join_or_start(&key("c.example."), deadline, make);
        assert!(joined);
        // Other names and types are other questions.
        let make = pending_flight(started.clone(), release.clone());
        let aaaa = (Name::from_ascii("c.example.").unwrap(), RecordType::AAAA);
        assert!(!flights.join_or_start(&aaaa, deadline, make).1);
        let make = pending_flight(started.clone(), release);
        assert!(
            flights.join_or_start(&key("C.EXAMPLE."), deadline, make).1,
            "names compare case-insensitively"
        );
    }
}
