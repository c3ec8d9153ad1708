//! PostgreSQL's side of the `Engine` trait: the container contract, the
//! image recipe, the restore tools, and where its roles, dialect and faults
//! live in this folder.

use super::{connect, quote_ident};
use crate::engine::dump::{DumpSink, Dumped};
use crate::engine::reader::{ManifestReading, Reader, Session};
use crate::engine::schema::SchemaFacts;
use crate::engine::{
    AnyConnection, CheckLogin, Credentials, Engine, ImageRecipe, Stop, StreamFingerprinter,
    TablesIn, ToolCommand,
};
use crate::error::Result;
use crate::pipeline::DumpFormat;
use futures_util::future::BoxFuture;
use std::path::Path;
use std::time::Duration;

/// PostgreSQL, through `EngineKind::Postgres`.
pub struct Postgres;

/// Where a tmpfs-backed data directory is mounted (the entrypoint
/// initialises an empty `PGDATA` there).
const TMPFS_DATA: &str = "/var/lib/postgresql/tmpfs-data";
/// Where the second socket folder, shared with the host, is mounted.
const SOCKET_MOUNT: &str = "/run/restore-drill";

/// The clinic's business rules, one query per `-- check:` header.
pub const CLINIC_RULES: &str = include_str!("../../../fixtures/clinic-invariants.sql");

