//! Per-client-IP token buckets.
//!
//! A bucket starts full with `burst` tokens and refills continuously at `per_second` tokens
//! per second, never above `burst`. A request takes one token; with none left it is refused,
//! and the client is told how long until the next token. Buckets live in memory only. Once more
//! than [`MAX_TRACKED`] IPs are tracked, buckets that have refilled completely are forgotten
//! (they would start full anyway).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most client IPs tracked before full buckets are forgotten.
pub const MAX_TRACKED: usize = 65_536;

/// A per-IP request budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Most requests in a burst (the bucket size; at least 1 is used).
    pub burst: u32,
    /// Tokens added per second (0: the burst is all a client ever gets).
    pub per_second: u32,
}

impl Default for RateLimit {
    /// Burst 100, 50 per second.
    fn default() -> RateLimit {
        RateLimit {
            burst: 100,
            per_second: 50,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of all clients.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn burst(&self) -> f64 {
        f64::from(self.limit.burst.max(1))
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * f64::from(self.limit.per_second)).min(self.burst())
    }

    /// Takes a token for `ip` at `now`; when none is left, the time until the next one
    /// (`None` inside the error: never, with no refill).
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Option<Duration>> {
        // A poisoned lock only means another request panicked mid-update of plain numbers.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&ip) {
            let burst = self.burst();
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst(),
            updated: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                updated: now,
            };
            return Ok(());
        }
        *bucket = Bucket {
            tokens,
            updated: now,
        };
        if self.limit.per_second == 0 {
            return Err(None);
        }
        let wait = (1.0 - tokens) / f64::from(self.limit.per_second);
        Err(Some(Duration::from_secs_f64(wait)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_after_burst_and_refills() {
        let limiter = RateLimiter::new(RateLimit {
            burst: 3,
            per_second: 2,
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip, t0), Ok(()));
        }
        let wait = limiter.check(ip, t0).unwrap_err().unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // Another client is not affected.
        assert_eq!(limiter.check(other, t0), Ok(()));
        // Half a second later exactly one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check(ip, t1), Ok(()));
        assert!(limiter.check(ip, t1).is_err());
        // Never more than the burst, however long the wait.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(ip, t2), Ok(()));
        }
        assert!(limiter.check(ip, t2).is_err());
    }

    #[test]
    fn no_refill_means_never() {
        let limiter = RateLimiter::new(RateLimit {
            burst: 1,
            per_second: 0,
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        assert_eq!(limiter.check(ip, t0), Ok(()));
        assert_eq!(limiter.check(ip, t0 + Duration::from_secs(60)), Err(None));
    }
}
