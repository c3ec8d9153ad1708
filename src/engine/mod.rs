//! Everything that differs between database engines, behind one trait:
//! [`Engine`]. Each engine is a folder (`postgres/`, `mariadb/`) holding a
//! unit struct that implements it, with the code only that engine needs
//! (connecting, its catalog, its archive or dump). Nothing outside `engine/`
//! names an engine.
//!
//! Why a trait object and not an enum matched everywhere: an [`EngineKind`]
//! is the engine's name (what a scenario, a manifest and a report write
//! down), and it dereferences to its `&'static dyn Engine`, so callers write
//! `sandbox.engine.restore_command(..)` without knowing which engine it is.
//! The one `match` on the kind is [`EngineKind::engine`]: a third engine is a
//! new folder, a variant and a line there. The trait is object-safe: its
//! async methods return boxed futures (a few allocations per drill, next to
//! a restore that takes seconds).
//!
//! What is shared by every engine stays here: the per-container
//! credentials, the check sessions' logins (made through the trait), the
//! row fingerprint (`RowSum`), URLs.

pub mod db_url;
pub mod dump;
pub mod mariadb;
pub mod postgres;
pub mod reader;
pub mod refusal;
pub mod schema;

use crate::error::Result;
use crate::pipeline::DumpFormat;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// The engines a drill restores into. Its words (`postgres`, `mariadb`) are
/// the same in a scenario, a report and the command line (`--engine`).
/// PostgreSQL when a scenario or a dump does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Postgres,
    Mariadb,
}

impl EngineKind {
    /// The engine's behaviour: the one place engines are listed.
    pub fn engine(self) -> &'static dyn Engine {
        match self {
            EngineKind::Postgres => &postgres::Postgres,
            EngineKind::Mariadb => &mariadb::Mariadb,
        }
    }

    /// The engine a database URL names (PostgreSQL unless another's scheme).
    pub fn for_url(url: &str) -> EngineKind {
        use clap::ValueEnum;
        EngineKind::value_variants()
            .iter()
            .copied()
            .find(|k| k.names_url(url))
            .unwrap_or_default()
    }

    /// The engine that restores a dump of this format (PostgreSQL when it
    /// is unknown: its tools say best what a file is not).
    pub fn for_dump(format: Option<DumpFormat>) -> EngineKind {
        use clap::ValueEnum;
        EngineKind::value_variants()
            .iter()
            .copied()
            .find(|k| format.is_some_and(|f| k.dump_formats().contains(&f)))
            .unwrap_or_default()
    }
}

impl std::ops::Deref for EngineKind {
    type Target = dyn Engine;
    fn deref(&self) -> &Self::Target {
        self.engine()
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.engine().name())
    }
}

/// What is copied into an image this tool builds, and its configuration
/// (the same contract as the engine's official image).
pub struct ImageRecipe {
    /// `docker import` changes: ENV, ENTRYPOINT, CMD, EXPOSE.
    pub changes: Vec<String>,
    pub entrypoint: &'static str,
    /// The server's settings: (file name, content, path in the image).
    pub config: (&'static str, &'static str, &'static str),
    /// A folder to make before the settings are copied in.
    pub config_dir: Option<&'static str>,
    /// Installed files left out (dpkg path patterns).
    pub excluded: &'static [&'static str],
}

/// One of the engine's tools, run inside the sandbox: its command and the
/// container user it runs as (whose socket login the tool uses).
pub struct ToolCommand {
    pub command: Vec<String>,
    pub user: &'static str,
}

/// Everything that differs between engines. Implemented by one unit struct
/// per engine folder; reached through [`EngineKind`].
pub trait Engine: Send + Sync {
    /// Its name in messages: `PostgreSQL`, `MariaDB`.
    fn name(&self) -> &'static str;
    /// Its word in a scenario's `engine` key and on the command line.
    fn key(&self) -> &'static str;
    /// The image a restore or a fixture uses when none is named.
    fn default_image(&self) -> &'static str;
    /// The dump formats its restore tools read.
    fn dump_formats(&self) -> &'static [DumpFormat];

