//! `restore-drill validate`: the scenario checked as `run` reads it, and what
//! its first run needs from this machine and says to people: the images it
//! restores into (a drill never builds or pulls one), where its alerts go,
//! and the site file it would run with.

use super::{exit, Output};
use crate::error::Result;
use crate::notify::Destination;
use crate::redact::Redacted;
use crate::sandbox::images::{self, Availability};
use crate::scenario::{Notify, NotifyOn, Plan, SiteFile};
use crate::words::plural;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The scenario file to check.
    scenario: PathBuf,
    /// A site file to read as `run --site-file` reads it: its `site` and
    /// `[notify]` are shown (a scenario's own `[notify]` wins, as in `run`).
    #[arg(long, env = "RESTORE_DRILL_SITE_FILE", value_name = "FILE")]
    site_file: Option<PathBuf>,
}

pub async fn validate(a: ValidateArgs) -> Result<Output> {
    // An invalid scenario or site file is a usage error (exit 2) before
    // anything is asked of Docker.
    let plan = crate::scenario::load(&a.scenario)?;
    let site_file = match &a.site_file {
        Some(p) => Some((p.as_path(), crate::scenario::load_site_file(p)?)),
        None => None,
    };
    let images = check_images(&plan).await;
    let notify = which_notify(&plan, site_file.as_ref().map(|(_, f)| f));
    let mut lines = vec![scenario_line(&a.scenario, &plan)];
    lines.extend(images.iter().map(|(image, a)| image_line(image, a)));
    lines.push(notify_line(notify));
    let mut site_json = serde_json::Value::Null;
    if let Some((path, file)) = &site_file {
        let (line, json) = site_file_text(path, file);
        lines.push(line);
        site_json = json;
    }
    let mut out = Output::new(
        lines.join("\n"),
        json!({
            "file": a.scenario,
            "valid": true,
            "name": plan.name,
            "images": images.iter().map(|(i, a)| json!({"image": i, "availability": a})).collect::<Vec<_>>(),
            "notify": notify.map(|(n, from)| notify_json(n, from)),
            "site_file": site_json,
        }),
    );
    let states: Vec<Availability> = images.iter().map(|(_, a)| a.clone()).collect();
    out.code = exit::for_images(&states);
    out.error = not_ready(&images).map(Redacted::ours);
    // The old spelling of an expected detection is valid, and said so.
    let detection = plan.expect.as_ref().and_then(|e| e.detection.as_deref());
    let note = detection.and_then(crate::drill::detection::deprecation);
    out.warnings.extend(note.map(Redacted::ours));
    Ok(out)
}

/// The images a run of `plan` starts: each comparison target, else the target.
fn scenario_images(plan: &Plan) -> Vec<String> {
    match &plan.compare {
        Some(c) => c.targets.clone(),
        None => vec![plan.target.image.clone()],
    }
}

/// Each image's availability; all unchecked, with why, when Docker cannot be
/// reached.
async fn check_images(plan: &Plan) -> Vec<(String, Availability)> {
    let wanted = scenario_images(plan);
    let docker = match crate::sandbox::docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            let reason = e.to_string();
            return wanted
                .into_iter()
                .map(|i| {
                    (
                        i,
                        Availability::Unchecked {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect();
        }
    };
    let mut checked = Vec::new();
    for image in wanted {
        let a = images::availability(&docker, &image).await;
        checked.push((image, a));
    }
    checked
}

fn scenario_line(file: &Path, plan: &Plan) -> String {
    let into = match &plan.compare {
        Some(c) => format!(
            "compares {} (the baseline) with {}, {},",
            c.targets[0],
            c.targets[1..].join(", "),
            plural(c.queries.len(), "application query", "application queries")
        ),
        None => format!("restores into {}", plan.target.image),
    };
    format!(
        "{}: valid. Scenario {:?}: {into} from {}; {}{}",
        file.display(),
        plan.name,
        plan.backups
            .location
            .as_ref()
            .map(|l| l.to_string())
            .unwrap_or_else(|| "the --backups directory".into()),
        plural(plan.checks.sql.len(), "custom check", "custom checks"),
        if plan.checks.invariants.is_some() {
            ", invariants"
        } else {
            ""
        }
    )
}

/// The one place that words an image's availability. A missing image is
/// named with what `run` would do (stop, exit 3, before any drill) and the
/// command that fixes it.
pub(super) fn image_line(image: &str, a: &Availability) -> String {
    match a {
        Availability::Present => format!("image    {image}: present"),
        Availability::Buildable { target } => format!(
            "image    {image}: MISSING. `run` does not build it: it would stop with exit 3 before the drill. \
             Build it first: restore-drill images build {target}"
        ),
        Availability::Missing => format!(
            "image    {image}: MISSING, and not an image restore-drill builds ({}). `run` would stop with exit 3 \
             before the drill. Fix: docker pull {image} where a registry is reachable (or docker load it), \
             or name one of those images in the scenario",
            buildable_images()
        ),
        Availability::Unchecked { reason } => {
            format!("image    {image}: NOT CHECKED, Docker could not be asked: {reason}")
        }
    }
}

fn buildable_images() -> String {
    images::TARGETS
        .iter()
        .map(|t| t.image())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What stderr says when a run could not start here: `None` when every image
/// is present.
fn not_ready(images: &[(String, Availability)]) -> Option<String> {
    let missing: Vec<&str> = images
        .iter()
        .filter(|(_, a)| matches!(a, Availability::Buildable { .. } | Availability::Missing))
        .map(|(i, _)| i.as_str())
        .collect();
    let unchecked = images
        .iter()
        .any(|(_, a)| matches!(a, Availability::Unchecked { .. }));
    match (missing.is_empty(), unchecked) {
        (false, _) => Some(format!(
            "the scenario is valid, but this Docker engine lacks {}: {}; a run would stop there, before the drill (exit 3)",
            plural(missing.len(), "image", "images"),
            missing.join(", ")
        )),
        (true, true) => Some(
            "the scenario is valid, but its images could not be checked: Docker was not reachable (see above)"
                .into(),
        ),
        (true, false) => None,
    }
}

/// Where a run's `[notify]` comes from, as `run` picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum NotifyFrom {
    Scenario,
    SiteFile,
}

/// The `[notify]` a run would use: the scenario's, else the site file's.
fn which_notify<'a>(
    plan: &'a Plan,
    site_file: Option<&'a SiteFile>,
) -> Option<(&'a Notify, NotifyFrom)> {
    match (&plan.notify, site_file.and_then(|f| f.notify.as_ref())) {
        (Some(n), _) => Some((n, NotifyFrom::Scenario)),
        (None, Some(n)) => Some((n, NotifyFrom::SiteFile)),
        (None, None) => None,
    }
}

fn notify_line(notify: Option<(&Notify, NotifyFrom)>) -> String {
    match notify {
        None => "notify   none: no alert is sent after a run (add [notify] to the scenario or a site file)"
            .into(),
        Some((n, from)) => format!(
            "notify   {}, from the {}: {}",
            when(n.on),
            match from {
                NotifyFrom::Scenario => "scenario",
                NotifyFrom::SiteFile => "site file",
            },
            destinations_text(n)
        ),
    }
}

fn when(on: NotifyOn) -> &'static str {
    match on {
        NotifyOn::Failure => "when a run does not end as expected (exit code not 0)",
        NotifyOn::Always => "after every run",
    }
}

