//! Exit codes: the one place that knows the numbers. Scripts rely on them; the
//! README lists them.

use crate::error::{Error, ErrorKind};

/// Drill passed / command succeeded.
pub const OK: u8 = 0;
/// The work ran and failed (a check failed, a database command failed).
pub const FAILED: u8 = 1;
/// Invalid usage or scenario: nothing was started.
pub const USAGE: u8 = 2;
/// Environment not ready: Docker, images, mmdebstrap, keys, disk.
pub const ENVIRONMENT: u8 = 3;
/// No recoverable backup.
pub const UNRECOVERABLE: u8 = 4;

pub fn code_for(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::Usage => USAGE,
        ErrorKind::Environment => ENVIRONMENT,
        ErrorKind::Unrecoverable => UNRECOVERABLE,
        ErrorKind::Failed => FAILED,
    }
}