    // Backing up a clinic's server.

    /// Whether a database URL names this engine's server (its scheme).
    fn names_url(&self, url: &str) -> bool;
    /// Refuses a URL this engine cannot connect with, before anything runs.
    fn check_url(&self, url: &str) -> Result<()>;
    /// Whether a URL without a password takes it from the environment, as
    /// the engine's own clients do (MariaDB's `MYSQL_PWD`).
    fn password_from_env(&self) -> bool;
    /// Dumps the database at `url` into `sink` with the manifest's
    /// fingerprints taken in the same snapshot.
    fn dump<'a>(
        &'a self,
        url: &'a str,
        sink: &'a dyn dump::DumpSink,
        events: &'a crate::events::Events,
    ) -> BoxFuture<'a, Result<dump::Dumped>>;

    // The container contract.

    /// The administrator's login in a sandbox.
    fn admin_user(&self) -> &'static str;
    /// The official images' environment contract.
    fn container_env(&self, c: &Credentials, tmpfs_data: bool) -> Vec<String>;
    /// The server's command, where the image's default does not fit the
    /// container's memory limit.
    fn server_command(&self, memory_bytes: i64) -> Option<Vec<String>>;
    /// Where the folder shared with the host is mounted in the container.
    fn socket_mount(&self) -> &'static str;
    /// The socket's file name in that folder.
    fn socket_file(&self) -> &'static str;
    /// The image's own data directory, in the container's writable layer.
    fn disk_data_dir(&self) -> &'static str;
    /// Where a tmpfs-backed data directory is mounted.
    fn data_dir(&self) -> &'static str;
    /// The line the final server logs once it accepts connections.
    fn ready_line(&self) -> &'static str;
    fn stop_signal(&self) -> &'static str;
    fn port(&self) -> u16;
    /// A URL both sqlx and the engine's own clients read, through the socket
    /// in `socket_dir`.
    fn url_for(&self, socket_dir: &Path, user: &str, password: &str, database: &str) -> String;
    /// How to reach a kept sandbox: from inside it, and from this host.
    fn client_commands(&self, c: &Credentials, socket_dir: &Path, url: &str) -> (String, String);
    /// What an image of this engine is built from (`major`: the server's
    /// major version where packages name it).
    fn image_recipe(&self, major: &str) -> ImageRecipe;

    // Restoring.

    /// The command that reads a dump of `format` on stdin and restores it;
    /// `None` when this engine cannot restore that format.
    fn restore_tool(&self, c: &Credentials, format: DumpFormat) -> Option<ToolCommand>;
    /// What fingerprints a dump of `format` as it streams to the restore
    /// tool, where the engine can read that format on its way (`None`: the
    /// restored tables are read back instead).
    fn stream_fingerprinter(&self, format: DumpFormat) -> Option<StreamFingerprinter>;
    /// An empty server's data directory with room to start.
    fn empty_server_bytes(&self) -> u64;
    /// Every database the restore filled, with its tables, where a dump can
    /// restore into another database than the one the checks read (`None`:
    /// it cannot).
    fn restored_databases<'a>(
        &'a self,
        admin_url: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<TablesIn>>>>;

    // Roles.

    /// Creates the login the checks and a comparison use, which can only read.
    fn create_reader<'a>(
        &'a self,
        admin_url: &'a str,
        c: &'a Credentials,
        limit: Duration,
    ) -> BoxFuture<'a, Result<()>>;
    /// Lets the readers read the restored application (after the restore).
    fn grant_reading<'a>(
        &'a self,
        admin_url: &'a str,
        database: &'a str,
    ) -> BoxFuture<'a, Result<()>>;
    /// Lets the comparison's reader, made before the restore, read what the
    /// check sessions read.
    fn join_readers<'a>(&'a self, admin_url: &'a str, reader: &'a str)
        -> BoxFuture<'a, Result<()>>;
    /// Creates the login of one check session.
    fn create_check_login<'a>(&'a self, login: CheckLogin<'a>) -> BoxFuture<'a, Result<()>>;
    /// What a check session's role was refused, from the error `e` of the
    /// check's `query`; `None` for any other error.
    fn refusal(&self, e: &sqlx::Error, query: &str) -> Option<refusal::Refusal>;
    /// The administrator's statement that stops session `id`'s work.
    fn stop_sql(&self, id: u64, how: Stop) -> String;
    /// Whether stopping failed only because the session had ended already.
    fn session_gone(&self, e: &sqlx::Error) -> bool;
    /// The server's version.
    fn server_version<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<String>>;
    /// A connection for the places that send SQL text and read numbers.
    fn connect_any<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<AnyConnection>>;

    // The checks.

    /// Opens a read-only check session of the login at `url`, sized to the
    /// sandbox.
    fn open_reader<'a>(
        &'a self,
        url: &'a str,
        session: reader::Session,
    ) -> BoxFuture<'a, Result<Box<dyn reader::Reader>>>;
    /// How the manifest comparison reads the restored tables.
    fn manifest_reading(&self) -> reader::ManifestReading;
    /// Whether a check's query failed because it tried to write.
    fn tried_to_write(&self, e: &sqlx::Error) -> bool;
    /// How the foreign keys were checked, when none has an orphan.
    fn foreign_keys_note(&self, validated: usize, total: usize) -> String;
    /// The clinic's business rules in this engine's dialect.
    fn clinic_rules(&self) -> &'static str;
    /// Whether a rule may ask for planner switches (`SET LOCAL enable_…`)
    /// for its own query.
    fn planner_switches(&self) -> bool;

    // A comparison before an upgrade.

    /// What the restored database holds and its server offers, read as the
    /// administrator at `admin_url` or the reader at `reader_url`.
    fn schema_facts<'a>(
        &'a self,
        admin_url: &'a str,
        reader_url: &'a str,
    ) -> BoxFuture<'a, Result<schema::SchemaFacts>>;
    /// The engine's dump tool reading the restored database and writing
    /// nowhere: the first half of an upgrade by dump and restore, timed.
    fn dump_to_nowhere(&self, c: &Credentials) -> ToolCommand;

    // The SQL dialect.

    /// Quotes one identifier.
    fn quote(&self) -> fn(&str) -> String;
    /// The current time in UTC, as the clinic's columns keep it.
    fn now_sql(&self) -> &'static str;
    /// One transaction of the lost-server workload: a new appointment and
    /// its sequence number `seq`, with the commit's time (UTC).
    fn workload_write(&self, seq: i64) -> String;
    /// Sets the session's statement time limit.
    fn statement_timeout_sql(&self, secs: u64) -> String;

    // The faults' engine parts.

    /// Waits (unbounded: the caller bounds it) until the restore tool is
    /// connected and has created a table.
    fn until_restore_busy<'a>(&'a self, url: &'a str) -> BoxFuture<'a, ()>;
    /// An initialised, empty data directory, for a full-disk rehearsal.
    fn empty_data_bytes(&self) -> u64;

    // The demo clinic (`fixtures generate`).

    /// How this engine gets the demo clinic: it runs the generator, or the
    /// generated rows are loaded into it.
    fn demo_clinic(&self) -> DemoClinicHere;
}

