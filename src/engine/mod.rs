//! What differs between database engines: the image contract (environment,
//! ready line, port), how to dump, restore and connect, and how to fingerprint.

pub mod postgres;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Mariadb,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Postgres => "PostgreSQL",
            EngineKind::Mariadb => "MariaDB",
        })
    }
}

/// Per-container credentials, random each time: a sandbox holds a copy of every
/// patient record and must not share a password with anything else.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub database: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .finish()
    }
}

impl Credentials {
    pub fn random(_engine: EngineKind) -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        Self {
            user: "drill".into(),
            password: Alphanumeric.sample_string(&mut rand::rng(), 32),
            database: "clinic".into(),
        }
    }
}

/// Where a tmpfs-backed data directory is mounted (entrypoints initialise an
/// empty `PGDATA` / data dir there).
const PG_TMPFS_DATA: &str = "/var/lib/postgresql/tmpfs-data";
const MARIADB_TMPFS_DATA: &str = "/var/lib/mysql-tmpfs";

impl EngineKind {
    /// The official images' environment contract.
    pub fn container_env(&self, c: &Credentials, tmpfs_data: bool) -> Vec<String> {
        let mut env = match self {
            EngineKind::Postgres => vec![
                format!("POSTGRES_USER={}", c.user),
                format!("POSTGRES_PASSWORD={}", c.password),
                format!("POSTGRES_DB={}", c.database),
            ],
            EngineKind::Mariadb => vec![
                format!("MARIADB_USER={}", c.user),
                format!("MARIADB_PASSWORD={}", c.password),
                format!("MARIADB_ROOT_PASSWORD={}", c.password),
                format!("MARIADB_DATABASE={}", c.database),
            ],
        };
        if tmpfs_data {
            env.push(match self {
                EngineKind::Postgres => format!("PGDATA={PG_TMPFS_DATA}"),
                EngineKind::Mariadb => format!("MARIADB_DATADIR={MARIADB_TMPFS_DATA}"),
            });
        }
        env
    }

    pub fn data_dir(&self) -> &'static str {
        match self {
            EngineKind::Postgres => PG_TMPFS_DATA,
            EngineKind::Mariadb => MARIADB_TMPFS_DATA,
        }
    }

    /// The line the final server logs once it accepts connections.
    pub fn ready_line(&self) -> &'static str {
        match self {
            EngineKind::Postgres => "database system is ready to accept connections",
            EngineKind::Mariadb => "ready for connections",
        }
    }

    pub fn stop_signal(&self) -> &'static str {
        match self {
            EngineKind::Postgres => "SIGINT",
            // MariaDB ignores SIGINT; SIGTERM is its clean shutdown.
            EngineKind::Mariadb => "SIGTERM",
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            EngineKind::Postgres => 5432,
            EngineKind::Mariadb => 3306,
        }
    }

    pub fn url(&self, host: &str, c: &Credentials) -> String {
        match self {
            EngineKind::Postgres => format!(
                "postgres://{}:{}@{host}:{}/{}",
                c.user,
                c.password,
                self.port(),
                c.database
            ),
            EngineKind::Mariadb => format!(
                "mysql://{}:{}@{host}:{}/{}",
                c.user,
                c.password,
                self.port(),
                c.database
            ),
        }
    }
}

/// One table's content summary: what a manifest records and a restore must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFingerprint {
    /// `schema.table`
    pub name: String,
    pub rows: u64,
    /// Order-independent: the wrapping sum of a 128-bit hash of each row's text.
    pub fingerprint: String,
}

/// Removes values from a database tool's error output before it can reach a
/// report or a log: constraint errors quote the offending row (a name, a date
/// of birth), and "Command was:" lines quote SQL with data in it.
pub fn redact_tool_output(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("DETAIL:")
            || l.starts_with("CONTEXT:")
            || l.starts_with("Command was:")
            || l.starts_with("LINE ")
            || l.starts_with("QUERY:")
            || l.starts_with("HINT:")
            || l.starts_with('^')
        {
            out.push(format!(
                "{}[detail removed: may hold patient data]",
                &line[..line.len() - l.len()]
            ));
            continue;
        }
        out.push(redact_parenthesised_values(line));
    }
    out.join("\n")
}

/// `Key (health_card)=(ABC123)` -> `Key (health_card)=(…)`.
fn redact_parenthesised_values(line: &str) -> String {
    let mut result = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(")=(") {
        result.push_str(&rest[..pos + 3]);
        rest = &rest[pos + 3..];
        match rest.find(')') {
            Some(end) => {
                result.push('…');
                rest = &rest[end..];
            }
            None => {
                result.push('…');
                rest = "";
            }
        }
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_row_values_and_sql() {
        let raw = "pg_restore: error: could not execute query: ERROR:  duplicate key value violates unique constraint \"patients_health_card_number_key\"\n\
                   DETAIL:  Key (health_card_number)=(HC-123-456) already exists.\n\
                   Command was: INSERT INTO patients VALUES ('Jane', 'Doe');";
        let r = redact_tool_output(raw);
        assert!(!r.contains("HC-123-456"), "{r}");
        assert!(!r.contains("Jane"), "{r}");
        assert!(r.contains("patients_health_card_number_key"), "{r}");
        assert_eq!(
            redact_parenthesised_values("x Key (a, b)=(1, 2) y"),
            "x Key (a, b)=(…) y"
        );
    }
}
