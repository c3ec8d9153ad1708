//! PostgreSQL's restore tools: `pg_restore` for a custom-format archive,
//! `psql` in restricted mode for a plain SQL dump.

use crate::engine::Credentials;
use crate::pipeline::DumpFormat;

/// The command that reads a dump of `format` on stdin and restores it, run
/// as the `postgres` user inside the sandbox (the benchmark's hand pipeline
/// uses the same arguments, so both restore alike); `None` for a format
/// PostgreSQL does not read.
pub fn command(c: &Credentials, format: DumpFormat) -> Option<Vec<String>> {
    match format {
        // --exit-on-error: a restore that skips a failed table is not a restore.
        // --no-owner/--no-privileges: the clinic's roles don't exist in a sandbox.
        DumpFormat::PostgresCustom => Some(vec![
            "pg_restore".into(),
            "--exit-on-error".into(),
            "--no-owner".into(),
            "--no-privileges".into(),
            format!("--username={}", c.user),
            format!("--dbname={}", c.database),
        ]),
        // Restricted mode (a key of our own, see PsqlGuard): the dump's
        // meta-commands (`\!`, `\o`, `\copy ... to` ...) are refused at their
        // line. VERBOSITY=sqlstate: an error line carries its code, not the
        // server's message with the values it quotes.
        DumpFormat::PostgresSql => Some(vec![
            "psql".into(),
            "--quiet".into(),
            "--no-psqlrc".into(),
            "--set=ON_ERROR_STOP=1".into(),
            "--set=VERBOSITY=sqlstate".into(),
            "--output=/dev/null".into(),
            format!("--username={}", c.user),
            format!("--dbname={}", c.database),
            format!("--command=\\restrict {}", restrict_key()),
            "--file=-".into(),
        ]),
        DumpFormat::MysqlSql | DumpFormat::Unknown => None,
    }
}

/// psql's restricted-mode key: random, so no dump can hold the matching
/// `\unrestrict`.
fn restrict_key() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    fn creds() -> Credentials {
        Credentials::random(EngineKind::Postgres)
    }

    #[test]
    fn an_archive_restores_with_pg_restore_stopping_at_the_first_error() {
        let cmd = command(&creds(), DumpFormat::PostgresCustom).unwrap();
        assert_eq!(
            cmd,
            [
                "pg_restore",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                "--username=drill",
                "--dbname=clinic"
            ]
        );
    }

    #[test]
    fn a_plain_dump_restores_with_psql_restricted_by_a_random_key() {
        let cmd = command(&creds(), DumpFormat::PostgresSql).unwrap();
        assert_eq!(cmd[0], "psql");
        assert!(cmd.iter().any(|a| a == "--set=ON_ERROR_STOP=1"));
        assert!(cmd.iter().any(|a| a == "--set=VERBOSITY=sqlstate"));
        let key = |c: &[String]| {
            c.iter()
                .find_map(|a| a.strip_prefix("--command=\\restrict "))
                .map(String::from)
                .unwrap()
        };
        let again = command(&creds(), DumpFormat::PostgresSql).unwrap();
        assert_eq!(key(&cmd).len(), 32);
        assert_ne!(key(&cmd), key(&again));
        assert_eq!(cmd.last().unwrap(), "--file=-");
    }

    #[test]
    fn a_mariadb_dump_is_not_postgresqls() {
        assert!(command(&creds(), DumpFormat::MysqlSql).is_none());
        assert!(command(&creds(), DumpFormat::Unknown).is_none());
    }
}
