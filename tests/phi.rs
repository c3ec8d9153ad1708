#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! No patient data in any text that leaves the process. Database errors quote
//! the values they choke on (`invalid input syntax for type bigint: "…"`,
//! `Key (health_card_number)=(…)`, `Failing row contains (…)`); a drill's
//! report, its logs, its stdout and its stderr go to insurers, cron mail and
//! CI logs, so none of those values may reach them. Each test provokes one
//! kind of error over real fixture values, through the real CLI, and searches
//! every text the run produced for every patient value of the fixture.

mod common;

use common::*;
use restore_drill::checks::{CheckResult, Status};
use restore_drill::report::{AttemptOutcome, Report, Verdict};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---- the fixture's patient values ----

/// One row of `patients`, as pg_dump wrote it.
#[derive(Clone, Debug)]
struct Patient {
    id: i64,
    first_name: String,
    last_name: String,
    date_of_birth: String,
    sex: String,
    address_line: String,
    city: String,
    postal_code: String,
    phone: Option<String>,
    email: Option<String>,
    health_card_number: String,
}

#[derive(Clone, Copy)]
enum Match {
    /// Anywhere in the text.
    Substring,
    /// Between non-letters: a last name inside a longer word is not that name.
    Word,
    /// Between non-digits: a phone's digits inside a longer number are not it.
    Number,
}

struct Kind {
    name: &'static str,
    how: Match,
    values: Vec<String>,
}

/// Every patient value of the fixture, by kind.
struct Values {
    kinds: Vec<Kind>,
}

/// The patients of the shared clinic, read with the real CLIs from its backup
/// (decoded by `age -d | zstd -dc` when the clinic was made: pg_restore stops
/// reading a pipe once it has the one table, which would break the pipe).
fn patients() -> &'static [Patient] {
    static PATIENTS: OnceLock<Vec<Patient>> = OnceLock::new();
    PATIENTS.get_or_init(|| {
        let out = std::process::Command::new("pg_restore")
            .args(["--data-only", "--table=patients", "-f", "-"])
            .arg(&shared_clinic().custom)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "reading the patients failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        parse_patients_copy(&String::from_utf8(out.stdout).unwrap())
    })
}

/// Reads the `COPY public.patients (...) FROM stdin;` block, by column name.
fn parse_patients_copy(sql: &str) -> Vec<Patient> {
    let mut lines = sql.lines();
    let header = lines
        .find(|l| l.starts_with("COPY public.patients "))
        .expect("a COPY block for patients");
    let columns: Vec<&str> = header[header.find('(').unwrap() + 1..header.find(')').unwrap()]
        .split(", ")
        .collect();
    let mut out = Vec::new();
    for line in lines.take_while(|l| *l != "\\.") {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), columns.len(), "{line}");
        let get = |name: &str| -> Option<String> {
            let i = columns.iter().position(|c| *c == name).unwrap();
            // No value of the generator needs COPY's backslash escapes.
            (fields[i] != "\\N").then(|| fields[i].to_string())
        };
        out.push(Patient {
            id: get("id").unwrap().parse().unwrap(),
            first_name: get("first_name").unwrap(),
            last_name: get("last_name").unwrap(),
            date_of_birth: get("date_of_birth").unwrap(),
            sex: get("sex").unwrap(),
            address_line: get("address_line").unwrap(),
            city: get("city").unwrap(),
            postal_code: get("postal_code").unwrap(),
            phone: get("phone"),
            email: get("email"),
            health_card_number: get("health_card_number").unwrap(),
        });
    }
    out
}

