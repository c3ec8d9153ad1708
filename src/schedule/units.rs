//! The schedule as text: a systemd service and timer, or a crontab line,
//! rendered by pure functions from a validated plan.

use crate::error::{Error, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Every {
    Daily,
    Weekly,
    Monthly,
}

impl Every {
    pub fn word(self) -> &'static str {
        match self {
            Every::Daily => "day",
            Every::Weekly => "week",
            Every::Monthly => "month",
        }
    }
}

/// The time of day a drill starts, local to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub hour: u8,
    pub minute: u8,
}

/// `HH:MM`, 24-hour.
pub fn parse_at(s: &str) -> Result<At> {
    let bad = || {
        Error::Usage(format!(
            "invalid --at {s}: expected a time of day as HH:MM, 24-hour (e.g. 03:30)"
        ))
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (hour, minute): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h.len() != 2 || m.len() != 2 || hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok(At { hour, minute })
}

/// Everything a unit needs, already checked: absolute paths that exist.
#[derive(Debug, Clone)]
pub struct Job {
    /// `restore-drill-NAME`: the units' and cron job's name.
    pub name: String,
    pub scenario: PathBuf,
    pub every: Every,
    pub at: At,
    /// The program and its arguments, ready to run.
    pub command: Vec<String>,
    /// Folders the drill writes to: the only writable paths under ProtectSystem=strict.
    pub writes: Vec<PathBuf>,
}

fn calendar(every: Every, at: At) -> String {
    let time = format!("{:02}:{:02}:00", at.hour, at.minute);
    match every {
        Every::Daily => format!("*-*-* {time}"),
        Every::Weekly => format!("Mon *-*-* {time}"),
        Every::Monthly => format!("*-*-01 {time}"),
    }
}

/// One argument as systemd's ExecStart reads it: specifiers and variables
/// escaped, quoted when it holds a space or a quote; a line break or tab as
/// its C escape, which systemd turns back into the character inside the
/// argument (`plan` refuses them; this is the second line of defence, so a
/// raw one never ends the line and starts a directive).
fn systemd_arg(a: &str) -> String {
    let escaped = a
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t");
    if escaped.is_empty() || escaped.contains([' ', '"', '\'']) || a.contains(['\t', '\n', '\r']) {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// Free text in a unit (`Description=`): specifiers escaped, backslashes
/// doubled (one at the end of a line would join the next line to it), and
/// any control character shown as an escape, never written raw (`plan`
/// refuses them; this is the second line of defence).
fn unit_text(s: &str) -> String {
    crate::plain_text::shown(&s.replace('\\', "\\\\")).replace('%', "%%")
}

/// The sweep before each drill: `restore-drill gc` removes the sandboxes of
/// killed runs (they hold restored patient data) and leaves those of a
/// drill running now and those kept with --keep.
fn sweep(job: &Job) -> Vec<String> {
    let program = job.command.first().cloned().unwrap_or_default();
    vec![program, "--quiet".into(), "gc".into()]
}

pub fn service(job: &Job) -> String {
    let exec: Vec<String> = job.command.iter().map(|a| systemd_arg(a)).collect();
    let sweep: Vec<String> = sweep(job).iter().map(|a| systemd_arg(a)).collect();
    let writes: Vec<String> = job
        .writes
        .iter()
        .map(|p| systemd_arg(&p.to_string_lossy()))
        .collect();
    format!(
        "# Written by restore-drill schedule install; replaced when it runs again.
[Unit]
Description=restore-drill: {scenario}
Wants=docker.service network-online.target
After=docker.service network-online.target

[Service]
Type=oneshot
# Sandboxes left by a killed run hold patient data: swept before each drill.
# The leading -: a sweep that fails (Docker down) must not stop the drill, which then
# fails with its own report and alert.
ExecStartPre=-{sweep}
ExecStart={exec}
# A drill is bounded by its own limits; this ends one stuck beyond them.
TimeoutStartSec=6h
UMask=0077
# Hardening that leaves the Docker socket reachable: only the history,
# reports and metrics are writable; /tmp is private (failure rehearsals put
# their scratch copies there). The sandboxes' socket folders go to a runtime
# folder under /run instead, where the Docker engine sees them too.
RuntimeDirectory=restore-drill
RuntimeDirectoryMode=0700
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={writes}
PrivateTmp=yes
ProtectHome=read-only
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
",
        scenario = unit_text(&job.scenario.to_string_lossy()),
        sweep = sweep.join(" "),
        exec = exec.join(" "),
        writes = writes.join(" "),
    )
}

pub fn timer(job: &Job) -> String {
    format!(
        "# Written by restore-drill schedule install; replaced when it runs again.
[Unit]
Description=restore-drill every {word}: {scenario}

[Timer]
OnCalendar={calendar}
# A drill missed while the server was off runs at the next boot.
Persistent=true
# Several servers of one contractor do not all hit their storage at once.
RandomizedDelaySec=30min
AccuracySec=1min
Unit={name}.service

[Install]
WantedBy=timers.target
",
        word = job.every.word(),
        scenario = unit_text(&job.scenario.to_string_lossy()),
        calendar = calendar(job.every, job.at),
        name = job.name,
    )
}

/// A crontab line for machines without systemd (no catch-up after downtime).
pub fn cron(job: &Job) -> String {
    let days = match job.every {
        Every::Daily => "* * *",
        Every::Weekly => "* * 1",
        Every::Monthly => "1 * *",
    };
    let command: Vec<String> = job.command.iter().map(|a| shell_arg(a)).collect();
    let sweep: Vec<String> = sweep(job).iter().map(|a| shell_arg(a)).collect();
    // cron runs the line with sh: the sweep first, the drill whatever it did.
    let line = format!("{} >/dev/null 2>&1; {}", sweep.join(" "), command.join(" "));
    format!(
        "{} {} {days} {}   # {}",
        job.at.minute,
        job.at.hour,
        line.replace('%', "\\%"),
        job.name
    )
}

fn shell_arg(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(every: Every) -> Job {
        Job {
            name: "restore-drill-monthly".into(),
            scenario: "/etc/restore-drill/monthly drill.toml".into(),
            every,
            at: At { hour: 3, minute: 5 },
            command: vec![
                "/usr/bin/restore-drill".into(),
                "run".into(),
                "/etc/restore-drill/monthly drill.toml".into(),
                "--site".into(),
                "50% \"Eye\" $Care".into(),
            ],
            writes: vec!["/var/lib/restore-drill".into()],
        }
    }

    #[test]
    fn at_is_hh_mm_24_hour() {
        assert_eq!(
            parse_at("03:30").ok(),
            Some(At {
                hour: 3,
                minute: 30
            })
        );
    }

    /// One test per refused `--at`, so a failure names its input.
    macro_rules! bad_at {
        ($($name:ident: $bad:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    assert!(parse_at($bad).is_err(), "{}", $bad);
                }
            )+
        };
    }

    bad_at! {
        an_at_with_one_hour_digit_is_refused: "3:30";
        an_at_past_the_last_hour_is_refused: "24:00";
        an_at_past_the_last_minute_is_refused: "12:60";
        an_at_in_words_is_refused: "noon";
        an_at_with_a_dash_is_refused: "12-30";
        an_at_with_one_minute_digit_is_refused: "12:3";
    }

    #[test]
    fn exec_arguments_are_quoted_and_escaped_for_systemd() {
        let s = service(&job(Every::Monthly));
        assert!(s.contains("ExecStart=/usr/bin/restore-drill run \"/etc/restore-drill/monthly drill.toml\" --site \"50%% \\\"Eye\\\" $$Care\""), "{s}");
    }

    #[test]
    fn each_cadence_has_its_calendar_and_cron_days() {
        assert!(timer(&job(Every::Monthly)).contains("OnCalendar=*-*-01 03:05:00"));
        assert!(timer(&job(Every::Weekly)).contains("OnCalendar=Mon *-*-* 03:05:00"));
        assert!(timer(&job(Every::Daily)).contains("OnCalendar=*-*-* 03:05:00"));
        assert!(cron(&job(Every::Monthly)).starts_with("5 3 1 * * /usr/bin/restore-drill --quiet gc >/dev/null 2>&1; /usr/bin/restore-drill run '/etc/restore-drill/monthly drill.toml' --site '50\\% \"Eye\" $Care'"));
    }

    #[test]
    fn the_service_sweeps_killed_runs_first_and_a_failed_sweep_does_not_stop_it() {
        let s = service(&job(Every::Monthly));
        let pre = s.find("ExecStartPre=-/usr/bin/restore-drill --quiet gc\n");
        let start = s.find("ExecStart=/usr/bin/restore-drill run");
        assert!(pre.is_some() && pre < start, "{s}");
    }

    #[test]
    fn a_line_break_in_an_argument_never_ends_the_exec_line() {
        let mut j = job(Every::Monthly);
        j.command[2] = "/etc/x\nExecStartPre=/bin/touch /pwned".into();
        let s = service(&j);
        assert!(
            s.contains("run \"/etc/x\\nExecStartPre=/bin/touch /pwned\" --site"),
            "{s}"
        );
        assert!(
            !s.lines().any(|l| l.starts_with("ExecStartPre=/bin")),
            "{s}"
        );
    }

    #[test]
    fn description_is_never_written_raw() {
        let mut j = job(Every::Monthly);
        j.scenario = "/etc/x\nExecStartPre=/bin/touch /pwned 100%\\".into();
        for unit in [service(&j), timer(&j)] {
            let d = unit
                .lines()
                .find(|l| l.starts_with("Description="))
                .expect("Description");
            assert!(
                d.ends_with("/etc/x\\nExecStartPre=/bin/touch /pwned 100%%\\\\"),
                "{d}"
            );
            assert!(
                !unit.lines().any(|l| l.starts_with("ExecStartPre=/bin")),
                "{unit}"
            );
        }
    }
}
