#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `fleet status` and `evidence --fleet` over a fleet's one history: six
//! clinics whose records are the reports of real drills (one passed, one
//! that missed its RPO, one whose key did not open the backup), appended
//! through the library at chosen ages as `fleet run` appends them, so the
//! chain is intact and one site is stale. The page is read by Chromium.

mod common;

use common::*;
use restore_drill::report::Report;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy)]
enum Ran {
    Passed,
    MissedRpo,
    Unrecoverable,
}

/// The fleet: each site's runs, as days before now. Harbor never passed,
/// Lakeside passed 45 days ago on a 30-day cadence, Pine's last drill
/// missed its RPO; the others are current. Old Town Optics is in the
/// history but no longer in the fleet file.
const SITES: [(&str, &[(i64, Ran)]); 7] = [
    (
        "Main Street Eye Care",
        &[(33, Ran::Passed), (3, Ran::Passed)],
    ),
    (
        "Harbor Optometry",
        &[(34, Ran::Unrecoverable), (2, Ran::Unrecoverable)],
    ),
    ("Lakeside Vision Center", &[(45, Ran::Passed)]),
    (
        "Pine Street Eye Clinic",
        &[(20, Ran::Passed), (1, Ran::MissedRpo)],
    ),
    ("Riverside Family Optometry", &[(10, Ran::Passed)]),
    ("Oak Park Eye Associates", &[(25, Ran::Passed)]),
    ("Old Town Optics", &[(90, Ran::Passed)]),
];
const IN_FLEET: usize = 6;
const EMAIL: &str = "frontdesk@mainstreet-eye.example";

struct Fleet {
    dir: PathBuf,
    file: PathBuf,
    history: PathBuf,
    /// The passed drill's report: what must not reach the provider's summary.
    passed: Report,
}

/// Three real drills, made once per test binary, and the fleet's history
/// made from their reports.
fn fleet() -> &'static Fleet {
    static F: std::sync::OnceLock<Fleet> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fleet-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let [passed, missed, unrecoverable] = real_drills(&dir);
        let history = dir.join("history.sqlite");
        let report = |r: Ran| match r {
            Ran::Passed => &passed,
            Ran::MissedRpo => &missed,
            Ran::Unrecoverable => &unrecoverable,
        };
        let mut runs: Vec<(i64, &str, &Report)> = SITES
            .iter()
            .flat_map(|(site, ran)| ran.iter().map(move |(d, r)| (*d, *site, *r)))
            .map(|(d, site, r)| (d, site, report(r)))
            .collect();
        runs.sort_by_key(|(d, _, _)| -d);
        append_aged(&history, &runs);
        let file = dir.join("fleet.toml");
        write_fleet(&file, &history, &SITES[..IN_FLEET]);
        Fleet {
            dir,
            file,
            history,
            passed,
        }
    })
}

/// A drill that passes, one that misses a tiny RPO objective, and one with
/// a key that opens nothing (unrecoverable, before any sandbox starts).
fn real_drills(dir: &Path) -> [Report; 3] {
    let clinic = shared_clinic();
    let strict = dir.join("strict-rpo.toml");
    let text = std::fs::read_to_string(scenario()).unwrap();
    std::fs::write(
        &strict,
        text.replace("rpo_hours = 26", "rpo_hours = 0.0001"),
    )
    .unwrap();
    let stranger = make_key(dir, "stranger");
    let scratch = dir.join("drills.sqlite");
    let reports = dir.join("reports");
    let runs = [
        (scenario(), &clinic.key.path, 0),
        (strict.display().to_string(), &clinic.key.path, 1),
        (scenario(), &stranger.path, 4),
    ];
    for (file, key, want) in runs {
        let (code, out, err) = drill_recorded(&file, &clinic.backups, &[key], &scratch, &reports);
        assert_eq!(code, want, "{file}:\n{out}\n{err}");
    }
    let db = scratch.to_str().unwrap();
    ["1", "2", "3"].map(|id| {
        let (code, out, err) = run(&["--json", "history", "--history", db, "show", id]);
        assert_eq!(code, 0, "{err}");
        let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
        report_of(&shown["report"].to_string())
    })
}

