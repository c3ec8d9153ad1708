//! Whether a restore happened, from how the stream and the restore tool
//! ended: pure, over what the run showed (`ToolRun`).

use crate::pipeline::{DumpFormat, Layer};
use crate::redact::{Redacted, ToolSaid};
use crate::sandbox::{Ended, Limits, StdinError};
use crate::unusable::{Stall, Unusable};

/// How the producer (file -> layers -> chunks) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Produced {
    /// The whole dump was sent. `completed`: a plain SQL dump ended with its
    /// tool's completion line (archive formats carry their own ending).
    Complete { completed: bool },
    /// A layer's decoder failed; `at_end` when it had read all of its input.
    LayerFailed {
        layer: Layer,
        at_end: bool,
        message: String,
    },
    /// Reading the file itself failed.
    ReadFailed(String),
    /// The restore tool stopped taking input.
    ConsumerGone,
}

/// What the restore tool's run showed, reduced to what the judgement needs.
pub struct ToolRun {
    pub tool: String,
    pub ended: Ended,
    pub stdin_error: Option<StdinError>,
    pub said: ToolSaid,
}

impl ToolRun {
    /// What an exec of `tool` showed, its stderr reduced to typed parts.
    pub(super) fn of(tool: String, out: crate::sandbox::ExecOutput) -> ToolRun {
        ToolRun {
            said: ToolSaid::parse(&tool, &out.stderr_text()),
            tool,
            ended: out.ended,
            stdin_error: out.stdin_error,
        }
    }
}

/// A MariaDB dump of several databases (`--databases`, `--all-databases`)
/// restores into the databases it names, whatever database the client
/// started in: the checks would then read an empty one. Its tables must have
/// reached `wanted`; an empty restore is left to the checks to describe.
pub fn database_in_dump(wanted: &str, databases: &[(String, u64)]) -> Result<(), Unusable> {
    let found: Vec<String> = databases
        .iter()
        .filter(|(_, tables)| *tables > 0)
        .map(|(name, _)| name.clone())
        .collect();
    if found.is_empty() || found.iter().any(|f| f == wanted) {
        return Ok(());
    }
    Err(Unusable::DatabaseNotInDump {
        wanted: wanted.to_string(),
        found,
    })
}

/// Whether the restore happened, from how the stream and the tool ended. A
/// stream error wins over the tool's exit: the tool may have restored a prefix
/// and called that success, or failed only because its input ended.
pub fn judge(
    produced: &Produced,
    run: &ToolRun,
    format: DumpFormat,
    at: u64,
    limits: Limits,
) -> Result<(), Unusable> {
    match produced {
        Produced::LayerFailed {
            layer,
            at_end,
            message,
        } => return Err(Unusable::layer_failed(*layer, *at_end, message, at)),
        Produced::ReadFailed(m) => {
            return Err(Unusable::FileUnreadable {
                error: Redacted::ours(m.as_str()),
            })
        }
        Produced::Complete { completed: false } => return Err(Unusable::SqlCut { format, at }),
        Produced::Complete { .. } | Produced::ConsumerGone => {}
    }
    let stuck = |what, limit| Unusable::Stuck {
        tool: run.tool.clone(),
        what,
        limit,
        at,
    };
    if run.stdin_error == Some(StdinError::Stalled) {
        return Err(stuck(Stall::Input, limits.stall));
    }
    match run.ended {
        Ended::Abandoned if run.stdin_error.is_some() => {
            Err(stuck(Stall::ExitAfterAbort, limits.exit_after_abort))
        }
        Ended::Abandoned => Err(stuck(Stall::Finish, limits.finish)),
        Ended::Exited(0) if *produced == Produced::ConsumerGone || run.stdin_error.is_some() => {
            Err(Unusable::ToolStoppedEarly {
                tool: run.tool.clone(),
                at,
            })
        }
        Ended::Exited(0) => Ok(()),
        Ended::Exited(_) if run.said.runs_programs() => Err(Unusable::DumpRunsPrograms {
            tool: run.tool.clone(),
            line: run.said.first_refused_line(),
        }),
        Ended::Exited(_) if run.said.is_disk_full() => Err(Unusable::DiskFull {
            tool: run.tool.clone(),
            at,
            said: run.said.clone(),
        }),
        Ended::Exited(_) if run.said.accounts_view => Err(Unusable::ServerAccountsView {
            tool: run.tool.clone(),
            at,
            said: run.said.clone(),
        }),
        Ended::Exited(exit_code) => Err(Unusable::ToolFailed {
            tool: run.tool.clone(),
            exit_code,
            at,
            said: run.said.clone(),
        }),
    }
}
