//! MariaDB's restore tool: its own client, in sandbox mode.

use crate::engine::Credentials;
use crate::pipeline::DumpFormat;

/// The command that reads a MariaDB (or MySQL) SQL dump on stdin and
/// restores it, as root over the socket; `None` for another format.
pub fn command(c: &Credentials, format: DumpFormat) -> Option<Vec<String>> {
    // The client stops at the first error when its input is not a terminal.
    // It would print the failing statement, an INSERT full of patient data:
    // the error and its line say enough.
    // --sandbox: the client refuses `system`, `\!`, `tee`, `source` ...
    (format == DumpFormat::MysqlSql).then(|| {
        vec![
            "mariadb".into(),
            "--sandbox".into(),
            "--skip-print-query-on-error".into(),
            format!("--user={}", c.user),
            format!("--database={}", c.database),
        ]
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    #[test]
    fn a_dump_restores_with_the_client_in_sandbox_mode_as_root() {
        let c = Credentials::random(EngineKind::Mariadb);
        assert_eq!(
            command(&c, DumpFormat::MysqlSql).unwrap(),
            [
                "mariadb",
                "--sandbox",
                "--skip-print-query-on-error",
                "--user=root",
                "--database=clinic"
            ]
        );
    }

    #[test]
    fn a_postgresql_dump_is_not_mariadbs() {
        let c = Credentials::random(EngineKind::Mariadb);
        for f in [
            DumpFormat::PostgresCustom,
            DumpFormat::PostgresSql,
            DumpFormat::Unknown,
        ] {
            assert!(command(&c, f).is_none(), "{f:?}");
        }
    }
}
