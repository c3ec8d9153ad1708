//! How a restore is judged and planned, without a sandbox.

use super::*;
use crate::redact::ToolSaid;
use crate::sandbox::StdinError;
use crate::unusable::Stall;

fn tool(ended: Ended, stdin_error: Option<StdinError>, stderr: &str) -> ToolRun {
    ToolRun {
        tool: "pg_restore".into(),
        ended,
        stdin_error,
        said: ToolSaid::parse("pg_restore", stderr),
    }
}

const FORMAT: DumpFormat = DumpFormat::PostgresCustom;

fn dbs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

#[test]
fn a_dump_of_several_databases_must_fill_the_one_checked() {
    // `--databases opendental`: the sandbox's own database stays empty.
    let got = database_in_dump("clinic", &dbs(&[("clinic", 0), ("opendental", 12)]));
    assert_eq!(
        got,
        Err(Unusable::DatabaseNotInDump {
            wanted: "clinic".into(),
            found: vec!["opendental".into()],
        })
    );
    let why = got.map_or_else(|u| u.reason(), |()| String::new());
    assert!(why.contains("went into opendental. Name the one"), "{why}");
    // The one named, among others: restored where the checks look.
    let two = dbs(&[("billing", 3), ("opendental", 12)]);
    assert_eq!(database_in_dump("opendental", &two), Ok(()));
    // A dump with no tables at all is the checks' to describe.
    assert_eq!(database_in_dump("clinic", &dbs(&[("clinic", 0)])), Ok(()));
}

fn judged(p: Produced, run: ToolRun) -> Result<(), Unusable> {
    judge(&p, &run, FORMAT, 42, Limits::default())
}

#[test]
fn a_layer_failing_at_the_end_of_its_input_is_a_cut() {
    let p = Produced::LayerFailed {
        layer: Layer::Zstd,
        at_end: true,
        message: "incomplete frame".into(),
    };
    // pg_restore also failed, because its input ended: the cut is the cause.
    let got = judged(
        p,
        tool(
            Ended::Exited(1),
            Some(StdinError::Producer("x".into())),
            "unexpected EOF",
        ),
    );
    assert_eq!(
        got,
        Err(Unusable::StreamCut {
            layer: Layer::Zstd,
            at: 42
        })
    );
}

#[test]
fn a_layer_failing_in_the_middle_is_damage() {
    let p = Produced::LayerFailed {
        layer: Layer::Age,
        at_end: false,
        message: "decryption error".into(),
    };
    let got = judged(p, tool(Ended::Exited(0), None, ""));
    assert!(
        matches!(
            got,
            Err(Unusable::StreamDamaged {
                layer: Layer::Age,
                at: 42,
                ..
            })
        ),
        "{got:?}"
    );
}

#[test]
fn a_plain_dump_without_its_completion_line_is_cut_though_psql_exited_0() {
    let run = tool(Ended::Exited(0), None, "");
    let got = judge(
        &Produced::Complete { completed: false },
        &run,
        DumpFormat::PostgresSql,
        7,
        Limits::default(),
    );
    assert_eq!(
        got,
        Err(Unusable::SqlCut {
            format: DumpFormat::PostgresSql,
            at: 7
        })
    );
    let mut tail = Tail::default();
    tail.push(b"COPY x;\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n");
    assert!(tail.completes(DumpFormat::PostgresSql));
    let mut cut = Tail::default();
    cut.push(b"COPY x FROM stdin;\n1\tAnn\n");
    assert!(!cut.completes(DumpFormat::PostgresSql));
    assert!(
        cut.completes(DumpFormat::PostgresCustom),
        "archives end themselves"
    );
}

#[test]
fn the_tool_failing_is_named_with_its_exit_code_and_redacted_stderr() {
    let got = judged(
        Produced::ConsumerGone,
        tool(
            Ended::Exited(1),
            Some(StdinError::NotRead("gone".into())),
            "ERROR: x\nDETAIL: Key (card)=(1234) exists",
        ),
    );
    let Err(Unusable::ToolFailed {
        exit_code, said, ..
    }) = got
    else {
        panic!("{got:?}")
    };
    assert_eq!(exit_code, 1);
    assert!(!said.text().contains("1234"), "{said:?}");
}

#[test]
fn a_full_disk_is_told_apart_from_other_tool_failures() {
    let got = judged(
        Produced::ConsumerGone,
        tool(
            Ended::Exited(1),
            None,
            "ERROR: could not extend file \"base/1/2\": No space left on device",
        ),
    );
    assert!(matches!(got, Err(Unusable::DiskFull { .. })), "{got:?}");
}

