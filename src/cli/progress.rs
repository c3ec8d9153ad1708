//! Turns core events into what a person sees on stderr: indicatif on a
//! terminal, plain timestamped lines otherwise (CI logs, cron mail).

use crate::events::{Event, Observer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

pub struct Progress {
    bar: Option<Mutex<Option<ProgressBar>>>,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Self {
            bar: tty.then(|| Mutex::new(None)),
            quiet,
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(m) => match m.lock().ok().and_then(|b| b.clone()) {
                Some(bar) => bar.println(text),
                None => eprintln!("{text}"),
            },
            None => eprintln!("{text}"),
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        match event {
            Event::PhaseStarted { name } => {
                if let (Some(m), false) = (&self.bar, self.quiet) {
                    if let Ok(mut slot) = m.lock() {
                        let bar = ProgressBar::new_spinner();
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec}) {elapsed}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_message(name);
                        bar.enable_steady_tick(Duration::from_millis(120));
                        if let Some(old) = slot.replace(bar) {
                            old.finish_and_clear();
                        }
                    }
                } else {
                    self.line(&format!("[restore-drill] {name} ..."));
                }
            }
            Event::PhaseFinished { name, seconds } => {
                if let Some(m) = &self.bar {
                    if let Ok(mut slot) = m.lock() {
                        if let Some(bar) = slot.take() {
                            bar.finish_and_clear();
                        }
                    }
                }
                self.line(&format!("[restore-drill] {name}: done in {seconds:.1} s"));
            }
            Event::Progress { done, total } => {
                if let Some(m) = &self.bar {
                    if let Ok(slot) = m.lock() {
                        if let Some(bar) = slot.as_ref() {
                            if let Some(t) = total {
                                bar.set_length(t);
                            }
                            bar.set_position(done);
                        }
                    }
                }
            }
            Event::Note(text) => self.line(&format!("[restore-drill] {text}")),
        }
    }
}