fn values() -> &'static Values {
    static VALUES: OnceLock<Values> = OnceLock::new();
    VALUES.get_or_init(|| {
        let p = patients();
        let dedup = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v
        };
        let kinds = vec![
            Kind {
                name: "full name",
                how: Match::Substring,
                values: dedup(
                    p.iter()
                        .map(|p| format!("{} {}", p.first_name, p.last_name))
                        .collect(),
                ),
            },
            Kind {
                // Shorter ones (Roy, Kaur) are words of ordinary text too.
                name: "last name",
                how: Match::Word,
                values: dedup(
                    p.iter()
                        .filter(|p| p.last_name.chars().count() >= 6)
                        .map(|p| p.last_name.clone())
                        .collect(),
                ),
            },
            Kind {
                name: "health card number",
                how: Match::Substring,
                values: dedup(p.iter().map(|p| p.health_card_number.clone()).collect()),
            },
            Kind {
                name: "phone",
                how: Match::Substring,
                values: dedup(p.iter().filter_map(|p| p.phone.clone()).collect()),
            },
            Kind {
                // What a cast to a number quotes: "6135550123" is out of range.
                name: "phone number as digits",
                how: Match::Number,
                values: dedup(
                    p.iter()
                        .filter_map(|p| p.phone.as_ref())
                        .map(|ph| ph.chars().filter(char::is_ascii_digit).collect())
                        .collect(),
                ),
            },
            Kind {
                name: "email",
                how: Match::Substring,
                values: dedup(p.iter().filter_map(|p| p.email.clone()).collect()),
            },
            Kind {
                name: "address line",
                how: Match::Substring,
                values: dedup(p.iter().map(|p| p.address_line.clone()).collect()),
            },
        ];
        // The search can't pass by searching for nothing.
        assert!(p.len() >= SHARED_PATIENTS as usize, "{} patients", p.len());
        for k in &kinds {
            assert!(
                k.values.len() >= 20,
                "{}: {} values",
                k.name,
                k.values.len()
            );
            assert!(k.values.iter().all(|v| v.len() >= 6), "{}", k.name);
        }
        Values { kinds }
    })
}

fn found_at(text: &str, value: &str, how: Match) -> Option<usize> {
    let fits = |c: Option<char>| match how {
        Match::Substring => true,
        Match::Word => !c.is_some_and(char::is_alphanumeric),
        Match::Number => !c.is_some_and(|c| c.is_ascii_digit()),
    };
    text.match_indices(value).map(|(i, _)| i).find(|&i| {
        fits(text[..i].chars().next_back()) && fits(text[i + value.len()..].chars().next())
    })
}

