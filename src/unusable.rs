//! Why a backup could not be used: one type for every way a candidate fails,
//! from its manifest to the restore tool's last word. Each variant carries its
//! evidence; the technical text (`reason`) and the plain-words one (`finding`)
//! are methods, so rewording a message never changes what was found.

use crate::pipeline::decode::{LayerError, OpenError};
use crate::pipeline::{DumpFormat, Layer};
use crate::redact::{Redacted, ToolSaid};
use std::time::Duration;

/// Every `kind` an unusable backup can have, as `[expect] detection` and
/// scripts may name it (`Unusable::kind`).
pub const KINDS: &[&str] = &[
    "manifest-unreadable",
    "file-unreadable",
    "size-mismatch",
    "sha256-mismatch",
    "empty",
    "not-a-backup",
    "no-identity",
    "wrong-key",
    "age-header-damaged",
    "layer-unreadable",
    "too-deep",
    "stream-cut",
    "stream-damaged",
    "sql-cut",
    "wrong-engine",
    "database-not-in-dump",
    "server-accounts-view",
    "dump-runs-programs",
    "restored-too-large",
    "disk-full",
    "server-killed",
    "tool-failed",
    "tool-stopped-early",
    "stuck",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Unusable {
    /// The manifest beside the backup is there but cannot be read.
    ManifestUnreadable { error: Redacted },
    /// The file cannot be read from its location.
    FileUnreadable { error: Redacted },
    /// Size on disk differs from the manifest's (cut short or replaced).
    SizeMismatch { on_disk: u64, manifest: u64 },
    /// SHA-256 differs from the manifest's (damaged or replaced).
    ShaMismatch { on_disk: String, manifest: String },
    /// The file is empty.
    Empty,
    /// Not a backup: no layer or dump this tool knows, after `after`.
    NotABackup { after: String },
    /// Encrypted, and no identity was at hand to try.
    NoIdentity { keys: KeysAtHand },
    /// Encrypted to other recipients than the identities at hand.
    WrongKey { keys: KeysAtHand },
    /// The age header is damaged or cut.
    AgeHeaderDamaged { error: Redacted },
    /// A layer could not even be opened.
    LayerUnreadable { layer: Layer, error: Redacted },
    /// Layers nest deeper than any real backup.
    TooDeep,
    /// A layer ends before its data does: the file was cut off.
    StreamCut { layer: Layer, at: u64 },
    /// A layer's data is damaged in the middle.
    StreamDamaged {
        layer: Layer,
        at: u64,
        error: Redacted,
    },
    /// A plain SQL dump without its completion line: cut off.
    SqlCut { format: DumpFormat, at: u64 },
    /// A dump this target cannot restore (a MariaDB dump into PostgreSQL).
    WrongEngine {
        format: DumpFormat,
        target: crate::engine::EngineKind,
    },
    /// The dump restored, but not into the database the scenario checks:
    /// a dump of several databases without (or with another) `[target]
    /// database`. `found`: the databases its tables went into.
    DatabaseNotInDump { wanted: String, found: Vec<String> },
    /// A dump of the whole server (`--all-databases`) that MariaDB 10.4 and
    /// newer refuse to restore into a new server: its `mysql.user`, now a
    /// view, cannot be recreated (MDEV-22127).
    ServerAccountsView {
        tool: String,
        at: u64,
        said: ToolSaid,
    },
    /// The dump holds a command that runs a program or writes a file (psql's
    /// `\!`, `\copy ... to`, `\o`; MariaDB's `system`): pg_dump and
    /// mariadb-dump never write one, so the file was tampered with. The tool
    /// refused it (restricted mode, sandbox mode) and stopped there.
    DumpRunsPrograms { tool: String, line: Option<u64> },
    /// The restored data grew past its bound (`[target] max_restored_gb`, by
    /// default what the dump may become): a backup far larger inside than it
    /// should be, such as a decompression bomb.
    RestoredTooLarge { bound_bytes: u64 },
    /// The restore ran out of disk space.
    DiskFull {
        tool: String,
        at: u64,
        said: ToolSaid,
    },
    /// The recovery server was killed part-way (restore-killed).
    ServerKilled { at: u64, error: Redacted },
    /// The restore tool failed on the backup's contents.
    ToolFailed {
        tool: String,
        exit_code: i64,
        at: u64,
        said: ToolSaid,
    },
    /// The restore tool exited 0 before it had read the whole backup.
    ToolStoppedEarly { tool: String, at: u64 },
    /// The restore tool stopped reading, or never finished, within its limit.
    Stuck {
        tool: String,
        what: Stall,
        limit: Duration,
        at: u64,
    },
}

/// The keys a backup that would not open met: what the operator needs to
/// pick the right identity file. Public keys only, never a secret.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeysAtHand {
    /// Each identity file tried, in order: its path (or `$VAR` for a
    /// passphrase) and the public keys of the identities it holds.
    pub tried: Vec<(String, Vec<String>)>,
    /// Identity files the operator gave that a lost-key simulation took away.
    pub lost: Vec<String>,
    /// The recipients the backup's manifest lists; None without a manifest.
    pub recipients: Option<Vec<String>>,
}

