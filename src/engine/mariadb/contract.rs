//! MariaDB's side of the `Engine` trait: the container contract, the image
//! recipe, the restore tool, and where its users, dialect and faults live in
//! this folder.

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

/// MariaDB (and MySQL's dumps), through `EngineKind::Mariadb`.
pub struct Mariadb;

/// Where a tmpfs-backed data directory is mounted (the entrypoint
/// initialises an empty data directory there).
const TMPFS_DATA: &str = "/var/lib/mysql-tmpfs";

/// The clinic's business rules in MariaDB's dialect.
pub const CLINIC_RULES: &str = include_str!("../../../fixtures/clinic-invariants-mariadb.sql");

// The files put into each image; compiled in, so the binary alone can build.
const ENTRYPOINT: &str = include_str!("../../../images/mariadb/entrypoint.sh");
const CONF: &str = include_str!("../../../images/mariadb/restore-drill.cnf");

impl Engine for Mariadb {
    fn name(&self) -> &'static str {
        "MariaDB"
    }

    fn key(&self) -> &'static str {
        "mariadb"
    }

    fn default_image(&self) -> &'static str {
        "restore-drill/mariadb:10.11"
    }

    fn dump_formats(&self) -> &'static [DumpFormat] {
        &[DumpFormat::MysqlSql]
    }

    /// Root: restoring a dump's routines, triggers and DEFINERs needs more
    /// than one database's grants.
    fn names_url(&self, url: &str) -> bool {
        super::is_url(url)
    }

    fn check_url(&self, url: &str) -> Result<()> {
        super::parse_url(url).map(|_| ())
    }

    fn password_from_env(&self) -> bool {
        true
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
        "root"
    }

    fn container_env(&self, c: &Credentials, tmpfs_data: bool) -> Vec<String> {
        let mut env = vec![
            "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1".into(),
            format!("MARIADB_DATABASE={}", c.database),
        ];
        if tmpfs_data {
            env.push(format!("MARIADB_DATADIR={TMPFS_DATA}"));
        }
        env
    }

    /// InnoDB reads pages around the kernel's cache (O_DIRECT), so its
    /// buffer pool is all the cache a restored MariaDB has: half the
    /// container's memory, in the 128 MiB chunks InnoDB allocates.
    fn server_command(&self, memory_bytes: i64) -> Option<Vec<String>> {
        const CHUNK: i64 = 128 << 20;
        let pool = (memory_bytes / 2 / CHUNK).max(1) * CHUNK;
        Some(vec![
            "mariadbd".into(),
            "--skip-networking".into(),
            format!("--innodb-buffer-pool-size={pool}"),
        ])
    }

    /// Its one socket is there already (Debian's `/run/mysqld/mysqld.sock`),
    /// where its own clients look.
    fn socket_mount(&self) -> &'static str {
        "/run/mysqld"
    }

    fn socket_file(&self) -> &'static str {
        "mysqld.sock"
    }

    fn disk_data_dir(&self) -> &'static str {
        "/var/lib/mysql"
    }

    fn data_dir(&self) -> &'static str {
        TMPFS_DATA
    }

    fn ready_line(&self) -> &'static str {
        "ready for connections"
    }

    /// MariaDB ignores SIGINT; SIGTERM is its clean shutdown.
    fn stop_signal(&self) -> &'static str {
        "SIGTERM"
    }

    fn port(&self) -> u16 {
        3306
    }

    /// MariaDB's `socket=` names the socket itself.
    fn url_for(&self, socket_dir: &Path, user: &str, password: &str, database: &str) -> String {
        let socket = socket_dir.join("mysqld.sock");
        crate::engine::socket_url(("mysql", "socket", &socket), user, password, database)
    }

    fn client_commands(&self, c: &Credentials, socket_dir: &Path, _url: &str) -> (String, String) {
        (
            format!("mariadb --user=root {}", c.database),
            format!(
                "mariadb --socket={} --user={} {}",
                socket_dir.join("mysqld.sock").display(),
                c.user,
                c.database
            ),
        )
    }

    fn image_recipe(&self, _major: &str) -> ImageRecipe {
        ImageRecipe {
            changes: vec![
                "ENV LANG=C.UTF-8".into(),
                "ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]".into(),
                "CMD [\"mariadbd\"]".into(),
                "EXPOSE 3306/tcp".into(),
            ],
            entrypoint: ENTRYPOINT,
            config: (
                "restore-drill.cnf",
                CONF,
                "/etc/mysql/mariadb.conf.d/99-restore-drill.cnf",
            ),
            config_dir: None,
            excluded: &[],
        }
    }

    fn restore_tool(&self, c: &Credentials, format: DumpFormat) -> Option<ToolCommand> {
        // Root logs in by the socket as root.
        let command = super::restore::command(c, format)?;
        Some(ToolCommand {
            command,
            user: "root",
        })
    }

    /// A plain SQL dump is not read on its way.
    fn stream_fingerprinter(&self, _format: DumpFormat) -> Option<StreamFingerprinter> {
        None
    }

    /// About 125 MiB (measured for disk-full).
    fn empty_server_bytes(&self) -> u64 {
        160 << 20
    }

    /// A dump of several databases restores into the databases it names.
    fn restored_databases<'a>(
        &'a self,
        admin_url: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<TablesIn>>>> {
        Box::pin(async move { super::databases_with_tables(admin_url).await.map(Some) })
    }

    fn create_reader<'a>(
        &'a self,
        admin_url: &'a str,
        c: &'a Credentials,
        limit: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::create_reader(admin_url, c, limit))
    }

    /// Each user is granted the restored database when it is made.
    fn grant_reading<'a>(
        &'a self,
        _admin_url: &'a str,
        _database: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// The comparison's reader was granted the restored database when it
    /// was made.
    fn join_readers<'a>(
        &'a self,
        _admin_url: &'a str,
        _reader: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn create_check_login<'a>(&'a self, l: CheckLogin<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(super::create_check_login(
            l.admin_url,
            l.user,
            l.password,
            l.database,
            l.limit,
        ))
    }

    fn refusal(&self, e: &sqlx::Error, query: &str) -> Option<crate::engine::refusal::Refusal> {
        super::refusal(e, query)
    }

    fn stop_sql(&self, id: u64, how: Stop) -> String {
        match how {
            Stop::Query => format!("KILL QUERY {id}"),
            Stop::Session => format!("KILL CONNECTION {id}"),
        }
    }

    /// ER_NO_SUCH_THREAD: it ended on its own meanwhile.
    fn session_gone(&self, e: &sqlx::Error) -> bool {
        super::error_number(e) == Some(1094)
    }

    fn server_version<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let mut c = connect(url, Duration::from_secs(10)).await?;
            super::server_version(&mut c).await
        })
    }

    fn connect_any<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<AnyConnection>> {
        Box::pin(async move {
            Ok(AnyConnection::Mariadb(
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

    /// A plain SQL dump is not read on its way in.
    fn manifest_reading(&self) -> ManifestReading {
        ManifestReading::ManifestTables
    }

    /// ER_TABLEACCESS_DENIED_ERROR, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION,
    /// ER_DBACCESS_DENIED_ERROR.
    fn tried_to_write(&self, e: &sqlx::Error) -> bool {
        matches!(super::error_number(e), Some(1142 | 1792 | 1044))
    }

    fn foreign_keys_note(&self, _validated: usize, _total: usize) -> String {
        "every one counted here: a dump restores with FOREIGN_KEY_CHECKS=0, so MariaDB validated none".into()
    }

    fn clinic_rules(&self) -> &'static str {
        CLINIC_RULES
    }

    fn planner_switches(&self) -> bool {
        false
    }

    /// As the administrator: information_schema shows a user only the
    /// triggers and routines it may change.
    fn schema_facts<'a>(
        &'a self,
        admin_url: &'a str,
        _reader_url: &'a str,
    ) -> BoxFuture<'a, Result<SchemaFacts>> {
        Box::pin(super::schema::facts(admin_url))
    }

    /// The clinic's own backup options (one snapshot, routines, triggers,
    /// events); root logs in by the socket as root.
    fn dump_to_nowhere(&self, c: &Credentials) -> ToolCommand {
        let mut command = vec!["mariadb-dump".to_string(), "--user=root".into()];
        command.extend(super::dump_args());
        command.push("--result-file=/dev/null".into());
        command.push(c.database.clone());
        ToolCommand {
            command,
            user: "root",
        }
    }

    fn quote(&self) -> fn(&str) -> String {
        quote_ident
    }

    /// The clinic keeps its times as UTC DATETIMEs.
    fn now_sql(&self) -> &'static str {
        "UTC_TIMESTAMP(6)"
    }

    fn workload_write(&self, seq: i64) -> String {
        format!(
            "START TRANSACTION; \
             INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
               SELECT id, UTC_TIMESTAMP(6) + INTERVAL 1 DAY, 30, 'follow_up', 'booked', UTC_TIMESTAMP(6) \
               FROM patients ORDER BY id LIMIT 1; \
             INSERT INTO drill_workload VALUES ({seq}, UTC_TIMESTAMP(6), LAST_INSERT_ID()); \
             COMMIT"
        )
    }

    /// Seconds; the session's value replaces the reader's own limit.
    fn statement_timeout_sql(&self, secs: u64) -> String {
        format!("SET SESSION max_statement_time = {secs}")
    }

    fn until_restore_busy<'a>(&'a self, url: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(super::faults::until_restore_busy(url))
    }

    /// An initialised data directory takes 125 MiB, its 96 MiB redo log
    /// included.
    fn empty_data_bytes(&self) -> u64 {
        128 << 20
    }

    fn demo_clinic(&self) -> crate::engine::DemoClinicHere {
        crate::engine::DemoClinicHere::Loaded {
            schema: super::fixture::SCHEMA_SQL,
            load: super::fixture::load_rows,
        }
    }
}
