//! How the dump reaches the database, chosen before the sandbox starts (its
//! memory depends on it): decoded into the sandbox's memory and restored by
//! `pg_restore --jobs`, or streamed into the restore tool's stdin.

use crate::pipeline::DumpFormat;

pub use crate::report::facts::{Delivery, StreamReason};

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