impl KeysAtHand {
    /// The identity files `keys` (tried in this order), the recipients a
    /// manifest lists, and the files a simulation took away.
    pub fn new(
        keys: &[crate::keys::IdentitySource],
        recipients: Option<Vec<String>>,
        lost: Vec<String>,
    ) -> Self {
        KeysAtHand {
            tried: keys
                .iter()
                .map(|k| (k.path.display().to_string(), k.public.clone()))
                .collect(),
            lost,
            recipients,
        }
    }

    /// `wrong.key (age1abcd…wxyz)`, each file tried.
    fn tried_text(&self) -> String {
        let files: Vec<String> = self
            .tried
            .iter()
            .map(|(path, public)| match public.as_slice() {
                [] => format!("{path} (a passphrase)"),
                keys => format!("{path} ({})", abbreviated(keys)),
            })
            .collect();
        crate::keys::listing(&files)
    }

    /// ` to age1abcd…wxyz and age1efgh…ijkl (the recipients its manifest
    /// lists)`, or why they are not known.
    fn recipients_text(&self) -> String {
        match &self.recipients {
            Some(r) if !r.is_empty() => {
                format!(" to {} (the recipients its manifest lists)", abbreviated(r))
            }
            Some(_) => " (its manifest lists no recipient)".into(),
            None => " (no manifest beside it says to which recipients)".into(),
        }
    }
}

fn abbreviated(keys: &[String]) -> String {
    let short: Vec<String> = keys.iter().map(|k| crate::keys::abbreviate(k)).collect();
    crate::keys::listing(&short)
}

/// The reason for a backup that no key at hand opens: which identity files
/// were tried (or why none was), and which recipients would open it.
fn key_reason(keys: &KeysAtHand, wrong: bool) -> String {
    let to = keys.recipients_text();
    let way_out = "the identity file of one of those recipients (the file `keys generate` made, a line AGE-SECRET-KEY-1...)";
    if wrong {
        return format!(
            "none of the identity files tried opens it: tried {}; it was encrypted{to}. Pass {way_out} with --identity, such as the escrow key",
            keys.tried_text()
        );
    }
    if keys.lost.is_empty() {
        return format!(
            "it is encrypted with age{to}, but no identity file was given: pass {way_out} with --identity"
        );
    }
    format!(
        "it is encrypted with age{to}, and no identity is left to try: {} {} lost in this simulation and no other identity file was given. Pass the escrow key too (--identity ESCROW-KEYFILE), {way_out}",
        crate::keys::listing(&keys.lost),
        if keys.lost.len() == 1 { "is" } else { "are" }
    )
}

/// What a stuck restore was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The tool stopped reading its input.
    Input,
    /// The tool did not finish within the restore's time limit.
    Finish,
    /// The stream had failed and the tool did not exit after its input was closed.
    ExitAfterAbort,
}

impl From<OpenError> for Unusable {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Empty => Unusable::Empty,
            OpenError::NotABackup { after } => Unusable::NotABackup { after },
            OpenError::NoIdentity => Unusable::NoIdentity {
                keys: KeysAtHand::default(),
            },
            OpenError::WrongKey => Unusable::WrongKey {
                keys: KeysAtHand::default(),
            },
            OpenError::AgeHeader(m) => Unusable::AgeHeaderDamaged {
                error: Redacted::ours(m),
            },
            // A layer that fails while the next one is being opened is cut
            // or damaged like one that fails later in the stream.
            OpenError::Layer { layer, source } => match LayerError::find(&source) {
                Some(l) => Unusable::layer_failed(l.layer, l.at_end, &l.message, 0),
                None => Unusable::LayerUnreadable {
                    layer,
                    error: Redacted::ours(source.to_string()),
                },
            },
            OpenError::TooDeep => Unusable::TooDeep,
        }
    }
}

