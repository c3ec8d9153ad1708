//! Turns core events into what a person sees on stderr: a spinner on a
//! terminal, plain timestamped lines otherwise (CI logs, cron mail). A phase
//! shows bytes only once it reports moving some: selecting a backup or
//! running the checks moves none, and `0 B (0 B/s)` beside them said
//! nothing. What each line says is built by the pure functions at the end.

use crate::events::{Event, Observer};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    /// Whether stderr is a terminal (a spinner per phase) or not (lines).
    tty: bool,
    quiet: bool,
    current: Mutex<Option<Running>>,
}

/// The phase under way.
struct Running {
    name: String,
    started: Instant,
    /// The bytes it moved so far; None while it reported none.
    bytes: Option<u64>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            quiet,
            current: Mutex::new(None),
        }
    }

    /// A line above the spinner, or on its own without one.
    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let bar = self
            .current
            .lock()
            .ok()
            .and_then(|c| c.as_ref()?.bar.clone());
        match bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn started(&self, name: String) {
        let bar = (self.tty && !self.quiet).then(|| spinner(&name));
        if bar.is_none() {
            self.line(&format!("[restore-drill] {name} ..."));
        }
        let running = Running {
            name,
            started: Instant::now(),
            bytes: None,
            bar,
        };
        if let Ok(mut slot) = self.current.lock() {
            if let Some(old) = slot.replace(running).and_then(|r| r.bar) {
                old.finish_and_clear();
            }
        }
    }

    fn finished(&self, name: &str, seconds: f64) {
        let ended = self.current.lock().ok().and_then(|mut c| c.take());
        let bytes = ended
            .as_ref()
            .filter(|r| r.name == name)
            .and_then(|r| r.bytes);
        if let Some(bar) = ended.and_then(|r| r.bar) {
            bar.finish_and_clear();
        }
        self.line(&format!(
            "[restore-drill] {}",
            done_line(name, seconds, bytes)
        ));
    }

    fn moved(&self, done: u64) {
        if let Ok(mut slot) = self.current.lock() {
            if let Some(r) = slot.as_mut() {
                r.bytes = Some(done);
                if let Some(bar) = &r.bar {
                    bar.set_message(running_text(&r.name, r.bytes, r.started.elapsed()));
                }
            }
        }
    }
}

fn spinner(name: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(running_text(name, None, Duration::ZERO));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        match event {
            Event::PhaseStarted { name } => self.started(name),
            Event::PhaseFinished { name, seconds } => self.finished(&name, seconds),
            Event::Progress { done, .. } => self.moved(done),
            Event::BackupRead { .. } => {}
            Event::Note(text) => self.line(&format!("[restore-drill] {text}")),
        }
    }
}

/// What a running phase shows beside its spinner: its name, and once it
/// moves bytes how many and how fast (`restore 12.40 MiB (3.10 MiB/s)`).
pub(crate) fn running_text(name: &str, bytes: Option<u64>, elapsed: Duration) -> String {
    match bytes {
        Some(b) => format!("{name} {}", amount(b, elapsed.as_secs_f64())),
        None => name.to_string(),
    }
}

/// The line a finished phase leaves: `restore: done in 4.2 s, 12.40 MiB
/// (2.95 MiB/s)`, without bytes for a phase that moved none.
pub(crate) fn done_line(name: &str, seconds: f64, bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{name}: done in {seconds:.1} s, {}", amount(b, seconds)),
        None => format!("{name}: done in {seconds:.1} s"),
    }
}

/// `12.40 MiB (3.10 MiB/s)`; the rate only once there is time to divide by.
fn amount(bytes: u64, seconds: f64) -> String {
    if seconds < 0.05 {
        return HumanBytes(bytes).to_string();
    }
    let rate = (bytes as f64 / seconds) as u64;
    format!("{} ({}/s)", HumanBytes(bytes), HumanBytes(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_that_moved_no_bytes_shows_none() {
        assert_eq!(
            running_text("checks", None, Duration::from_secs(3)),
            "checks"
        );
        assert_eq!(done_line("checks", 2.04, None), "checks: done in 2.0 s");
        let line = done_line("select", 0.0, None);
        assert!(!line.contains(" B"), "{line}");
    }

    #[test]
    fn a_phase_that_moves_bytes_shows_them_and_their_rate() {
        let mib = 1 << 20;
        assert_eq!(
            running_text("restore", Some(12 * mib), Duration::from_secs(4)),
            "restore 12.00 MiB (3.00 MiB/s)"
        );
        assert_eq!(
            done_line("restore", 2.0, Some(5 * mib)),
            "restore: done in 2.0 s, 5.00 MiB (2.50 MiB/s)"
        );
        // At the very start there is no rate to tell yet.
        assert_eq!(
            running_text("restore", Some(mib), Duration::ZERO),
            "restore 1.00 MiB"
        );
    }
}
