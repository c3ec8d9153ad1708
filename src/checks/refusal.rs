//! A custom check refused what its role may not do (write a large object,
//! read the server's accounts, signal or kill another session): an error
//! built from the engine's typed refusal (`Engine::refusal`), never from the
//! server's message.

use super::Status;
use crate::engine::Engine;
use crate::scenario::SqlCheck;

/// The check's result when its query was refused for its role's lack of a
/// privilege the drill withholds; `None` for any other error.
pub fn refused(engine: &dyn Engine, e: &sqlx::Error, c: &SqlCheck) -> Option<(Status, String)> {
    let r = engine.refusal(e, &c.query)?;
    Some((
        Status::Error,
        format!(
            "the check {} at {} was refused: {r}. Checks run as a role that can only read the restored application's tables: no large objects, no server accounts, no signals to other sessions. Make it a query that only reads those tables",
            c.name, c.origin
        ),
    ))
}
