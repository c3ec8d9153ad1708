#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! What a run leaves for other systems: a Prometheus metrics file that
//! promtool accepts and that keeps the last success across a failure, and
//! JUnit XML with one failure per failing check or objective.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn scenario(dir: &Path, strict: bool) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let path = dir.join(if strict {
        "strict.toml"
    } else {
        "monthly.toml"
    });
    let text = if strict {
        text.replace("rpo_hours = 26", "rpo_hours = 0.0001")
    } else {
        text
    };
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn drill(file: &str, dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let clinic = shared_clinic();
    let reports = dir.join("reports");
    let mut args = vec![
        "run",
        file,
        "--backups",
        clinic.backups.to_str().unwrap(),
        "--identity",
        clinic.key.path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--site",
        "Main Street \"Eye\" Care",
    ];
    args.extend_from_slice(extra);
    run_tracked(&args)
}

fn promtool(file: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(&format!("restore_drill_{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
}

#[test]
fn metrics_pass_promtool_and_keep_the_last_success_across_a_failure() {
    let tmp = tempdir();
    let metrics = tmp.path().join("textfile/restore-drill-monthly.prom");
    let m = metrics.to_str().unwrap();
    let (strict, monthly) = (scenario(tmp.path(), true), scenario(tmp.path(), false));

    let (code, out, err) = drill(&strict, tmp.path(), &["--metrics", m]);
    assert_eq!(code, 1, "{out}\n{err}");
    promtool(&metrics);
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(
        sample(&text, "last_success_timestamp_seconds"),
        None,
        "no success yet:\n{text}"
    );
    assert!(text.contains("verdict=\"failed\"} 1"), "{text}");
    assert!(
        text.contains("site=\"Main Street \\\"Eye\\\" Care\""),
        "{text}"
    );
    assert_eq!(sample(&text, "failed_checks"), Some(1.0));
    assert_eq!(sample(&text, "exit_code"), Some(1.0));

    let (code, out, err) = drill(&monthly, tmp.path(), &["--metrics", m]);
    assert_eq!(code, 0, "{out}\n{err}");
    promtool(&metrics);
    let text = std::fs::read_to_string(&metrics).unwrap();
    let success = sample(&text, "last_success_timestamp_seconds").unwrap();
    assert_eq!(Some(success), sample(&text, "last_run_timestamp_seconds"));
    assert!(sample(&text, "rto_seconds").unwrap() > 0.0);

    let (code, _, _) = drill(&strict, tmp.path(), &["--metrics", m]);
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(
        sample(&text, "last_success_timestamp_seconds"),
        Some(success),
        "{text}"
    );
    assert!(sample(&text, "last_run_timestamp_seconds").unwrap() > success);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&metrics).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn junit_has_one_failure_for_the_one_failing_check() {
    let tmp = tempdir();
    let junit = tmp.path().join("junit.xml");
    // The monthly drill with one more custom check, one that cannot pass.
    let file = scenario(tmp.path(), false);
    let text = std::fs::read_to_string(&file).unwrap();
    let check = "\n[[checks.sql]]\nname = \"no patients at all\"\n\
                 query = \"SELECT count(*) FROM patients\"\nexpect = { equals = 0 }\n";
    assert!(text.contains("[[checks.sql]]"), "the scenario's own checks");
    std::fs::write(&file, format!("{text}{check}")).unwrap();
    let (code, out, err) = drill(
        &file,
        tmp.path(),
        &["--junit", junit.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let parsed = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as E\n\
             t = E.parse(sys.argv[1]).getroot()\n\
             cases = list(t.iter('testcase'))\n\
             bad = [c.find('failure').get('type') + ' | ' + c.get('name') + ' | ' + c.find('failure').get('message') for c in cases if c.find('failure') is not None]\n\
             print(len(cases)); print(t.get('failures')); print('\\n'.join(bad))",
        )
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let said = String::from_utf8_lossy(&parsed.stdout).into_owned();
    let lines: Vec<&str> = said.lines().collect();
    let expected = 1
        + report["checks"].as_array().unwrap().len()
        + report["objectives"].as_array().unwrap().len();
    assert_eq!(lines[0], expected.to_string(), "{said}");
    // One check failed; the RTO, measured to the last check passed, is then
    // unknown, and unknown is not passed: a failure of its own kind.
    let failed: Vec<&&str> = lines[2..]
        .iter()
        .filter(|l| l.starts_with("failed | "))
        .collect();
    assert_eq!(failed.len(), 1, "{said}");
    assert!(
        failed[0].starts_with("failed | sql: no patients at all | 1000 (expected = 0)"),
        "{said}"
    );
    assert!(
        lines[2..]
            .iter()
            .all(|l| l.starts_with("failed | ") || l.starts_with("unknown | RTO")),
        "{said}"
    );
    assert_eq!(lines[1], (lines.len() - 2).to_string(), "{said}");
}

#[test]
fn a_metrics_file_that_cannot_be_written_fails_a_passed_drill_with_exit_3() {
    let tmp = tempdir();
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let metrics = blocker.join("drill.prom");
    let (code, out, err) = drill(
        &scenario(tmp.path(), false),
        tmp.path(),
        &["--metrics", metrics.to_str().unwrap()],
    );
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");
    assert!(err.contains("the metrics file was not written"), "{err}");
    assert_eq!(
        files_in(&tmp.path().join("reports"))
            .iter()
            .filter(|f| f.ends_with(".json"))
            .count(),
        1
    );
}