impl Unusable {
    /// The same, with the keys that were at hand when a key was the
    /// trouble: what lets the message name the files tried and the
    /// recipients needed. Other kinds are unchanged.
    pub fn knowing(self, at_hand: KeysAtHand) -> Unusable {
        match self {
            Unusable::NoIdentity { .. } => Unusable::NoIdentity { keys: at_hand },
            Unusable::WrongKey { .. } => Unusable::WrongKey { keys: at_hand },
            other => other,
        }
    }

    /// A layer's decoder failed after `at` plaintext bytes: a cut when it had
    /// read all of its input, damage when it had not.
    pub fn layer_failed(layer: Layer, at_end: bool, message: &str, at: u64) -> Unusable {
        if at_end {
            Unusable::StreamCut { layer, at }
        } else {
            Unusable::StreamDamaged {
                layer,
                at,
                error: Redacted::ours(message),
            }
        }
    }

    /// The technical evidence, for the report's `reason` and the terminal.
    pub fn reason(&self) -> String {
        use Unusable::*;
        match self {
            ManifestUnreadable { error } => format!("its manifest cannot be read: {error}"),
            FileUnreadable { error } => format!("it cannot be read: {error}"),
            SizeMismatch { on_disk, manifest } => format!(
                "it does not match its manifest: {on_disk} bytes on disk, {manifest} in the manifest (truncated or replaced)"
            ),
            ShaMismatch { on_disk, manifest } => format!(
                "it does not match its manifest: SHA-256 {on_disk} on disk, {manifest} in the manifest (damaged or replaced)"
            ),
            Empty => "the file is empty".into(),
            NotABackup { after } => format!(
                "it is not a backup: after {after} it holds neither a dump nor a layer this tool knows (first bytes are not age, zstd, gzip, pg_dump custom format or SQL)"
            ),
            NoIdentity { keys } => key_reason(keys, false),
            WrongKey { keys } => key_reason(keys, true),
            AgeHeaderDamaged { error } => format!("its age header is damaged or cut short: {error}"),
            LayerUnreadable { layer, error } => format!("its {layer} layer cannot be read: {error}"),
            TooDeep => "its layers nest deeper than any backup: refusing a hostile input".into(),
            StreamCut { layer, at } => format!(
                "the {layer} stream ends early at plaintext byte {at}: the file was cut off while it was being written"
            ),
            StreamDamaged { layer, at, error } => {
                format!("the {layer} stream is damaged at plaintext byte {at}: {error}")
            }
            SqlCut { format, at } => format!(
                "the {format} stream ends early at plaintext byte {at}: it lacks {}'s completion line, so the file was cut off while it was being written",
                dump_tool(*format)
            ),
            WrongEngine { format, target } => format!(
                "it is a {format} dump, which a {target} target cannot restore: restore it into a target of its own engine ([target] engine and image)"
            ),
            DatabaseNotInDump { wanted, found } => format!(
                "it restored no table into the database {wanted:?}: its tables went into {}. Name the one to check in the scenario's [target] section (`database`, a key of its own)",
                found.join(", "),
            ),
            ServerAccountsView { tool, at, said } => format!(
                "{tool} stopped after {at} bytes of dump: {}. This dump of the whole server (--all-databases, with MariaDB's own `mysql` database) does not restore into a new server as it is: MariaDB 10.4 and newer cannot recreate its view mysql.user (MDEV-22127), and the disaster-day restore would stop here too. Back up the clinic's databases by name (mariadb-dump --databases NAME, as `restore-drill backup` does) and the accounts apart (mariadb-dump --system=users)",
                said.text()
            ),
            DumpRunsPrograms { tool, line } => runs_programs_reason(tool, *line),
            RestoredTooLarge { bound_bytes } => too_large_reason(*bound_bytes),
            DiskFull { tool, at, said } => format!(
                "{tool} ran out of disk space after {at} bytes of dump: {}",
                said.text()
            ),
            ServerKilled { at, error } => format!(
                "the recovery server stopped during the restore, after {at} bytes of dump: {error}"
            ),
            ToolFailed { tool, exit_code, at, said } => format!(
                "the restore tool {tool} failed ({}) after {at} bytes of dump: {}",
                exit_words(*exit_code),
                said.text()
            ),
            ToolStoppedEarly { tool, at } => format!(
                "the restore tool {tool} exited after reading {at} bytes of dump, before the end of the backup"
            ),
            Stuck { tool, what, limit, at } => stuck_reason(tool, *what, *limit, *at),
        }
    }