/// How an engine gets the demo clinic.
pub enum DemoClinicHere {
    /// Its server runs the generator.
    Generated(&'static dyn ClinicGenerator),
    /// The generator's rows are loaded into it: the clinic's tables in its
    /// dialect, and the administrator's command that loads one table's rows
    /// (text on stdin, as [`ClinicGenerator::send_rows`] writes them) and
    /// prints any warning.
    Loaded {
        schema: &'static str,
        load: fn(&Credentials, &str, &[String]) -> ToolCommand,
    },
}

/// The demo clinic's generator: the same rows for the same seed and date.
pub trait ClinicGenerator: Send + Sync {
    /// Generates the clinic into the empty database at `url`.
    fn generate<'a>(&'a self, url: &'a str, clinic: DemoClinic) -> BoxFuture<'a, Result<()>>;
    /// The generated tables in name order, with their columns.
    fn tables<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<GeneratedTable>>>;
    /// Sends one table's rows into `rows` in COPY's text format (tabs, `\N`
    /// for NULL, times in UTC without a zone); returns how many were sent.
    fn send_rows<'a>(
        &'a self,
        url: &'a str,
        table: &'a GeneratedTable,
        rows: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    ) -> BoxFuture<'a, Result<u64>>;
}

/// What the generator makes: a clinic of this many patients, from this seed,
/// every time at or before `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct DemoClinic {
    pub patients: u32,
    pub seed: i64,
    pub as_of: chrono::DateTime<chrono::Utc>,
}

