//! Time, as the task driver sees it: the times its blocks carry and how long it waits.
//!
//! The driver does no timing of its own; it asks a [`Clock`]. [`SystemClock`] is the wall
//! clock. [`SimClock`] makes a task a pure function of its seed: blocks are stamped one
//! simulated second after their parent whatever happened in between, and waiting for an answer
//! that will never come costs no real time, so one seed gives byte-identical ledgers, and a run
//! that crashed and resumed gives the same blocks as one that never stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The driver's source of time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// The timestamp of a block made now on top of a parent stamped `parent_ms` (never before
    /// it).
    fn block_time(&self, parent_ms: u64) -> u64;

    /// Waits `timeout` (a simulated clock only moves its time forward).
    fn wait(&self, timeout: Duration);
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn block_time(&self, parent_ms: u64) -> u64 {
        self.now_ms().max(parent_ms)
    }

    fn wait(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

/// Simulated time: starts at a fixed instant, moves only when waited on; blocks are stamped
/// [`SimClock::BLOCK_MS`] after their parent.
#[derive(Debug)]
pub struct SimClock {
    now: AtomicU64,
}

impl SimClock {
    /// Simulated milliseconds between a block and its parent.
    pub const BLOCK_MS: u64 = 1000;

    /// A clock at `start_ms`.
    pub fn new(start_ms: u64) -> SimClock {
        SimClock {
            now: AtomicU64::new(start_ms),
        }
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn block_time(&self, parent_ms: u64) -> u64 {
        parent_ms + Self::BLOCK_MS
    }

    fn wait(&self, timeout: Duration) {
        self.now
            .fetch_add(timeout.as_millis() as u64, Ordering::SeqCst);
    }
}
