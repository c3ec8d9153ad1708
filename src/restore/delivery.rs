//! How the dump reaches the database, chosen before the sandbox starts (its
//! memory depends on it): decoded into the sandbox's memory and restored by
//! `pg_restore --jobs`, or streamed into the restore tool's stdin.

use crate::pipeline::DumpFormat;
use serde::Serialize;

/// How the dump reaches the database, chosen before the sandbox starts (its
/// memory depends on it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delivery {
    /// Decoded into the sandbox's memory (`staging_bytes` of tmpfs, on top of
    /// the database's memory), then restored by `pg_restore --jobs`: tables
    /// load and indexes build `jobs` at a time.
    Parallel { jobs: u32, staging_bytes: u64 },
    /// Streamed into the restore tool's stdin: one table, then one index, at a time.
    Stream { reason: StreamReason },
}

/// Why a restore went as one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum StreamReason {
    /// psql reads a plain SQL dump in order; only archives can be split.
    PlainSql,
    /// One CPU: nothing to run side by side.
    OneCpu,
    /// The dump's size is unknown (no manifest, and it could not be decoded
    /// to count it), so its staging area could not be sized.
    SizeUnknown,
    /// The dump and the database's memory do not fit in what the host has free.
    MemoryShort { needed: u64, available: u64 },
    /// The restore-killed simulation holds the stream so that the kill lands
    /// mid-restore, which a restore from a file cannot promise.
    Simulation,
    /// The caller asked for one stream (comparisons, `restore`, simulations).
    Requested,
}

impl Delivery {
    pub fn stream() -> Delivery {
        Delivery::Stream {
            reason: StreamReason::Requested,
        }
    }

    /// The sandbox's extra memory for the staging area.
    pub fn staging_bytes(&self) -> Option<u64> {
        match self {
            Delivery::Parallel { staging_bytes, .. } => Some(*staging_bytes),
            Delivery::Stream { .. } => None,
        }
    }

    /// One line for reports and the terminal.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Parallel {
                jobs,
                staging_bytes,
            } => format!(
                "decoded into {} MiB of the sandbox's memory, then pg_restore --jobs={jobs}",
                staging_bytes.div_ceil(1 << 20)
            ),
            Delivery::Stream { reason } => format!("one stream: {}", reason.describe()),
        }
    }
}

impl StreamReason {
    fn describe(&self) -> String {
        match self {
            StreamReason::PlainSql => "a plain SQL dump is read in order by psql".into(),
            StreamReason::OneCpu => "the sandbox has one CPU".into(),
            StreamReason::SizeUnknown => {
                "the dump's size is unknown, so no staging area could be sized for it".into()
            }
            StreamReason::MemoryShort { needed, available } => format!(
                "a parallel restore needs {} MiB of memory and this machine has {} MiB free",
                needed >> 20,
                available >> 20
            ),
            StreamReason::Simulation => {
                "the restore-killed simulation holds the stream to kill the server mid-restore"
                    .into()
            }
            StreamReason::Requested => "as asked".into(),
        }
    }
}

/// Chooses how to deliver a dump (pure): in parallel when it is an archive,
/// the sandbox has CPUs to share, its size is known and the sandbox's memory
/// plus the dump fit in three quarters of the host's free memory.
pub fn plan_delivery(
    format: DumpFormat,
    dump_bytes: Option<u64>,
    cpus: f64,
    memory_bytes: u64,
    host_available: Option<u64>,
) -> Delivery {
    let stream = |reason| Delivery::Stream { reason };
    if format != DumpFormat::PostgresCustom {
        return stream(StreamReason::PlainSql);
    }
    let jobs = cpus.ceil().max(1.0) as u32;
    if jobs < 2 {
        return stream(StreamReason::OneCpu);
    }
    let Some(dump) = dump_bytes else {
        return stream(StreamReason::SizeUnknown);
    };
    // tmpfs rounds to pages; a little slack costs nothing until written.
    let staging_bytes = dump + (dump >> 8) + (4 << 20);
    let needed = memory_bytes + staging_bytes;
    match host_available {
        Some(a) if needed <= a / 4 * 3 => Delivery::Parallel {
            jobs,
            staging_bytes,
        },
        Some(available) => stream(StreamReason::MemoryShort { needed, available }),
        None => stream(StreamReason::MemoryShort {
            needed,
            available: 0,
        }),
    }
}

/// The host's free memory (MemAvailable), if it can be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