#[test]
fn a_tool_that_stops_reading_or_never_ends_is_stuck() {
    let got = judged(
        Produced::ConsumerGone,
        tool(Ended::Abandoned, Some(StdinError::Stalled), ""),
    );
    assert!(
        matches!(
            got,
            Err(Unusable::Stuck {
                what: Stall::Input,
                ..
            })
        ),
        "{got:?}"
    );
    let got = judged(
        Produced::Complete { completed: true },
        tool(Ended::Abandoned, None, ""),
    );
    assert!(
        matches!(
            got,
            Err(Unusable::Stuck {
                what: Stall::Finish,
                ..
            })
        ),
        "{got:?}"
    );
}

#[test]
fn a_parallel_restore_needs_an_archive_cpus_a_known_size_and_memory() {
    const GIB: u64 = 1 << 30;
    let plan = |format, size, cpus, free| plan_delivery(format, size, cpus, 2 * GIB, free);
    let Delivery::Parallel {
        jobs,
        staging_bytes,
    } = plan(FORMAT, Some(GIB), 2.0, Some(8 * GIB))
    else {
        panic!("expected a parallel restore")
    };
    assert_eq!(jobs, 2);
    assert!(
        staging_bytes > GIB && staging_bytes < GIB + GIB / 64,
        "{staging_bytes}"
    );
    assert!(matches!(
        plan(FORMAT, Some(GIB), 2.5, Some(8 * GIB)),
        Delivery::Parallel { jobs: 3, .. }
    ));
    let why = |d: Delivery| match d {
        Delivery::Stream { reason } => reason,
        d => panic!("expected one stream, got {d:?}"),
    };
    assert_eq!(
        why(plan(DumpFormat::PostgresSql, Some(GIB), 2.0, Some(8 * GIB))),
        StreamReason::PlainSql
    );
    assert_eq!(
        why(plan(FORMAT, Some(GIB), 1.0, Some(8 * GIB))),
        StreamReason::OneCpu
    );
    assert_eq!(
        why(plan(FORMAT, None, 2.0, Some(8 * GIB))),
        StreamReason::SizeUnknown
    );
    // 2 GiB for the database plus 1 GiB of dump: more than 3/4 of 3 GiB free.
    assert!(matches!(
        why(plan(FORMAT, Some(GIB), 2.0, Some(3 * GIB))),
        StreamReason::MemoryShort { .. }
    ));
    assert!(matches!(
        why(plan(FORMAT, Some(GIB), 2.0, None)),
        StreamReason::MemoryShort { .. }
    ));
}

#[test]
fn exit_0_before_the_end_of_the_backup_is_not_a_restore() {
    let got = judged(Produced::ConsumerGone, tool(Ended::Exited(0), None, ""));
    assert!(
        matches!(got, Err(Unusable::ToolStoppedEarly { .. })),
        "{got:?}"
    );
    assert_eq!(
        judged(
            Produced::Complete { completed: true },
            tool(Ended::Exited(0), None, "")
        ),
        Ok(())
    );
}

/// Records what the stream tells.
#[derive(Default)]
struct Heard(std::sync::Mutex<Vec<Event>>);

impl crate::events::Observer for Heard {
    fn event(&self, e: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }
}

#[test]
fn the_restores_counter_is_the_dump_streamed_live_to_its_end() {
    // A backup compressed ten times over: its file counter stands at the
    // first 1 MiB read while 2.5 MiB of dump go into the restore.
    let file = Counter::default();
    let mut one_mib = CountingReader::new(&[0u8; 1 << 20][..], file.clone());
    std::io::copy(&mut one_mib, &mut std::io::sink()).expect("count");
    let heard = std::sync::Arc::new(Heard::default());
    let mut told = Told::new(file, heard.clone());
    for _ in 0..10 {
        told.sent(CHUNK);
    }
    told.shown();
    let events = heard.0.lock().expect("events");
    let shown: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { done, .. } => Some(*done),
            _ => None,
        })
        .collect();
    let mib = 1 << 20;
    assert_eq!(
        shown,
        [mib / 4, mib + mib / 4, 2 * mib + mib / 4, 10 * CHUNK as u64]
    );
    // restore-killed reads the file's position from its own event.
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::BackupRead { bytes } if *bytes == mib)));
}