/// One generated table: its name and its columns with their types.
pub struct GeneratedTable {
    pub name: String,
    pub columns: Vec<(String, String)>,
}

/// Reads a dump as it streams past and fingerprints each table's rows the
/// way a manifest does; the error says why it could not.
pub type StreamFingerprinter =
    fn(&mut dyn std::io::Read) -> std::result::Result<Vec<TableFingerprint>, String>;

/// A database and how many tables and views it holds.
pub type TablesIn = (String, u64);

/// One check session's login, as `Engine::create_check_login` makes it.
pub struct CheckLogin<'a> {
    pub admin_url: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub database: &'a str,
    /// The server's bound on each statement.
    pub limit: Duration,
}

/// Per-container credentials, random each time: a sandbox holds a copy of every
/// patient record and must not share a password with anything else.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub database: String,
    /// A login role that can only read (the checks' role).
    pub reader: String,
    pub reader_password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("reader", &self.reader)
            .field("reader_password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn random(engine: EngineKind) -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        Self {
            user: engine.admin_user().into(),
            // None: the administrator logs in by the socket, in a folder only
            // the drill's user can reach (sandbox::sockets), so no password
            // sits in the container's environment.
            password: String::new(),
            database: "clinic".into(),
            reader: "drill_reader".into(),
            reader_password: Alphanumeric.sample_string(&mut rand::rng(), 32),
        }
    }
}

/// A table name, schema-qualified or not, each part quoted by `quote`.
pub fn quote_parts(name: &str, quote: fn(&str) -> String) -> String {
    name.split('.').map(quote).collect::<Vec<_>>().join(".")
}

/// Makes one login per check session, after the restore (what they may read
/// is the restored application's schemas) and returns their URLs, the
/// administrator's host and database at `admin_url`. Each session has its
/// own, so that none can signal, kill or read another's; none reads the
/// server's accounts. `limit` is the drill's bound on one check: the server
/// bounds each statement a little past it, as a second line.
pub async fn check_logins(
    engine: EngineKind,
    admin_url: &str,
    sessions: usize,
    limit: Duration,
) -> Result<Vec<String>> {
    use rand::distr::{Alphanumeric, SampleString};
    let database = url_database(admin_url)?;
    engine.grant_reading(admin_url, &database).await?;
    // Past the drill's bound, with room for its cancel to land first.
    let server_limit = limit + Duration::from_secs(30);
    // A suffix of their own: a comparison makes logins once per target.
    let run = Alphanumeric
        .sample_string(&mut rand::rng(), 6)
        .to_lowercase();
    let mut urls = Vec::with_capacity(sessions);
    for n in 1..=sessions {
        let user = format!("drill_check_{run}_{n}");
        let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
        engine
            .create_check_login(CheckLogin {
                admin_url,
                user: &user,
                password: &password,
                database: &database,
                limit: server_limit,
            })
            .await?;
        urls.push(with_login(admin_url, &user, &password)?);
    }
    Ok(urls)
}

/// Lets the comparison's reader (made before the restore) read what the
/// check sessions read, and nothing more.
pub async fn grant_reading(engine: EngineKind, admin_url: &str, reader: &str) -> Result<()> {
    engine
        .grant_reading(admin_url, &url_database(admin_url)?)
        .await?;
    engine.join_readers(admin_url, reader).await
}

