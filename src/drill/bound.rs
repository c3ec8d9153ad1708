//! Holding a restore to its bound on the restored data. In memory the tmpfs
//! is the bound: a restore that fails with it full passed it. On disk the
//! data directory is measured every few seconds while the restore runs, and
//! the restore is stopped once it is past.

use crate::error::Result;
use crate::restore::data::DataPlace;
use crate::restore::Restored;
use crate::sandbox::{exec, ExecRequest, Sandbox};
use crate::unusable::Unusable;
use std::future::Future;
use std::time::Duration;

/// How often a restore on disk has its data measured.
const EVERY: Duration = Duration::from_secs(2);

/// The restore, held to `place`'s bound.
pub async fn within(
    sb: &Sandbox,
    place: DataPlace,
    restore: impl Future<Output = Result<std::result::Result<Restored, Unusable>>>,
) -> Result<std::result::Result<Restored, Unusable>> {
    let bound_bytes = place.bound_bytes();
    let too_large = Unusable::RestoredTooLarge { bound_bytes };
    match place {
        DataPlace::Memory { .. } => match restore.await? {
            Err(u) if full(sb).await => Ok(Err(too_large_unless_killed(u, too_large))),
            other => Ok(other),
        },
        DataPlace::Disk { .. } => {
            tokio::pin!(restore);
            tokio::select! {
                r = &mut restore => r,
                () = grows_past(sb, bound_bytes) => Ok(Err(too_large)),
            }
        }
    }
}

/// A server the simulation killed stays killed, whatever its disk held.
fn too_large_unless_killed(u: Unusable, too_large: Unusable) -> Unusable {
    match u {
        Unusable::ServerKilled { .. } => u,
        _ => too_large,
    }
}

/// Whether the data directory's tmpfs is (all but) full. Unknown counts as
/// not: the restore's own error stands.
async fn full(sb: &Sandbox) -> bool {
    let dir = sb.engine.data_dir();
    let df = ExecRequest::new(["df", "-B1", "--output=used,size", dir]);
    let Ok(Ok(out)) =
        tokio::time::timeout(Duration::from_secs(10), exec(&sb.docker, &sb.container, df)).await
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    parse_df(&text).is_some_and(|(used, size)| used.saturating_mul(100) >= size.saturating_mul(98))
}

/// `df --output=used,size`: its second line, two numbers.
fn parse_df(text: &str) -> Option<(u64, u64)> {
    let mut numbers = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .map(str::parse::<u64>);
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// Returns once the data directory on disk holds more than `bound` bytes;
/// never when it cannot be measured (the restore's own limits still hold).
async fn grows_past(sb: &Sandbox, bound: u64) {
    let dir = sb.engine.disk_data_dir();
    loop {
        tokio::time::sleep(EVERY).await;
        let du = ExecRequest::new(["du", "-s", "-B1", dir]);
        let Ok(Ok(out)) =
            tokio::time::timeout(Duration::from_secs(30), exec(&sb.docker, &sb.container, du))
                .await
        else {
            continue;
        };
        let used = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok());
        if used.is_some_and(|u| u > bound) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn df_output_is_read_as_used_and_size() {
        let text = "    Used     1B-blocks\n67108864  67108864\n";
        assert_eq!(super::parse_df(text), Some((67108864, 67108864)));
        assert_eq!(super::parse_df("Used 1B-blocks\n"), None);
    }
}