fn scenario() -> String {
    format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Appends each report as `site`'s, finished `days` ago, oldest first,
/// through the library as a drill does: the chain is intact.
fn append_aged(db: &Path, runs: &[(i64, &str, &Report)]) {
    let now = chrono::Utc::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut l = restore_drill::ledger::Ledger::open_or_create(db)
            .await
            .unwrap();
        for (days, site, r) in runs {
            let mut v = (*r).clone();
            let shift = v.finished_at - (now - chrono::Duration::days(*days));
            v.started_at -= shift;
            v.finished_at -= shift;
            v.site = site.to_string();
            if *site == SITES[0].0 {
                v.contacts = Some(restore_drill::report::facts::Contacts {
                    clinic: Some(restore_drill::report::facts::Party {
                        name: Some("Main Street Eye Care LLC".into()),
                        email: Some(EMAIL.into()),
                        ..Default::default()
                    }),
                    contractor: None,
                });
            }
            l.append(&v.to_json(), site).await.unwrap();
        }
        l.close().await.unwrap();
    });
}

fn write_fleet(file: &Path, history: &Path, sites: &[(&str, &[(i64, Ran)])]) {
    let backups = &shared_clinic().backups;
    let mut text = format!(
        "name = \"Northwind Clinic IT\"\nhistory = \"{}\"\n\n[[engine]]\nname = \"local\"\nhost = \"unix:///var/run/docker.sock\"\nsandboxes = 2\nmemory_gb = 8\n",
        history.display()
    );
    for (site, _) in sites {
        text.push_str(&format!(
            "\n[[site]]\nname = \"{site}\"\nscenario = \"{}\"\nbackups = \"{}\"\n",
            scenario(),
            backups.display()
        ));
        if *site == SITES[0].0 {
            text.push_str(&format!("[site.clinic]\nemail = \"{EMAIL}\"\n"));
        }
    }
    std::fs::write(file, text).unwrap();
}