/// The database a URL names.
fn url_database(url: &str) -> Result<String> {
    let u = url::Url::parse(url).map_err(|e| {
        crate::error::Error::Failed(format!("internal error: the sandbox's URL: {e}"))
    })?;
    Ok(u.path().trim_start_matches('/').to_string())
}

/// The URL with another user and password.
fn with_login(url: &str, user: &str, password: &str) -> Result<String> {
    let internal = |what: &str| {
        crate::error::Error::Failed(format!("internal error: the sandbox's URL: {what}"))
    };
    let mut u = url::Url::parse(url).map_err(|e| internal(&e.to_string()))?;
    u.set_username(user).map_err(|_| internal("user"))?;
    u.set_password(Some(password))
        .map_err(|_| internal("password"))?;
    Ok(u.to_string())
}

/// How the administrator stops a check session's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Its running statement (`pg_cancel_backend`, `KILL QUERY`).
    Query,
    /// The session itself, and whatever it SET or began
    /// (`pg_terminate_backend`, `KILL CONNECTION`).
    Session,
}

/// Stops the work of the session `id` (its backend pid or connection id) as
/// the administrator at `admin_url`: the server's side stops, not only the
/// drill's wait. A session already gone is stopped.
pub async fn stop_session(engine: EngineKind, admin_url: &str, id: u64, how: Stop) -> Result<()> {
    let sql = engine.stop_sql(id, how);
    let doing = "stopping a check over the drill's time bound";
    let mut c = AnyConnection::connect(engine, admin_url).await?;
    let patience = Duration::from_secs(10);
    match tokio::time::timeout(patience, c.execute(&sql)).await {
        Err(_) => Err(crate::error::Error::Environment(format!(
            "{doing}: the server did not answer within 10 s; the sandbox is stuck or overloaded"
        ))),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if engine.session_gone(&e) => Ok(()),
        Ok(Err(e)) => Err(crate::error::Error::db(doing, e)),
    }
}

/// The server's version as evidence, not a condition: a server too slow to
/// say it within 30 s leaves it unknown.
pub async fn server_version_within(engine: EngineKind, url: &str) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), engine.server_version(url))
        .await
        .ok()
        .and_then(|v| v.ok())
}

/// A connection to either engine, for the few places that only send SQL
/// text and read numbers back.
pub enum AnyConnection {
    Postgres(sqlx::postgres::PgConnection),
    Mariadb(sqlx::mysql::MySqlConnection),
}

impl AnyConnection {
    pub async fn connect(engine: EngineKind, url: &str) -> Result<AnyConnection> {
        engine.connect_any(url).await
    }

    /// Runs one or more statements (the simple protocol).
    pub async fn execute(&mut self, sql: &str) -> std::result::Result<(), sqlx::Error> {
        use sqlx::Executor;
        match self {
            AnyConnection::Postgres(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            AnyConnection::Mariadb(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
        }
    }

    /// The first column of every row, read as integers.
    pub async fn integers(&mut self, sql: &str) -> std::result::Result<Vec<i64>, sqlx::Error> {
        use sqlx::{Executor, Row};
        Ok(match self {
            AnyConnection::Postgres(c) => c
                .fetch_all(sqlx::raw_sql(sql))
                .await?
                .iter()
                .filter_map(|r| r.try_get_unchecked::<String, _>(0).ok()?.parse().ok())
                .collect(),
            AnyConnection::Mariadb(c) => c
                .fetch_all(sqlx::raw_sql(sql))
                .await?
                .iter()
                .filter_map(|r| mariadb::text(r, 0)?.parse().ok())
                .collect(),
        })
    }
}

impl AnyConnection {
    /// The statement that gathers the planner's statistics of every
    /// restored table (`vacuumdb --analyze-in-stages`; `ANALYZE TABLE` on
    /// MariaDB); `None` when there is nothing to analyze.
    pub async fn analyze_sql(&mut self) -> Result<Option<String>> {
        Ok(match self {
            AnyConnection::Postgres(_) => Some("ANALYZE".to_string()),
            AnyConnection::Mariadb(c) => {
                let tables = mariadb::list_tables(c).await?;
                if tables.is_empty() {
                    return Ok(None);
                }
                let quoted: Vec<String> = tables.iter().map(|t| mariadb::quote_ident(t)).collect();
                Some(format!("ANALYZE TABLE {}", quoted.join(", ")))
            }
        })
    }
}

/// Where the server says a failed query went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryPlace {
    /// A character position in the statement, from 1.
    Char(usize),
    /// A line of the statement, from 1.
    Line(usize),
}

/// What a failed query was, as its engine tells it apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    /// The session's statement time limit stopped it.
    pub timed_out: bool,
    /// The reader was refused a change.
    pub refused_write: bool,
    pub sqlstate: Option<String>,
    pub at: Option<QueryPlace>,
}

