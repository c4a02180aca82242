//! The resolvers dnsload measures, behind one trait.

use std::future::Future;
use std::pin::Pin;

use crate::class::Outcome;

pub(crate) mod glibc;
pub(crate) mod loss;
pub(crate) mod raw;
pub(crate) mod stub;
pub(crate) mod system;

/// A boxed lookup future.
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A resolver that looks names up and classifies what happened.
///
/// `lookup` never fails: every way a lookup can end is an [`Outcome`] with a class. It must
/// return within the backend's deadline (plus scheduling slack), whatever the network does.
pub trait Backend: Send + Sync + 'static {
    /// The backend's name in outputs (`stub`, `system`, `raw`).
    fn name(&self) -> &'static str;

    /// Looks up one probe name.
    ///
    /// Cancel safety: dropping the future abandons the lookup; the backend stays usable.
    fn lookup<'a>(&'a self, name: &'a str) -> LookupFuture<'a>;

    /// Backend-specific facts for the summary (socket buffers, loss runs, the override).
    fn info(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
