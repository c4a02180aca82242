//! Policy, apart from I/O: which names to try and when to stop (the iron rule), how one
//! question is asked of the servers (attempts, re-sends, failover, the verdict), each server's
//! latency model and health. Plain code taking `now`; the async layer in `lookup` and the
//! sockets in `transport` only carry out its commands.

pub(crate) mod candidates;
pub(crate) mod exchange;
pub(crate) mod families;
pub(crate) mod rtt;
pub(crate) mod servers;
pub(crate) mod walk;
