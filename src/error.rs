//! The library's error type. Every variant's message says what went wrong and the
//! next step; `Error::kind` tells the CLI which exit code it maps to (the mapping
//! itself lives in `cli::exit`, the one place that knows the numbers).

use std::path::PathBuf;

/// What class of failure an error belongs to; the CLI turns this into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user asked for something invalid (bad flag value, bad URL, bad key).
    Usage,
    /// The machine is not ready: Docker, images, mmdebstrap, permissions, disk.
    Environment,
    /// No backup could be recovered.
    Unrecoverable,
    /// The work ran and failed (a database command failed, a check failed).
    Failed,
}

impl ErrorKind {
    /// As a report's `error.kind` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Environment => "environment",
            ErrorKind::Unrecoverable => "unrecoverable",
            ErrorKind::Failed => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{0}")]
    Environment(String),

    #[error("{0}")]
    Unrecoverable(String),

    #[error("{0}")]
    Failed(String),

    #[error("cannot {action} {path}: {source}. {hint}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: String,
    },

    #[error("Docker API error while {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    // The server's message can quote a value: only its typed parts show.
    #[error("database error while {action}: {}", crate::redact::Said::of_sqlx(source).text())]
    Database {
        action: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("interrupted by {0}; everything this run created was removed")]
    Interrupted(&'static str),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage(_) => ErrorKind::Usage,
            Error::Environment(_) | Error::Docker { .. } => ErrorKind::Environment,
            Error::Unrecoverable(_) => ErrorKind::Unrecoverable,
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::ReadOnlyFilesystem => ErrorKind::Environment,
                _ => ErrorKind::Failed,
            },
            Error::Failed(_) | Error::Database { .. } | Error::Interrupted(_) => ErrorKind::Failed,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        let hint = io_hint(&source);
        Error::Io {
            action,
            path,
            source,
            hint,
        }
    }

    pub fn docker(action: impl Into<String>, source: bollard::errors::Error) -> Self {
        Error::Docker {
            action: action.into(),
            source,
        }
    }

    pub fn db(action: impl Into<String>, source: sqlx::Error) -> Self {
        Error::Database {
            action: action.into(),
            source,
        }
    }
}

fn io_hint(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "Check the path's owner and permissions, or choose another directory".into()
        }
        std::io::ErrorKind::NotFound => "Check that the path exists".into(),
        std::io::ErrorKind::StorageFull => {
            "The disk is full: free space or choose another directory".into()
        }
        std::io::ErrorKind::ReadOnlyFilesystem => {
            "The file system is read-only: choose another directory".into()
        }
        _ => "Check the path and retry".into(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes, innermost last, each said once: the cause that
/// tells (a refused client certificate, an unknown CA) is often only in the
/// causes, under an HTTP client's "client error".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
