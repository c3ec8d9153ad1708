//! The one phase clock of the crate: durations on the monotonic clock, each
//! phase's start on the wall clock as evidence, and every start and end told
//! to the observer (progress bars, logs).

use crate::events::{Event, Events};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
    pub started_at: DateTime<Utc>,
}

pub struct Clock {
    events: Events,
    phases: Vec<Phase>,
    current: Option<(String, Instant, DateTime<Utc>)>,
}

impl Clock {
    pub fn new(events: &Events) -> Self {
        Clock {
            events: events.clone(),
            phases: Vec::new(),
            current: None,
        }
    }

    /// Starts a phase, ending the one before if it is still open.
    pub fn begin(&mut self, name: impl Into<String>) {
        self.end();
        let name = name.into();
        self.events
            .event(Event::PhaseStarted { name: name.clone() });
        self.current = Some((name, Instant::now(), Utc::now()));
    }

    /// Ends the open phase; returns its seconds (0 when none was open).
    pub fn end(&mut self) -> f64 {
        let Some((name, t, started_at)) = self.current.take() else {
            return 0.0;
        };
        let seconds = t.elapsed().as_secs_f64();
        self.events.event(Event::PhaseFinished {
            name: name.clone(),
            seconds,
        });
        self.phases.push(Phase {
            name,
            seconds,
            started_at,
        });
        seconds
    }

    /// The phase still open: where a run that died, died.
    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|(n, _, _)| n.as_str())
    }

    /// Every phase ended so far (an open one is ended first).
    pub fn finish(mut self) -> Vec<Phase> {
        self.end();
        self.phases
    }
}

/// A moment on both clocks: the monotonic one for durations, the wall clock
/// for evidence.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub instant: Instant,
    pub wall: DateTime<Utc>,
}

impl Moment {
    pub fn now() -> Self {
        Moment {
            instant: Instant::now(),
            wall: Utc::now(),
        }
    }
    pub fn seconds_since(&self) -> f64 {
        self.instant.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_recorded_in_order_and_an_open_one_is_named() {
        let mut c = Clock::new(&crate::events::silent());
        c.begin("select");
        c.begin("restore");
        assert_eq!(c.current(), Some("restore"));
        let phases = c.finish();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["select", "restore"]);
        assert!(phases.iter().all(|p| p.seconds >= 0.0));
    }
}