    /// The same, said the way a clinic manager would say it.
    pub fn finding(&self) -> String {
        use Unusable::*;
        match self {
            ShaMismatch { .. } => "The backup file was altered or damaged after it was made: its checksum no longer matches the one recorded when it was taken.".into(),
            SizeMismatch { .. } => "The backup file is incomplete or was replaced: its size differs from when it was taken.".into(),
            ManifestUnreadable { .. } => "The record that describes this backup is damaged, so the backup cannot be trusted.".into(),
            FileUnreadable { .. } => "The backup file cannot be read where it is stored.".into(),
            Empty => "The backup file is empty: the backup job wrote nothing.".into(),
            NotABackup { .. } | TooDeep => "This file is not a usable backup: it may have been encrypted by ransomware, replaced, or it was never a backup.".into(),
            NoIdentity { .. } | WrongKey { .. } => "None of the keys at hand can unlock this backup: without the right key (or the escrow key) it is lost.".into(),
            AgeHeaderDamaged { .. } => "The backup is damaged inside: its age layer could not be opened.".into(),
            LayerUnreadable { layer, .. } => format!("The backup is damaged inside: its {layer} layer could not be opened."),
            StreamCut { layer, .. } => format!("The backup is incomplete: its {layer} layer ends early, so the file was cut off while it was being written or copied."),
            StreamDamaged { layer, .. } => format!("The backup is damaged inside: its {layer} layer could not be read to the end."),
            SqlCut { format, .. } => format!("The backup is incomplete: its {format} dump ends early, so the file was cut off while it was being written or copied."),
            WrongEngine { .. } => "This backup belongs to another kind of database than the one it was restored into.".into(),
            DatabaseNotInDump { wanted, .. } => format!("The backup holds no database named {wanted}, the one this drill checks."),
            ServerAccountsView { .. } => "This whole-server backup does not restore into a new server as it is: the restore stops at the server's own user accounts.".into(),
            DumpRunsPrograms { .. } => "The backup was tampered with: it holds commands that would run programs on the recovery server. It was refused, not restored.".into(),
            RestoredTooLarge { .. } => "The backup expands far beyond what a backup of its size restores to (it may be a decompression bomb); the restore was stopped.".into(),
            DiskFull { .. } => "The recovery server ran out of disk space while restoring.".into(),
            ServerKilled { .. } => "The recovery server stopped in the middle of the restore; the restore did not finish.".into(),
            ToolFailed { .. } => "The database refused the backup's contents part-way through the restore.".into(),
            ToolStoppedEarly { .. } => "The restore stopped before the end of the backup, so part of the data would be missing.".into(),
            Stuck { .. } => "The restore got stuck and was stopped; it did not finish.".into(),
        }
    }