impl AnyConnection {
    /// Runs `sql` (the simple protocol: every value as text) and hands each
    /// row to `line` as COPY's text format prints it.
    pub async fn each_row_text(
        &mut self,
        sql: &str,
        line: &mut (dyn FnMut(&[u8]) + Send),
    ) -> std::result::Result<(), sqlx::Error> {
        use futures_util::StreamExt;
        match self {
            AnyConnection::Postgres(c) => {
                let mut rows = sqlx::raw_sql(sql).fetch(c);
                while let Some(row) = rows.next().await {
                    line(&postgres::row_text(&row?));
                }
            }
            AnyConnection::Mariadb(c) => {
                let mut rows = sqlx::raw_sql(sql).fetch(c);
                while let Some(row) = rows.next().await {
                    line(&mariadb::row_text(&row?));
                }
            }
        }
        Ok(())
    }

    /// What the error `e` of one of this connection's queries was.
    pub fn failure(&self, e: &sqlx::Error) -> QueryFailure {
        match self {
            AnyConnection::Postgres(_) => postgres::query_failure(e),
            AnyConnection::Mariadb(_) => mariadb::query_failure(e),
        }
    }
}

/// Runs `sql` (one or more statements) as the administrator at `url`.
pub async fn execute_as_admin(engine: EngineKind, url: &str, sql: &str, doing: &str) -> Result<()> {
    let mut c = AnyConnection::connect(engine, url).await?;
    c.execute(sql)
        .await
        .map_err(|e| crate::error::Error::db(doing, e))
}

impl EngineKind {
    /// The administrator's URL, through the socket in `socket_dir`.
    pub fn url(&self, socket_dir: &Path, c: &Credentials) -> String {
        self.url_for(socket_dir, &c.user, &c.password, &c.database)
    }

    /// The read-only role's URL: what the checks connect with.
    pub fn reader_url(&self, socket_dir: &Path, c: &Credentials) -> String {
        self.url_for(socket_dir, &c.reader, &c.reader_password, &c.database)
    }
}

/// A socket URL: `scheme://login@localhost/database?key=socket`, the socket
/// path escaped.
pub(crate) fn socket_url(
    (scheme, key, socket): (&str, &str, &Path),
    user: &str,
    password: &str,
    database: &str,
) -> String {
    let login = if password.is_empty() {
        user.to_string()
    } else {
        format!("{user}:{password}")
    };
    let socket: String =
        url::form_urlencoded::byte_serialize(socket.as_os_str().as_encoded_bytes()).collect();
    format!("{scheme}://{login}@localhost/{database}?{key}={socket}")
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

/// The order-independent fingerprint of a set of rows, each given as its
/// text line (COPY's format): the row count and the wrapping sum of each
/// line's 128-bit xxh3 hash. A sum, unlike xor, tells a duplicated row from a
/// missing one. Manifests, the manifest check and a comparison's queries all
/// count with this one definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowSum {
    pub rows: u64,
    sum: u128,
}

impl RowSum {
    pub fn add(&mut self, line: &[u8]) {
        self.sum = self.sum.wrapping_add(xxhash_rust::xxh3::xxh3_128(line));
        self.rows += 1;
    }

    /// The fingerprint as written in manifests and reports.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}