// The files put into each image; compiled in, so the binary alone can build.
const ENTRYPOINT: &str = include_str!("../../../images/postgres/entrypoint.sh");
const CONF: &str = include_str!("../../../images/postgres/restore-drill.conf");

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn key(&self) -> &'static str {
        "postgres"
    }

    fn default_image(&self) -> &'static str {
        "restore-drill/postgres:15"
    }

    fn dump_formats(&self) -> &'static [DumpFormat] {
        &[DumpFormat::PostgresCustom, DumpFormat::PostgresSql]
    }

    fn names_url(&self, url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    fn check_url(&self, url: &str) -> Result<()> {
        super::parse_url(url).map(|_| ())
    }

    fn password_from_env(&self) -> bool {
        false
    }

    fn dump<'a>(
        &'a self,
        url: &'a str,
        sink: &'a dyn DumpSink,
        events: &'a crate::events::Events,
    ) -> BoxFuture<'a, Result<Dumped>> {
        Box::pin(super::dump::dump(url, sink, events))
    }

    fn admin_user(&self) -> &'static str {
        "drill"
    }

    // No password anywhere: the server listens on no port, and its socket
    // is reached only through the run's private folder.
    fn container_env(&self, c: &Credentials, tmpfs_data: bool) -> Vec<String> {
        let mut env = vec![
            format!("POSTGRES_USER={}", c.user),
            "POSTGRES_HOST_AUTH_METHOD=trust".into(),
            format!("POSTGRES_DB={}", c.database),
        ];
        if tmpfs_data {
            env.push(format!("PGDATA={TMPFS_DATA}"));
        }
        env
    }

    /// PostgreSQL reads through the kernel's cache and keeps its image's
    /// memory settings. No TCP listener; the socket also in the folder
    /// shared with the host (`socket_mount`), beside the image's own for
    /// `docker exec`.
    fn server_command(&self, _memory_bytes: i64) -> Option<Vec<String>> {
        Some(vec![
            "-c".into(),
            "listen_addresses=".into(),
            "-c".into(),
            format!("unix_socket_directories=/var/run/postgresql,{SOCKET_MOUNT}"),
        ])
    }

    /// A socket is added there, for the host.
    fn socket_mount(&self) -> &'static str {
        SOCKET_MOUNT
    }

    /// The default port's socket: the server listens on no TCP port.
    fn socket_file(&self) -> &'static str {
        ".s.PGSQL.5432"
    }

    fn disk_data_dir(&self) -> &'static str {
        "/var/lib/postgresql/data"
    }

    fn data_dir(&self) -> &'static str {
        TMPFS_DATA
    }

    fn ready_line(&self) -> &'static str {
        "database system is ready to accept connections"
    }

    fn stop_signal(&self) -> &'static str {
        "SIGINT"
    }

    fn port(&self) -> u16 {
        5432
    }

    /// libpq's `host=` names a socket folder.
    fn url_for(&self, socket_dir: &Path, user: &str, password: &str, database: &str) -> String {
        crate::engine::socket_url(("postgres", "host", socket_dir), user, password, database)
    }

    fn client_commands(&self, c: &Credentials, _socket_dir: &Path, url: &str) -> (String, String) {
        (
            format!("psql -U {} -d {}", c.user, c.database),
            format!("psql '{url}'"),
        )
    }

    fn image_recipe(&self, major: &str) -> ImageRecipe {
        ImageRecipe {
            changes: vec![
                format!(
                    "ENV PATH=/usr/lib/postgresql/{major}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                ),
                "ENV PGDATA=/var/lib/postgresql/data".into(),
                "ENV LANG=C.UTF-8".into(),
                "ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]".into(),
                "CMD [\"postgres\"]".into(),
                "EXPOSE 5432/tcp".into(),
            ],
            entrypoint: ENTRYPOINT,
            config: (
                "restore-drill.conf",
                CONF,
                "/etc/restore-drill/postgresql.conf",
            ),
            config_dir: Some("/etc/restore-drill"),
            // JIT is off in the config; leaving LLVM out saves ~155 MB an image.
            excluded: &[
                "/usr/lib/*/libLLVM*",
                "/usr/lib/*/libz3.so*",
                "/usr/lib/postgresql/*/lib/bitcode/*",
                "/usr/lib/postgresql/*/lib/llvmjit*",
            ],
        }
    }

    fn restore_tool(&self, c: &Credentials, format: DumpFormat) -> Option<ToolCommand> {
        // PostgreSQL's tools connect as `postgres` over the socket.
        let command = super::restore::command(c, format)?;
        Some(ToolCommand {
            command,
            user: "postgres",
        })
    }

    /// A custom-format archive is read as it streams (`archive`).
    fn stream_fingerprinter(&self, format: DumpFormat) -> Option<StreamFingerprinter> {
        (format == DumpFormat::PostgresCustom)
            .then_some(|r| super::archive::fingerprint_archive(r).map_err(|e| e.to_string()))
    }

    /// The cluster is about 40 MiB.
    fn empty_server_bytes(&self) -> u64 {
        64 << 20
    }

    /// A PostgreSQL dump restores into the database its tool connected to.
    fn restored_databases<'a>(
        &'a self,
        _admin_url: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<TablesIn>>>> {
        Box::pin(async { Ok(None) })
    }

    fn create_reader<'a>(
        &'a self,
        admin_url: &'a str,
        c: &'a Credentials,
        limit: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::create_reader(admin_url, c, limit))
    }

    fn grant_reading<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::grant_reading(admin_url, database))
    }

    fn join_readers<'a>(
        &'a self,
        admin_url: &'a str,
        reader: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::join_readers(admin_url, reader))
    }

    fn create_check_login<'a>(&'a self, l: CheckLogin<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::create_check_login(
            l.admin_url,
            l.user,
            l.password,
            l.limit,
        ))
    }

    fn refusal(&self, e: &sqlx::Error, query: &str) -> Option<crate::engine::refusal::Refusal> {
        super::refusal(e, query)
    }

    fn stop_sql(&self, id: u64, how: Stop) -> String {
        match how {
            Stop::Query => format!("SELECT pg_cancel_backend({id})"),
            Stop::Session => format!("SELECT pg_terminate_backend({id})"),
        }
    }

    fn session_gone(&self, _e: &sqlx::Error) -> bool {
        false
    }

    fn server_version<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let mut c = connect(url, Duration::from_secs(10)).await?;
            super::server_version(&mut c).await
        })
    }

    fn connect_any<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<AnyConnection>> {
        Box::pin(async move {
            Ok(AnyConnection::Postgres(
                connect(url, Duration::from_secs(10)).await?,
            ))
        })
    }

    fn open_reader<'a>(
        &'a self,
        url: &'a str,
        session: Session,
    ) -> BoxFuture<'a, Result<Box<dyn Reader>>> {
        Box::pin(super::reader::open(url, session))
    }

    /// A custom-format archive is fingerprinted as it streams.
    fn manifest_reading(&self) -> ManifestReading {
        ManifestReading::StreamedOrEveryTable
    }

    /// 42501 insufficient_privilege, 25006 read_only_sql_transaction.
    fn tried_to_write(&self, e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("42501" | "25006")))
    }

    /// A key the restore added as valid was checked by PostgreSQL itself:
    /// `ALTER TABLE ... ADD FOREIGN KEY` reads every row and fails on an
    /// orphan, and the restore stops on the first error. Only keys that are
    /// NOT VALID (added so in the clinic's database, or restored so) can hide
    /// orphans; those are counted by an anti-join.
    fn foreign_keys_note(&self, validated: usize, total: usize) -> String {
        format!(
            "{validated} validated by PostgreSQL over every row as the restore added them, {} NOT VALID counted here",
            total - validated
        )
    }

    fn clinic_rules(&self) -> &'static str {
        CLINIC_RULES
    }

    fn planner_switches(&self) -> bool {
        true
    }

    fn schema_facts<'a>(
        &'a self,
        _admin_url: &'a str,
        reader_url: &'a str,
    ) -> BoxFuture<'a, Result<SchemaFacts>> {
        Box::pin(super::schema::facts(reader_url))
    }

    fn dump_to_nowhere(&self, c: &Credentials) -> ToolCommand {
        ToolCommand {
            command: vec![
                "pg_dump".to_string(),
                "--format=custom".into(),
                "--compress=0".into(),
                "--file=/dev/null".into(),
                // pg_dump would fsync its output file, which /dev/null refuses.
                "--no-sync".into(),
                format!("--username={}", c.user),
                c.database.clone(),
            ],
            user: "postgres",
        }
    }

    fn quote(&self) -> fn(&str) -> String {
        quote_ident
    }

    fn now_sql(&self) -> &'static str {
        "now()"
    }

    fn workload_write(&self, seq: i64) -> String {
        format!(
            "WITH a AS (INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
               SELECT id, now() + interval '1 day', 30, 'follow_up', 'booked', now() FROM patients ORDER BY id LIMIT 1 \
               RETURNING id) \
             INSERT INTO drill_workload SELECT {seq}, clock_timestamp() AT TIME ZONE 'UTC', id FROM a"
        )
    }

    fn statement_timeout_sql(&self, secs: u64) -> String {
        format!("SET statement_timeout = '{secs}s'")
    }

    fn until_restore_busy<'a>(&'a self, url: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(super::faults::until_restore_busy(url))
    }

    /// An initialised cluster takes ~62 MiB, one WAL segment included.
    fn empty_data_bytes(&self) -> u64 {
        64 << 20
    }

    fn demo_clinic(&self) -> crate::engine::DemoClinicHere {
        crate::engine::DemoClinicHere::Generated(&super::generator::Generator)
    }
}
