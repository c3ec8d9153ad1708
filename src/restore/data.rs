//! Where the restored database lives and how big it may grow, decided before
//! the sandbox starts (pure functions). In memory when it fits: the data
//! directory on a size-limited tmpfs inside the sandbox, so no patient row
//! reaches the Docker host's disk, and the tmpfs's size is the bound. Else on
//! the host's disk (the container's writable layer, removed at teardown), which
//! the report says, bounded by watching the data directory's size. Past the
//! bound a restore is `restored-too-large`: a few bytes of zstd can expand to
//! gigabytes.

use crate::engine::EngineKind;

pub use crate::report::facts::DataPlace;

/// Restored bytes one byte of dump may become by default: tables plus their
/// indexes come to about twice a pg_dump's text; four times leaves room.
pub const DUMP_FACTOR: u64 = 4;

/// Without the dump's size, from the backup file's: zstd shrinks a SQL dump 5
/// to 15 times, so 100 times the file covers a real backup with room, and a
/// decompression bomb (thousands of times) is far past it.
pub const FILE_FACTOR: u64 = 100;

/// An empty server's data directory with room to start (the engine's own
/// measure).
fn empty_server_bytes(engine: EngineKind) -> u64 {
    engine.empty_server_bytes()
}

/// The most restored data the backup may become: the scenario's
/// `max_restored_gb`, else an empty server plus what the dump may become.
pub fn bound(
    engine: EngineKind,
    max_restored: Option<u64>,
    dump_bytes: Option<u64>,
    file_bytes: u64,
) -> u64 {
    max_restored.unwrap_or_else(|| {
        let grown = match dump_bytes {
            Some(d) => d.saturating_mul(DUMP_FACTOR),
            None => file_bytes.saturating_mul(FILE_FACTOR),
        };
        empty_server_bytes(engine).saturating_add(grown)
    })
}

/// In memory when the bound, the database's memory and a parallel restore's
/// staging area fit in three quarters of the host's free memory (the tmpfs
/// is charged to the sandbox's memory as it fills).
pub fn place(bound: u64, sandbox_memory: u64, host_available: Option<u64>) -> DataPlace {
    let needed = sandbox_memory.saturating_add(bound);
    match host_available {
        Some(a) if needed <= a / 4 * 3 => DataPlace::Memory { bound_bytes: bound },
        a => DataPlace::Disk {
            bound_bytes: bound,
            needed,
            available: a.unwrap_or(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_follows_the_dump_else_the_file_else_the_scenario() {
        let pg = EngineKind::Postgres;
        assert_eq!(
            bound(pg, None, Some(100 << 20), 10),
            (64 << 20) + (400 << 20)
        );
        assert_eq!(bound(pg, None, None, 1 << 20), (64 << 20) + (100 << 20));
        assert_eq!(bound(pg, Some(5_000_000_000), Some(1), 1), 5_000_000_000);
        // A 156-byte bomb may become an empty server and 15.6 kB, no more.
        assert_eq!(bound(pg, None, None, 156), (64 << 20) + 15_600);
    }

    #[test]
    fn memory_when_it_fits_in_three_quarters_of_what_is_free() {
        let gib = 1u64 << 30;
        assert_eq!(
            place(gib, 2 * gib, Some(8 * gib)),
            DataPlace::Memory { bound_bytes: gib }
        );
        let disk = place(8 * gib, 2 * gib, Some(8 * gib));
        assert!(matches!(disk, DataPlace::Disk { needed, .. } if needed == 10 * gib));
        assert!(matches!(place(gib, gib, None), DataPlace::Disk { .. }));
        assert!(disk
            .describe(Some(12.0))
            .contains("on the Docker host's disk for 12 s"));
    }
}
