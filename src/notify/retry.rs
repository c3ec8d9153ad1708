//! Bounded delivery: every attempt has a connect and a total timeout, a failed
//! attempt that retrying can help is tried again after a pause, and after the
//! last one the channel gives up with the last reason. A drill's end never
//! waits on a dead server for more than `Schedule::worst_case`.

use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The pause before attempt 2, 3 ...; the last pause repeats.
    pub pauses: &'static [Duration],
    /// To open the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// For one whole attempt.
    pub attempt_timeout: Duration,
}

pub const SCHEDULE: Schedule = Schedule {
    attempts: 3,
    pauses: &[Duration::from_secs(1), Duration::from_secs(3)],
    connect_timeout: Duration::from_secs(10),
    attempt_timeout: Duration::from_secs(30),
};

impl Schedule {
    /// The pause after failed attempt `n` (1-based), None after the last.
    pub fn pause_after(&self, n: u32) -> Option<Duration> {
        if n == 0 || n >= self.attempts {
            return None;
        }
        let i = (n as usize - 1).min(self.pauses.len().saturating_sub(1));
        Some(self.pauses.get(i).copied().unwrap_or_default())
    }

    /// The longest one channel can take: every attempt timing out.
    pub fn worst_case(&self) -> Duration {
        let pauses: Duration = (1..self.attempts).filter_map(|n| self.pause_after(n)).sum();
        self.attempt_timeout * self.attempts + pauses
    }
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Unreachable, timed out, a 5xx or a 4xx SMTP reply: may pass later.
    Transient(String),
    /// Refused for good (a rejected login, a 404, a TLS mismatch): retrying
    /// would only repeat it, or lock the account.
    Permanent(String),
}

/// Runs `attempt` under the schedule: (attempts made, Ok or the last reason).
pub(super) async fn run<F, Fut>(s: &Schedule, mut attempt: F) -> (u32, Result<(), String>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let mut n = 0;
    loop {
        n += 1;
        let result = tokio::time::timeout(s.attempt_timeout, attempt())
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Transient(format!(
                    "no answer within {} s",
                    s.attempt_timeout.as_secs()
                )))
            });
        let reason = match result {
            Ok(()) => return (n, Ok(())),
            Err(Failure::Permanent(r)) => return (n, Err(r)),
            Err(Failure::Transient(r)) => r,
        };
        match s.pause_after(n) {
            Some(p) => tokio::time::sleep(p).await,
            None => return (n, Err(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_attempts_with_pauses_of_one_then_three_seconds() {
        let s = SCHEDULE;
        assert_eq!(s.pause_after(1), Some(Duration::from_secs(1)));
        assert_eq!(s.pause_after(2), Some(Duration::from_secs(3)));
        assert_eq!(s.pause_after(3), None);
        assert_eq!(s.pause_after(0), None);
        // Three attempts of 30 s and 4 s of pauses: a drill's end is bounded.
        assert_eq!(s.worst_case(), Duration::from_secs(94));
    }

    #[test]
    fn the_last_pause_repeats() {
        let s = Schedule {
            attempts: 5,
            ..SCHEDULE
        };
        assert_eq!(s.pause_after(4), Some(Duration::from_secs(3)));
        assert_eq!(s.pause_after(5), None);
    }

    const FAST: Schedule = Schedule {
        attempts: 3,
        pauses: &[Duration::from_millis(1)],
        connect_timeout: Duration::from_millis(50),
        attempt_timeout: Duration::from_millis(50),
    };

    #[tokio::test]
    async fn transient_failures_are_retried_permanent_ones_are_not() {
        let mut calls = 0;
        let (n, r) = run(&FAST, || {
            calls += 1;
            async { Err(Failure::Transient("down".into())) }
        })
        .await;
        assert_eq!((n, r, calls), (3, Err("down".to_string()), 3));
        let (n, r) = run(&FAST, || async { Err(Failure::Permanent("535".into())) }).await;
        assert_eq!((n, r), (1, Err("535".to_string())));
        let mut calls = 0;
        let (n, r) = run(&FAST, || {
            calls += 1;
            let c = calls;
            async move {
                if c < 2 {
                    Err(Failure::Transient("busy".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!((n, r), (2, Ok(())));
    }

    #[tokio::test]
    async fn an_attempt_that_hangs_ends_at_its_timeout() {
        let start = std::time::Instant::now();
        let (n, r) = run(&FAST, std::future::pending::<Result<(), Failure>>).await;
        assert_eq!(n, 3);
        assert!(r.expect_err("timed out").contains("no answer within"));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