/// `fleet status FILE`, on the fleet's history unless `extra` names
/// another (the tests' own RESTORE_DRILL_HISTORY would win over the file's).
fn status(file: &Path, extra: &[&str]) -> (i32, String, String) {
    let history = fleet().history.to_str().unwrap();
    let mut args = vec!["fleet", "status", file.to_str().unwrap()];
    if !extra.contains(&"--history") {
        args.extend(["--history", history]);
    }
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn status_lists_every_site_worst_first_and_exits_1_for_a_stale_site() {
    let f = fleet();
    let (code, text, err) = status(&f.file, &[]);
    assert_eq!(code, 1, "{text}\n{err}");
    let lines: Vec<&str> = text.lines().collect();
    let want = [
        ("NEVER PASSED", "Harbor Optometry"),
        ("OVERDUE", "Lakeside Vision Center"),
        ("FAILING", "Pine Street Eye Clinic"),
        ("current", "Oak Park Eye Associates"),
        ("current", "Riverside Family Optome…"),
        ("current", "Main Street Eye Care"),
    ];
    for (line, (word, site)) in lines[1..].iter().zip(want) {
        let start = format!("{word:<12} {site} ");
        assert!(line.starts_with(&start), "{start}:\n{text}");
    }
    assert!(lines[3].contains("missed RTO/RPO 20"), "{text}");
    assert!(
        lines[1].contains("unknown unknown unrecoverable 20"),
        "{text}"
    );
    assert!(
        text.contains("6 sites: 2 stale (never passed or overdue), 1 failing, 3 current"),
        "{text}"
    );
    assert!(
        text.contains("not in the fleet file: Old Town Optics (1 record"),
        "{text}"
    );
    assert!(
        text.contains("10 records, chain intact, head #10 "),
        "{text}"
    );
    assert!(
        lines[..7].iter().all(|l| l.chars().count() <= 100),
        "{text}"
    );
}

#[test]
fn status_json_carries_each_site_typed() {
    let f = fleet();
    let (code, out, err) = run(&[
        "--json",
        "fleet",
        "status",
        f.file.to_str().unwrap(),
        "--history",
        f.history.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sites = v["sites"].as_array().unwrap();
    let by = |name: &str| sites.iter().find(|s| s["site"] == name).unwrap();
    assert_eq!(by("Harbor Optometry")["standing"], "never-passed");
    assert_eq!(
        by("Harbor Optometry")["last_failure"]["outcome"],
        "unrecoverable"
    );
    assert_eq!(by("Lakeside Vision Center")["standing"], "overdue");
    let pine = by("Pine Street Eye Clinic");
    assert_eq!(pine["last_drill"]["outcome"], "missed-objective");
    // The site's RTO and RPO are its last passing drill's, 20 days ago.
    assert_eq!(pine["rpo"]["judged"], "met");
    assert!(pine["rto"]["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(v["unlisted"][0]["site"], "Old Town Optics");
    assert_eq!(v["head"]["id"], 10);
}

#[test]
fn a_fleet_whose_sites_all_are_current_exits_0() {
    let f = fleet();
    let file = f.dir.join("current-only.toml");
    let current: Vec<_> = SITES
        .iter()
        .copied()
        .filter(|(s, _)| s.starts_with("Oak") || s.starts_with("Riverside"))
        .collect();
    write_fleet(&file, &f.history, &current);
    let (code, text, err) = status(&file, &[]);
    assert_eq!(code, 0, "{text}\n{err}");
    assert!(text.contains("2 sites: 0 stale"), "{text}");
}

#[test]
fn a_missing_history_is_every_site_never_drilled() {
    let tmp = tempdir();
    let none = tmp.path().join("none.sqlite");
    let (code, text, err) = status(&fleet().file, &["--history", none.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert_eq!(text.matches("NEVER PASSED").count(), IN_FLEET, "{text}");
    assert!(
        text.contains("none yet, so no site has been drilled"),
        "{text}"
    );
    assert!(!none.exists(), "status created the history");
}

#[test]
fn a_tampered_history_is_refused_as_evidence_refuses_it() {
    let tmp = tempdir();
    let db = tmp.path().join("history.sqlite");
    sqlite(&fleet().history, &format!(".backup '{}'", db.display()));
    sqlite(
        &db,
        "DROP TRIGGER drills_no_update; UPDATE drills SET site = 'Elsewhere' WHERE id = 4;",
    );
    let (code, text, err) = status(&fleet().file, &["--history", db.to_str().unwrap()]);
    let (pack_code, _, pack_err) = run(&[
        "evidence",
        "--history",
        db.to_str().unwrap(),
        "--site",
        SITES[0].0,
        "--out",
        tmp.path().join("pack").to_str().unwrap(),
    ]);
    assert_eq!((code, pack_code), (1, 1), "{text}\n{err}");
    assert!(err.contains("has been tampered with"), "{err}");
    assert_eq!(err, pack_err);
}

fn sqlite(db: &Path, sql: &str) {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `data-site` of each row, in the order the DOM holds them.
fn row_order(dom: &str) -> Vec<String> {
    dom.split("data-site=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_page_renders_without_a_network_request_and_sorts_by_a_column() {
    let f = fleet();
    let tmp = tempdir();
    let page = tmp.path().join("status.html");
    let (code, text, err) = status(&f.file, &["--html", page.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}\n{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    for banned in [
        "http://", "https://", "url(", "@import", "<link", "<img", "src=",
    ] {
        assert!(!html.contains(banned), "{banned} in the page");
    }
    assert!(html.contains("default-src 'none'"), "no CSP");
    let shot = tmp.path().join("status.png");
    let requests = render_through_proxy(&page, &shot, tmp.path());
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    assert!(
        requests.iter().all(|r| chromium_own(r)),
        "requests: {requests:?}"
    );

    let dom = |fragment: &str| {
        let url = format!("file://{}{fragment}", page.display());
        chromium_through_proxy(&url, &["--dump-dom".to_string()], tmp.path()).1
    };
    let initial = row_order(&dom(""));
    assert_eq!(initial[0], "Harbor Optometry", "{initial:?}");
    assert_eq!(initial[1], "Lakeside Vision Center", "{initial:?}");
    // The script runs under the page's policy: `#sort=site` sorts on opening.
    let sorted = dom("#sort=site");
    let mut names = initial.clone();
    names.sort();
    assert_eq!(row_order(&sorted), names);
    assert!(
        sorted.contains("data-key=\"site\" data-type=\"text\" aria-sort=\"ascending\""),
        "{sorted}"
    );
    let by_records = row_order(&dom("#sort=records-desc"));
    assert_eq!(
        by_records[..3],
        [
            "Harbor Optometry",
            "Pine Street Eye Clinic",
            "Main Street Eye Care"
        ]
    );
}

/// `evidence --fleet` signed with a new key into `dir/summary`: (the
/// folder, the public key, the summary's JSON and HTML).
fn signed_summary(dir: &Path) -> (PathBuf, String, String, String) {
    let f = fleet();
    let key = dir.join("provider.key");
    let (code, _, err) = run(&["keys", "generate-signing", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let out = dir.join("summary");
    let (code, text, err) = run(&[
        "evidence",
        "--fleet",
        f.file.to_str().unwrap(),
        "--history",
        f.history.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--signing-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert!(err.contains("3 sites of 6 stale or failing"), "{err}");
    let file = |ext: &str| {
        let name = files_in(&out)
            .into_iter()
            .find(|n| n.starts_with("evidence-fleet-northwind-clinic-it-") && n.ends_with(ext))
            .unwrap();
        std::fs::read_to_string(out.join(name)).unwrap()
    };
    let (json, html) = (file(".json"), file(".html"));
    (out, format!("{}.pub", key.display()), json, html)
}

#[test]
fn the_providers_summary_names_each_site_and_its_status_only() {
    let f = fleet();
    let tmp = tempdir();
    let (_, _, json, html) = signed_summary(tmp.path());
    let backup = Path::new(&f.passed.backup.as_ref().unwrap().path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let leaks = [
        EMAIL,
        &backup,
        "monthly-drill.toml",
        "monthly restore drill",
    ];
    for text in [&json, &html] {
        for (site, _) in &SITES[..IN_FLEET] {
            assert!(text.contains(site), "{site}");
        }
        for leak in leaks {
            assert!(!text.contains(leak), "{leak} in the provider's summary");
        }
    }
    // The details are in the history: a clinic's own pack shows them.
    let pack = tmp.path().join("pack");
    let (code, _, err) = run(&[
        "evidence",
        "--history",
        f.history.to_str().unwrap(),
        "--site",
        SITES[0].0,
        "--out",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let clinic = files_in(&pack)
        .into_iter()
        .find(|n| n.ends_with(".html"))
        .unwrap();
    let clinic = std::fs::read_to_string(pack.join(clinic)).unwrap();
    assert!(clinic.contains(EMAIL) && clinic.contains(&backup));
}

#[test]
fn the_providers_summary_is_signed_and_anchored_as_a_pack_is() {
    let tmp = tempdir();
    let (out, public, _, _) = signed_summary(tmp.path());
    let dir = out.to_str().unwrap();
    let (code, said, err) = run(&["evidence", "verify", dir, "--public-key", &public]);
    assert_eq!(code, 0, "{said}\n{err}");
    let summary_json = files_in(&out)
        .into_iter()
        .find(|n| n.ends_with(".json") && !n.ends_with(".manifest.json"))
        .unwrap();
    let (code, said, err) = run(&[
        "history",
        "--history",
        fleet().history.to_str().unwrap(),
        "verify",
        "--against",
        out.join(summary_json).to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert_eq!(code, 0, "{said}\n{err}");
    assert!(said.contains("nothing it recorded was cut off"), "{said}");
}
