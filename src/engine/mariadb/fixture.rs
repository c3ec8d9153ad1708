//! The demo clinic on MariaDB (`fixtures generate --engine mariadb`): its
//! schema in MariaDB's dialect, and the client command that loads one
//! generated table's rows. COPY's text format (tabs, `\N` for NULL, backslash
//! escapes) is also LOAD DATA's default, so each table streams from the
//! generator's server to this one without touching the host's disk.

use super::quote_ident;
use crate::engine::{Credentials, ToolCommand};

pub const SCHEMA_SQL: &str = include_str!("../../../fixtures/clinic-schema-mariadb.sql");

/// Pure: the `mariadb` client run inside the container, reading the rows on
/// stdin. Keys are checked once the clinic is whole (the tables arrive in
/// name order), and any warning (a value cut or changed on the way in) is
/// printed, which the caller refuses.
pub fn load_rows(c: &Credentials, table: &str, columns: &[String]) -> ToolCommand {
    let names: Vec<String> = columns.iter().map(|n| quote_ident(n)).collect();
    let statement = format!(
        "SET foreign_key_checks = 0; \
         LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE {} CHARACTER SET utf8mb4 ({}); \
         SHOW WARNINGS",
        quote_ident(table),
        names.join(", ")
    );
    ToolCommand {
        command: vec![
            "mariadb".into(),
            "--local-infile=1".into(),
            format!("--user={}", c.user),
            format!("--database={}", c.database),
            format!("--execute={statement}"),
        ],
        user: "root",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    #[test]
    fn rows_load_from_stdin_as_utf8_and_warnings_are_printed() {
        let c = Credentials::random(EngineKind::Mariadb);
        let tool = load_rows(&c, "payments", &["id".into(), "paid_at".into()]);
        let load = tool.command.last().unwrap();
        assert!(
            load.contains("INTO TABLE `payments` CHARACTER SET utf8mb4 (`id`, `paid_at`)"),
            "{load}"
        );
        assert!(load.ends_with("SHOW WARNINGS"), "{load}");
        assert_eq!(tool.command[2], "--user=root");
        assert_eq!(tool.user, "root");
    }
}