fn destinations_text(n: &Notify) -> String {
    crate::notify::destinations(n)
        .iter()
        .map(|d: &Destination| match &d.detail {
            Some(detail) => format!("{} {} ({detail})", d.channel.as_str(), d.target),
            None => format!("{} {}", d.channel.as_str(), d.target),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn notify_json(n: &Notify, from: NotifyFrom) -> serde_json::Value {
    json!({
        "from": from,
        "on": match n.on { NotifyOn::Failure => "failure", NotifyOn::Always => "always" },
        "destinations": crate::notify::destinations(n),
    })
}

/// The site file as `validate` shows it: what a run takes from it. The one
/// function to extend when the site file grows.
fn site_file_text(path: &Path, f: &SiteFile) -> (String, serde_json::Value) {
    let site = match &f.site {
        Some(s) => format!("site {s:?}"),
        None => "no site".to_string(),
    };
    let notify = match &f.notify {
        Some(n) => format!("[notify] {}: {}", when(n.on), destinations_text(n)),
        None => "no [notify]".to_string(),
    };
    let party = |label: &str, p: Option<&crate::report::facts::Party>| match p {
        Some(p) => format!("\n         {label}: {}", p.line()),
        None => format!("\n         {label}: not named (the evidence pack will say so)"),
    };
    let c = f.contacts.as_ref();
    let contacts = format!(
        "{}{}",
        party("clinic", c.and_then(|c| c.clinic.as_ref())),
        party("contractor", c.and_then(|c| c.contractor.as_ref()))
    );
    let json = json!({
        "path": path,
        "site": f.site,
        "contacts": f.contacts,
        "notify": f.notify.as_ref().map(|n| notify_json(n, NotifyFrom::SiteFile)),
    });
    (
        format!("site     {}: {site}; {notify}{contacts}", path.display()),
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_this_tool_builds_names_the_build_command_and_what_run_does() {
        let line = image_line(
            "restore-drill/postgres:17",
            &Availability::Buildable {
                target: "postgres:17",
            },
        );
        assert!(
            line.contains("restore-drill/postgres:17: MISSING"),
            "{line}"
        );
        assert!(line.contains("`run` does not build it"), "{line}");
        assert!(line.contains("exit 3"), "{line}");
        assert!(
            line.ends_with("Build it first: restore-drill images build postgres:17"),
            "{line}"
        );
    }

    #[test]
    fn a_missing_image_of_elsewhere_names_the_pull_and_the_images_this_tool_builds() {
        let line = image_line("postgres:16", &Availability::Missing);
        assert!(line.contains("postgres:16: MISSING, and not an image restore-drill builds (restore-drill/postgres:15, "), "{line}");
        assert!(line.contains("docker pull postgres:16"), "{line}");
    }

    #[test]
    fn an_image_that_could_not_be_checked_is_not_called_present() {
        let line = image_line(
            "restore-drill/postgres:15",
            &Availability::Unchecked {
                reason: "Docker is not reachable".into(),
            },
        );
        assert!(line.contains("NOT CHECKED"), "{line}");
        assert!(!line.contains("present"), "{line}");
    }

    #[test]
    fn validate_exits_3_unless_every_image_is_present() {
        let present = Availability::Present;
        let unchecked = Availability::Unchecked { reason: "r".into() };
        assert_eq!(exit::for_images(std::slice::from_ref(&present)), exit::OK);
        for other in [
            Availability::Missing,
            Availability::Buildable {
                target: "postgres:15",
            },
            unchecked,
        ] {
            assert_eq!(
                exit::for_images(&[present.clone(), other.clone()]),
                exit::ENVIRONMENT,
                "{other:?}"
            );
        }
    }

    #[test]
    fn stderr_names_the_missing_images_and_nothing_when_all_are_present() {
        let present = ("a".to_string(), Availability::Present);
        let missing = ("b".to_string(), Availability::Missing);
        assert_eq!(not_ready(std::slice::from_ref(&present)), None);
        let said = not_ready(&[present, missing]).expect("said");
        assert!(said.contains("lacks 1 image: b"), "{said}");
    }
}