/// Fails naming the kind of value and where it was, with a little of the text
/// around it; never prints the list of values searched for.
fn assert_no_phi(texts: &[(&str, String)], values: &Values) {
    let mut found = Vec::new();
    for (place, text) in texts {
        for kind in &values.kinds {
            if let Some((value, at)) = kind
                .values
                .iter()
                .find_map(|v| found_at(text, v, kind.how).map(|at| (v, at)))
            {
                let mut from = at.saturating_sub(60);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + value.len() + 60).min(text.len());
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                found.push(format!(
                    "{} found in {place} at byte {at}: …{}…",
                    kind.name,
                    &text[from..to]
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "patient data left the process:\n{}",
        found.join("\n")
    );
}

// ---- running drills ----

struct Drill {
    code: i32,
    report: Report,
    /// stdout, stderr, and every file the run wrote in its report folder.
    texts: Vec<(String, String)>,
}

impl Drill {
    fn assert_no_phi(&self) {
        let texts: Vec<(&str, String)> = self
            .texts
            .iter()
            .map(|(place, text)| (place.as_str(), text.clone()))
            .collect();
        assert_no_phi(&texts, values());
    }

    fn check(&self, name: &str) -> &CheckResult {
        self.report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {}", self.report.to_json()))
    }

    fn reason(&self) -> String {
        self.report
            .attempts
            .first()
            .and_then(|a| a.reason.as_ref())
            .map(|r| r.as_str().to_string())
            .unwrap_or_default()
    }
}

/// `restore-drill run` in human mode (the summary on stdout is a rendering of
/// its own); the JSON report is read from the file it wrote.
fn drill(scenario: &str, backups: &Path) -> Drill {
    let tmp = tempdir();
    let file = tmp.path().join("phi.toml");
    std::fs::write(&file, scenario).unwrap();
    drill_file(&file, backups, &tmp)
}

fn drill_file(scenario: &Path, backups: &Path, tmp: &tempfile::TempDir) -> Drill {
    let reports = tmp.path().join("reports");
    let (code, out, err) = run_tracked(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--backups".as_ref(),
        backups.as_os_str(),
        "--identity".as_ref(),
        shared_clinic().key.path.as_os_str(),
        "--report-dir".as_ref(),
        reports.as_os_str(),
    ]);
    let mut texts = vec![("stdout".to_string(), out), ("stderr".to_string(), err)];
    let mut report = None;
    for name in files_in(&reports) {
        let text = std::fs::read_to_string(reports.join(&name)).unwrap();
        if name.ends_with(".json") {
            report = Some(report_of(&text));
        }
        texts.push((format!("report folder file {name}"), text));
    }
    let report = report.unwrap_or_else(|| panic!("no report written: {texts:?}"));
    Drill {
        code,
        report,
        texts,
    }
}

/// A scenario restoring the shared clinic (with its manifest) and running one
/// custom check.
fn custom_check(name: &str, query: &str, expect: &str) -> String {
    format!(
        "name = \"patient data stays in\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\
         [checks]\nmanifest = \"required\"\n\n[[checks.sql]]\nname = \"{name}\"\n\
         query = '''{query}'''\nexpect = {expect}\n"
    )
}

/// Hand-made backups have no manifest.
const HAND_MADE: &str = "name = \"hand-made backup\"\n[backups]\n[target]\n\
    image = \"restore-drill/postgres:15\"\n[checks]\nmanifest = \"if-present\"\n";

/// A custom check that errors is a broken scenario (exit 2); its detail holds
/// `phrase` and no patient value.
fn assert_custom_check_error(d: &Drill, name: &str, phrase: &str) {
    let c = d.check(&format!("sql: {name}"));
    assert_eq!(d.code, 2, "{}", d.report.to_json());
    assert_eq!(c.status, Status::Error, "{c:?}");
    let detail = c.detail.as_str();
    assert!(detail.contains(phrase), "{detail}");
    d.assert_no_phi();
}

// ---- custom checks whose errors quote a value ----

#[test]
fn a_check_casting_a_health_card_to_a_number_names_no_card() {
    let d = drill(
        &custom_check(
            "card as number",
            "SELECT health_card_number::bigint FROM patients ORDER BY id LIMIT 1",
            "{ at_least = 0 }",
        ),
        &shared_clinic().backups,
    );
    assert_custom_check_error(
        &d,
        "card as number",
        "invalid_text_representation (SQLSTATE 22P02)",
    );
}

#[test]
fn a_check_overflowing_on_a_phone_number_names_no_phone() {
    let d = drill(
        &custom_check(
            "phone as number",
            "SELECT regexp_replace(phone, '[^0-9]', '', 'g')::int FROM patients \
             WHERE phone IS NOT NULL ORDER BY id LIMIT 1",
            "{ at_least = 0 }",
        ),
        &shared_clinic().backups,
    );
    assert_custom_check_error(
        &d,
        "phone as number",
        "numeric_value_out_of_range (SQLSTATE 22003)",
    );
}

#[test]
fn a_check_dividing_by_zero_is_an_error_naming_no_patient() {
    let d = drill(
        &custom_check(
            "ratio",
            "SELECT count(*) / (count(*) - count(*)) FROM patients",
            "{ at_least = 0 }",
        ),
        &shared_clinic().backups,
    );
    assert_custom_check_error(&d, "ratio", "division_by_zero (SQLSTATE 22012)");
}

/// A custom check that turns read-only off and deletes: it fails, the data is
/// intact (the manifest's row counts and fingerprints still match), and its
/// message names nothing from the data.
#[test]
fn a_writing_custom_check_fails_naming_no_patient() {
    let d = drill(
        &custom_check(
            "sneaky delete",
            "SET default_transaction_read_only = off; SET transaction_read_only = off; \
             DELETE FROM payments; SELECT count(*) FROM payments",
            "{ at_least = 0 }",
        ),
        &shared_clinic().backups,
    );
    let c = d.check("sql: sneaky delete");
    assert_eq!(c.status, Status::Error, "{c:?}");
    let detail = c.detail.as_str().to_lowercase();
    assert!(
        detail.contains("insufficient_privilege")
            || detail.contains("read_only_sql_transaction")
            || detail.contains("cannot write"),
        "{detail}"
    );
    let m = d.check("manifest comparison");
    assert_eq!(m.status, Status::Passed, "{m:?}");
    assert_eq!(d.code, 2, "{}", d.report.to_json());
    d.assert_no_phi();
}

// ---- restores refused by the database, over real values ----

/// A patient with every optional value and a last name long enough to be
/// searched for as a word, so whatever an error quotes of it is caught.
fn victim(nth: usize) -> &'static Patient {
    patients()
        .iter()
        .filter(|p| p.phone.is_some() && p.email.is_some() && p.last_name.len() >= 6)
        .nth(nth)
        .unwrap()
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The drill on a backup the database refuses, then `restore FILE` on the
/// same backup (its error goes to stderr): no patient value anywhere in what
/// either wrote, both unrecoverable (exit 4), and the drill's reason and the
/// restore's error carry the database's `phrase`. Both run before anything is
/// asserted, so a leak is reported in every place it reached.
fn assert_refused_without_phi(backups: &Path, file: &Path, phrase: &str) {
    let tmp = tempdir();
    let scenario = tmp.path().join("hand-made.toml");
    std::fs::write(&scenario, HAND_MADE).unwrap();
    let mut d = drill_file(&scenario, backups, &tmp);
    let (code, out, err) = run_tracked(&[
        "restore".as_ref(),
        file.as_os_str(),
        "--identity".as_ref(),
        shared_clinic().key.path.as_os_str(),
    ]);
    d.texts.push(("restore's stdout".into(), out.clone()));
    d.texts.push(("restore's stderr".into(), err.clone()));
    d.assert_no_phi();

    assert_eq!(d.code, 4, "{}", d.report.to_json());
    assert_eq!(d.report.verdict, Verdict::Unrecoverable);
    assert_eq!(d.report.attempts[0].outcome, AttemptOutcome::Unusable);
    let reason = d.reason();
    assert!(reason.contains(phrase), "{reason}");
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(err.contains(phrase), "{err}");
}

/// The fixture's plain SQL with `sql` added before its end, through zstd and
/// age: the restore is refused with `phrase`, and no patient value shows.
fn refused_plain_sql(sql: &str, phrase: &str) {
    let tmp = tempdir();
    let (backups, file) = hand_made_backup(
        &plain_with_statements(sql),
        "clinic-20261101T020000Z.sql.zst.age",
        tmp.path(),
    );
    assert_refused_without_phi(&backups, &file, phrase);
}

#[test]
fn a_restore_failing_on_a_duplicate_health_card_names_no_card() {
    let p = victim(0);
    let sql = format!(
        "INSERT INTO public.patients (first_name, last_name, date_of_birth, sex, address_line, \
         city, postal_code, phone, email, health_card_number, created_at, updated_at) \
         VALUES ('Test', 'Duplicate', '1980-01-01', 'F', '1 Test Road', 'Testville', 'K1A 0B1', \
         NULL, NULL, {}, now(), now());",
        lit(&p.health_card_number)
    );
    refused_plain_sql(&sql, "unique_violation (SQLSTATE 23505)");
}

/// A surname with an apostrophe into a unique key (`Key (name)=(O'Brien-
/// Hartley)`): the apostrophe once ended a pattern redactor's match early and
/// left `'Brien-Hartley'`.
#[test]
fn a_restore_failing_on_a_surname_with_an_apostrophe_names_no_part_of_it() {
    let sql = "CREATE TABLE public.surnames (name text PRIMARY KEY);\n\
               INSERT INTO public.surnames SELECT last_name FROM public.patients WHERE id = 1;\n\
               INSERT INTO public.surnames SELECT last_name FROM public.patients WHERE id = 1;";
    refused_plain_sql(sql, "unique_violation (SQLSTATE 23505)");
}

/// A full name with double quotes into an integer column (`invalid input
/// syntax for type integer: "Robert "Bob" Smith"`): the inner quote once left
/// `Bob" Smith`.
#[test]
fn a_restore_failing_on_a_name_with_double_quotes_names_no_part_of_it() {
    let sql = "CREATE TABLE public.numbers (n integer);\n\
               INSERT INTO public.numbers SELECT (first_name || ' ' || last_name)::int \
               FROM public.patients WHERE id = 2;";
    refused_plain_sql(sql, "invalid_text_representation (SQLSTATE 22P02)");
}

#[test]
fn a_restore_failing_on_a_check_constraint_names_nothing_of_the_row() {
    // A real patient's row with an email the CHECK refuses: PostgreSQL's
    // "Failing row contains (…)" quotes the whole row.
    let p = victim(1);
    let sql = format!(
        "INSERT INTO public.patients (first_name, last_name, date_of_birth, sex, address_line, \
         city, postal_code, phone, email, health_card_number, created_at, updated_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, 'no-at-sign', {}, now(), now());",
        lit(&p.first_name),
        lit(&p.last_name),
        lit(&p.date_of_birth),
        lit(&p.sex),
        lit(&p.address_line),
        lit(&p.city),
        lit(&p.postal_code),
        lit(p.phone.as_deref().unwrap()),
        lit(&p.health_card_number),
    );
    refused_plain_sql(&sql, "check_violation (SQLSTATE 23514)");
}

#[test]
fn a_restore_failing_on_a_foreign_key_names_no_card() {
    // The referencing row holds a real card number; the key it points to is a
    // new, empty table, so "Key (card)=(…) is not present" quotes that number.
    let p = victim(2);
    let sql = format!(
        "CREATE TABLE public.card_registry (card text PRIMARY KEY);\n\
         CREATE TABLE public.card_notes (card text REFERENCES public.card_registry (card));\n\
         INSERT INTO public.card_notes VALUES ({});",
        lit(&p.health_card_number)
    );
    refused_plain_sql(&sql, "foreign_key_violation (SQLSTATE 23503)");
}

/// 0xFF in the middle of a real last name, inside the patients COPY block.
/// PostgreSQL 15 quotes no value for this one (`CONTEXT: COPY patients, line
/// N`: the line could not be decoded, so it is not shown); the test holds the
/// product to that, whatever context it adds of its own.
#[test]
fn a_restore_failing_on_an_invalid_byte_in_a_name_names_no_patient() {
    let p = victim(3);
    let mut dump = std::fs::read(&shared_clinic().plain).unwrap();
    let header = b"COPY public.patients ";
    let block = dump
        .windows(header.len())
        .position(|w| w == header)
        .expect("the patients COPY block");
    let row = format!("\n{}\t{}\t{}\t", p.id, p.first_name, p.last_name);
    let at = block
        + dump[block..]
            .windows(row.len())
            .position(|w| w == row.as_bytes())
            .expect("the patient's row");
    let middle = at + row.len() - 1 - p.last_name.len() / 2;
    dump.insert(middle, 0xFF);
    let tmp = tempdir();
    let (backups, file) =
        hand_made_backup(&dump, "clinic-20261101T020000Z.sql.zst.age", tmp.path());
    assert_refused_without_phi(
        &backups,
        &file,
        "character_not_in_repertoire (SQLSTATE 22021)",
    );
}

/// A custom-format dump pg_restore cannot load: the source's CHECK holds on
/// the source but not while pg_restore (application_name = pg_restore) copies
/// the rows, so COPY fails with "Failing row contains (…)" of real values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_restore_failing_on_a_check_constraint_names_nothing_of_the_row() {
    let source = Source::start(PG15).await;
    let mut conn =
        restore_drill::engine::postgres::connect(&source.url(), std::time::Duration::from_secs(10))
            .await
            .unwrap();
    let rows: Vec<String> = patients()
        .iter()
        .take(50)
        .map(|p| {
            format!(
                "({}, {}, {}, {}, {}, {}, {})",
                p.id,
                lit(&p.first_name),
                lit(&p.last_name),
                lit(&p.address_line),
                p.phone.as_deref().map_or("NULL".into(), lit),
                p.email.as_deref().map_or("NULL".into(), lit),
                lit(&p.health_card_number)
            )
        })
        .collect();
    sqlx::Executor::execute(
        &mut conn,
        format!(
            "CREATE TABLE public.patients (id bigint PRIMARY KEY, first_name text, last_name text, \
             address_line text, phone text, email text, health_card_number text, \
             CONSTRAINT not_while_restoring CHECK (current_setting('application_name') <> 'pg_restore')); \
             INSERT INTO public.patients VALUES {};",
            rows.join(", ")
        )
        .as_str(),
    )
    .await
    .unwrap();
    drop(conn);
    let tmp = tempdir();
    let backups = tmp.path().join("b");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join("clinic-20261101T020000Z.dump.zst.age");
    shell(
        "pg_dump -Fc \"$1\" | zstd -q | age -r \"$2\" > \"$3\"",
        &[
            source.url().as_ref(),
            shared_clinic().key.public.as_ref(),
            file.as_os_str(),
        ],
    );
    source.remove().await;
    tokio::task::spawn_blocking(move || {
        assert_refused_without_phi(&backups, &file, "check_violation (SQLSTATE 23514)");
        drop(tmp);
    })
    .await
    .unwrap();
}

// ---- a drill that passes ----

#[test]
fn the_monthly_drill_passes_and_reports_no_patient_data() {
    let tmp = tempdir();
    let scenario = PathBuf::from(format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let d = drill_file(&scenario, &shared_clinic().backups, &tmp);
    assert_eq!(d.code, 0, "{}", d.report.to_json());
    assert_eq!(d.report.verdict, Verdict::Passed);
    d.assert_no_phi();
}

/// The search itself: it finds what it looks for, in the place it says, and
/// not a name inside a longer word.
#[test]
fn the_search_finds_every_kind_of_value_and_only_whole_names() {
    let v = values();
    for kind in &v.kinds {
        let value = &kind.values[0];
        let text = format!("before {value} after");
        let result = std::panic::catch_unwind(|| {
            assert_no_phi(&[("a test text", text.clone())], v);
        });
        let message = *result
            .expect_err("the value must be found")
            .downcast::<String>()
            .unwrap();
        assert!(
            message.contains(&format!("{} found in a test text", kind.name)),
            "{message}"
        );
    }
    let last = &v
        .kinds
        .iter()
        .find(|k| k.name == "last name")
        .unwrap()
        .values[0];
    assert_no_phi(&[("a longer word", format!("x{last}y"))], v);
}