    /// A stable name for the kind of failure, for scripts and for a
    /// scenario's `[expect] detection`: it does not change when a message is
    /// reworded or a tool words its error differently.
    pub fn kind(&self) -> &'static str {
        use Unusable::*;
        match self {
            ManifestUnreadable { .. } => "manifest-unreadable",
            FileUnreadable { .. } => "file-unreadable",
            SizeMismatch { .. } => "size-mismatch",
            ShaMismatch { .. } => "sha256-mismatch",
            Empty => "empty",
            NotABackup { .. } => "not-a-backup",
            NoIdentity { .. } => "no-identity",
            WrongKey { .. } => "wrong-key",
            AgeHeaderDamaged { .. } => "age-header-damaged",
            LayerUnreadable { .. } => "layer-unreadable",
            TooDeep => "too-deep",
            StreamCut { .. } => "stream-cut",
            StreamDamaged { .. } => "stream-damaged",
            SqlCut { .. } => "sql-cut",
            WrongEngine { .. } => "wrong-engine",
            DatabaseNotInDump { .. } => "database-not-in-dump",
            ServerAccountsView { .. } => "server-accounts-view",
            DumpRunsPrograms { .. } => "dump-runs-programs",
            RestoredTooLarge { .. } => "restored-too-large",
            DiskFull { .. } => "disk-full",
            ServerKilled { .. } => "server-killed",
            ToolFailed { .. } => "tool-failed",
            ToolStoppedEarly { .. } => "tool-stopped-early",
            Stuck { .. } => "stuck",
        }
    }

    /// Whether the backup itself is shown unusable (rather than the machine
    /// that restored it): a full disk says nothing about the backup.
    pub fn blames_the_machine(&self) -> bool {
        matches!(
            self,
            Unusable::DiskFull { .. } | Unusable::FileUnreadable { .. }
        )
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for Unusable {}

/// A dump that asked its tool to run a program, refused at `line`.
fn runs_programs_reason(tool: &str, line: Option<u64>) -> String {
    format!(
        "the dump asks {tool} to run a program or write a file{}: {tool} refused it and stopped, nothing of it ran. pg_dump and mariadb-dump never write such a command (psql's \\!, \\o, \\copy ... to, MariaDB's system), so the backup was tampered with or is not a dump of the clinic's database",
        line.map(|l| format!(" at line {l}")).unwrap_or_default()
    )
}

/// The restored data past its bound, with how the bound was set.
fn too_large_reason(bound_bytes: u64) -> String {
    format!(
        "the restored data passed its bound of {} MiB and the restore was stopped: a backup of this size should not restore to more (an empty server plus {}x the dump's size from its manifest, or {}x the backup file's size without one). If the clinic's data really is this big, raise [target] max_restored_gb",
        bound_bytes.div_ceil(1 << 20),
        crate::restore::data::DUMP_FACTOR,
        crate::restore::data::FILE_FACTOR
    )
}

/// A restore ended for being stuck, with the setting that bounds it.
fn stuck_reason(tool: &str, what: Stall, limit: Duration, at: u64) -> String {
    let (doing, setting) = match what {
        Stall::Input => ("stopped reading its input", "stall_timeout_seconds"),
        Stall::Finish => ("had not finished", "restore_timeout_minutes"),
        Stall::ExitAfterAbort => (
            "did not exit after the damaged stream was closed",
            "stall_timeout_seconds",
        ),
    };
    format!(
        "the restore was ended after {at} bytes of dump: {tool} {doing} for {} s. Raise [target] {setting} if the machine is just slow",
        limit.as_secs()
    )
}

/// An exit code in words: 137 is the kernel's SIGKILL, which in a sandbox
/// with a memory limit is almost always the out-of-memory killer.
fn exit_words(code: i64) -> String {
    match code {
        137 => "killed with SIGKILL, exit code 137: most likely the sandbox's memory limit \
                ([target] memory_mb)"
            .into(),
        c => format!("exit code {c}"),
    }
}

fn dump_tool(format: DumpFormat) -> &'static str {
    match format {
        DumpFormat::MysqlSql => "mariadb-dump",
        _ => "pg_dump",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_finding_names_its_layer() {
        for layer in [Layer::Age, Layer::AgeArmored, Layer::Zstd, Layer::Gzip] {
            let cut = Unusable::StreamCut { layer, at: 7 };
            assert!(cut.reason().contains(&format!(
                "the {layer} stream ends early at plaintext byte 7"
            )));
            assert!(cut
                .finding()
                .contains(&format!("its {layer} layer ends early")));
            let bad = Unusable::StreamDamaged {
                layer,
                at: 9,
                error: Redacted::ours("decryption error"),
            };
            assert!(bad.reason().contains("damaged at plaintext byte 9"));
            assert!(bad.finding().contains(&layer.to_string()));
        }
        let sql = Unusable::SqlCut {
            format: DumpFormat::PostgresSql,
            at: 3,
        };
        assert!(
            sql.reason().contains("plain SQL stream ends early"),
            "{}",
            sql.reason()
        );
        assert!(sql.reason().contains("pg_dump's completion line"));
    }

    #[test]
    fn open_errors_keep_their_meaning() {
        assert_eq!(
            Unusable::from(OpenError::WrongKey),
            Unusable::WrongKey {
                keys: KeysAtHand::default()
            }
        );
        assert!(Unusable::from(OpenError::Empty).finding().contains("empty"));
        let n = Unusable::from(OpenError::NotABackup {
            after: "age".into(),
        });
        assert!(n.reason().contains("not a backup") && n.finding().contains("ransomware"));
    }

    #[test]
    fn a_cut_met_while_opening_the_layers_is_still_a_cut() {
        let inner = LayerError {
            layer: Layer::AgeArmored,
            message: "invalid armor (last line is missing padding)".into(),
            at_end: true,
        };
        let e = OpenError::Layer {
            layer: Layer::AgeArmored,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, inner),
        };
        assert_eq!(
            Unusable::from(e),
            Unusable::StreamCut {
                layer: Layer::AgeArmored,
                at: 0
            }
        );
    }

    #[test]
    fn manifest_mismatches_say_which() {
        let s = Unusable::SizeMismatch {
            on_disk: 1,
            manifest: 2,
        };
        assert!(s.reason().contains("1 bytes on disk, 2 in the manifest"));
        assert!(s.finding().contains("incomplete"));
        let h = Unusable::ShaMismatch {
            on_disk: "a".into(),
            manifest: "b".into(),
        };
        assert!(h.reason().contains("SHA-256") && h.finding().contains("checksum"));
        assert!(!h.blames_the_machine());
        let d = Unusable::DiskFull {
            tool: "pg_restore".into(),
            at: 1,
            said: ToolSaid::default(),
        };
        assert!(d.blames_the_machine() && d.finding().contains("disk space"));
    }

    /// One of each way a backup fails before its dump is read.
    fn file_kinds() -> Vec<Unusable> {
        let r = Redacted::ours("");
        vec![
            Unusable::ManifestUnreadable { error: r.clone() },
            Unusable::FileUnreadable { error: r.clone() },
            Unusable::SizeMismatch {
                on_disk: 0,
                manifest: 0,
            },
            Unusable::ShaMismatch {
                on_disk: String::new(),
                manifest: String::new(),
            },
            Unusable::Empty,
            Unusable::NotABackup {
                after: String::new(),
            },
            Unusable::NoIdentity {
                keys: KeysAtHand::default(),
            },
            Unusable::WrongKey {
                keys: KeysAtHand::default(),
            },
            Unusable::AgeHeaderDamaged { error: r.clone() },
            Unusable::LayerUnreadable {
                layer: Layer::Age,
                error: r.clone(),
            },
            Unusable::TooDeep,
            Unusable::StreamCut {
                layer: Layer::Age,
                at: 0,
            },
            Unusable::StreamDamaged {
                layer: Layer::Age,
                at: 0,
                error: r.clone(),
            },
        ]
    }

    /// One of each way a dump fails once it reaches the engine.
    fn restore_kinds() -> Vec<Unusable> {
        let r = Redacted::ours("");
        vec![
            Unusable::SqlCut {
                format: DumpFormat::PostgresSql,
                at: 0,
            },
            Unusable::WrongEngine {
                format: DumpFormat::MysqlSql,
                target: crate::engine::EngineKind::Postgres,
            },
            Unusable::DatabaseNotInDump {
                wanted: String::new(),
                found: Vec::new(),
            },
            Unusable::ServerAccountsView {
                tool: String::new(),
                at: 0,
                said: ToolSaid::default(),
            },
            Unusable::DumpRunsPrograms {
                tool: String::new(),
                line: None,
            },
            Unusable::RestoredTooLarge { bound_bytes: 0 },
            Unusable::DiskFull {
                tool: String::new(),
                at: 0,
                said: ToolSaid::default(),
            },
            Unusable::ServerKilled {
                at: 0,
                error: r.clone(),
            },
            Unusable::ToolFailed {
                tool: String::new(),
                exit_code: 1,
                at: 0,
                said: ToolSaid::default(),
            },
            Unusable::ToolStoppedEarly {
                tool: String::new(),
                at: 0,
            },
            Unusable::Stuck {
                tool: String::new(),
                what: Stall::Input,
                limit: Duration::ZERO,
                at: 0,
            },
        ]
    }

    #[test]
    fn kinds_are_distinct() {
        let all: Vec<Unusable> = file_kinds().into_iter().chain(restore_kinds()).collect();
        let kinds: std::collections::BTreeSet<&str> = all.iter().map(|u| u.kind()).collect();
        assert_eq!(kinds.len(), all.len());
        // KINDS names every kind, and nothing else.
        assert_eq!(kinds, KINDS.iter().copied().collect());
        assert!(all
            .iter()
            .all(|u| !u.finding().is_empty() && !u.reason().is_empty()));
    }

    #[test]
    fn a_stuck_restore_names_the_setting_that_bounds_it() {
        let s = Unusable::Stuck {
            tool: "pg_restore".into(),
            what: Stall::Input,
            limit: Duration::from_secs(120),
            at: 5,
        };
        assert!(s.reason().contains("stopped reading its input for 120 s"));
        assert!(s.reason().contains("stall_timeout_seconds"));
    }
}
