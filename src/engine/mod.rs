//! What differs between database engines: the image contract (environment,
//! ready line, port), how to dump, restore and connect, and how to fingerprint.

pub mod mariadb;
pub mod pgarchive;
pub mod postgres;
pub mod refusal;

use serde::{Deserialize, Serialize};
use std::path::Path;

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
            user: match engine {
                EngineKind::Postgres => "drill".into(),
                EngineKind::Mariadb => "root".into(),
            },
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

/// Creates the login the checks use, which can only read (as the
/// administrator at `admin_url`).
pub async fn create_reader(
    engine: EngineKind,
    admin_url: &str,
    c: &Credentials,
    limit: std::time::Duration,
) -> crate::error::Result<()> {
    match engine {
        EngineKind::Postgres => postgres::create_reader(admin_url, c, limit).await,
        EngineKind::Mariadb => mariadb::create_reader(admin_url, c, limit).await,
    }
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
    limit: std::time::Duration,
) -> crate::error::Result<Vec<String>> {
    use rand::distr::{Alphanumeric, SampleString};
    let database = url_database(admin_url)?;
    if engine == EngineKind::Postgres {
        postgres::grant_reading(admin_url, &database).await?;
    }
    // Past the drill's bound, with room for its cancel to land first.
    let server_limit = limit + std::time::Duration::from_secs(30);
    // A suffix of their own: a comparison makes logins once per target.
    let run = Alphanumeric
        .sample_string(&mut rand::rng(), 6)
        .to_lowercase();
    let mut urls = Vec::with_capacity(sessions);
    for n in 1..=sessions {
        let user = format!("drill_check_{run}_{n}");
        let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
        match engine {
            EngineKind::Postgres => {
                postgres::create_check_login(admin_url, &user, &password, server_limit).await?
            }
            EngineKind::Mariadb => {
                let (u, p, db, l) = (&user, &password, &database, server_limit);
                mariadb::create_check_login(admin_url, u, p, db, l).await?
            }
        }
        urls.push(with_login(admin_url, &user, &password)?);
    }
    Ok(urls)
}

/// Lets the comparison's reader (made before the restore) read what the
/// check sessions read, and nothing more. MariaDB's was granted the
/// restored database when it was made.
pub async fn grant_reading(
    engine: EngineKind,
    admin_url: &str,
    reader: &str,
) -> crate::error::Result<()> {
    if engine == EngineKind::Mariadb {
        return Ok(());
    }
    postgres::grant_reading(admin_url, &url_database(admin_url)?).await?;
    postgres::join_readers(admin_url, reader).await
}

/// The database a URL names.
fn url_database(url: &str) -> crate::error::Result<String> {
    let u = url::Url::parse(url).map_err(|e| {
        crate::error::Error::Failed(format!("internal error: the sandbox's URL: {e}"))
    })?;
    Ok(u.path().trim_start_matches('/').to_string())
}

/// The URL with another user and password.
fn with_login(url: &str, user: &str, password: &str) -> crate::error::Result<String> {
    let internal = |what: &str| {
        crate::error::Error::Failed(format!("internal error: the sandbox's URL: {what}"))
    };
    let mut u = url::Url::parse(url).map_err(|e| internal(&e.to_string()))?;
    u.set_username(user).map_err(|_| internal("user"))?;
    u.set_password(Some(password))
        .map_err(|_| internal("password"))?;
    Ok(u.to_string())
}

/// What a check session's role was refused, from the error `e` of the
/// check's `query`; `None` for any other error.
pub fn refusal(engine: EngineKind, e: &sqlx::Error, query: &str) -> Option<refusal::Refusal> {
    match engine {
        EngineKind::Postgres => postgres::refusal(e, query),
        EngineKind::Mariadb => mariadb::refusal(e, query),
    }
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
pub async fn stop_session(
    engine: EngineKind,
    admin_url: &str,
    id: u64,
    how: Stop,
) -> crate::error::Result<()> {
    let sql = match (engine, how) {
        (EngineKind::Postgres, Stop::Query) => format!("SELECT pg_cancel_backend({id})"),
        (EngineKind::Postgres, Stop::Session) => format!("SELECT pg_terminate_backend({id})"),
        (EngineKind::Mariadb, Stop::Query) => format!("KILL QUERY {id}"),
        (EngineKind::Mariadb, Stop::Session) => format!("KILL CONNECTION {id}"),
    };
    let doing = "stopping a check over the drill's time bound";
    let mut c = AnyConnection::connect(engine, admin_url).await?;
    let patience = std::time::Duration::from_secs(10);
    match tokio::time::timeout(patience, c.execute(&sql)).await {
        Err(_) => Err(crate::error::Error::Environment(format!(
            "{doing}: the server did not answer within 10 s; the sandbox is stuck or overloaded"
        ))),
        Ok(Ok(())) => Ok(()),
        // ER_NO_SUCH_THREAD: it ended on its own meanwhile.
        Ok(Err(e)) if mariadb::error_number(&e) == Some(1094) => Ok(()),
        Ok(Err(e)) => Err(crate::error::Error::db(doing, e)),
    }
}

/// The server's version as evidence, not a condition: a server too slow to
/// say it within 30 s leaves it unknown.
pub async fn server_version_within(engine: EngineKind, url: &str) -> Option<String> {
    let asked = async {
        match engine {
            EngineKind::Postgres => {
                let mut c = postgres::connect(url, std::time::Duration::from_secs(10)).await?;
                postgres::server_version(&mut c).await
            }
            EngineKind::Mariadb => {
                let mut c = mariadb::connect(url, std::time::Duration::from_secs(10)).await?;
                mariadb::server_version(&mut c).await
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), asked)
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
    pub async fn connect(engine: EngineKind, url: &str) -> crate::error::Result<AnyConnection> {
        let patience = std::time::Duration::from_secs(10);
        Ok(match engine {
            EngineKind::Postgres => {
                AnyConnection::Postgres(postgres::connect(url, patience).await?)
            }
            EngineKind::Mariadb => AnyConnection::Mariadb(mariadb::connect(url, patience).await?),
        })
    }

    /// Runs one or more statements (the simple protocol).
    pub async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        use sqlx::Executor;
        match self {
            AnyConnection::Postgres(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
            AnyConnection::Mariadb(c) => c.execute(sqlx::raw_sql(sql)).await.map(|_| ()),
        }
    }

    /// The first column of every row, read as integers.
    pub async fn integers(&mut self, sql: &str) -> Result<Vec<i64>, sqlx::Error> {
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

/// Runs `sql` (one or more statements) as the administrator at `url`.
pub async fn execute_as_admin(
    engine: EngineKind,
    url: &str,
    sql: &str,
    doing: &str,
) -> crate::error::Result<()> {
    let mut c = AnyConnection::connect(engine, url).await?;
    c.execute(sql)
        .await
        .map_err(|e| crate::error::Error::db(doing, e))
}

/// Where a tmpfs-backed data directory is mounted (entrypoints initialise an
/// empty `PGDATA` / data dir there).
const PG_TMPFS_DATA: &str = "/var/lib/postgresql/tmpfs-data";
/// Where PostgreSQL's second socket folder, shared with the host, is mounted.
const PG_SOCKET_MOUNT: &str = "/run/restore-drill";
const MARIADB_TMPFS_DATA: &str = "/var/lib/mysql-tmpfs";

impl EngineKind {
    /// The official images' environment contract.
    pub fn container_env(&self, c: &Credentials, tmpfs_data: bool) -> Vec<String> {
        let mut env = match self {
            // No password anywhere: the server listens on no port, and its
            // socket is reached only through the run's private folder.
            EngineKind::Postgres => vec![
                format!("POSTGRES_USER={}", c.user),
                "POSTGRES_HOST_AUTH_METHOD=trust".into(),
                format!("POSTGRES_DB={}", c.database),
            ],
            // The administrator is root: restoring a dump's routines,
            // triggers and DEFINERs needs more than one database's grants.
            EngineKind::Mariadb => vec![
                "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1".into(),
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

    /// The server's command, where the image's default does not fit the
    /// container's memory limit. InnoDB reads pages around the kernel's cache
    /// (O_DIRECT), so its buffer pool is all the cache a restored MariaDB has:
    /// half the container's memory, in the 128 MiB chunks InnoDB allocates.
    /// PostgreSQL reads through the kernel's cache and keeps its image's.
    pub fn server_command(&self, memory_bytes: i64) -> Option<Vec<String>> {
        const CHUNK: i64 = 128 << 20;
        match self {
            // No TCP listener; the socket also in the folder shared with the
            // host (`socket_mount`), beside the image's own for `docker exec`.
            EngineKind::Postgres => Some(vec![
                "-c".into(),
                "listen_addresses=".into(),
                "-c".into(),
                format!("unix_socket_directories=/var/run/postgresql,{PG_SOCKET_MOUNT}"),
            ]),
            EngineKind::Mariadb => {
                let pool = (memory_bytes / 2 / CHUNK).max(1) * CHUNK;
                Some(vec![
                    "mariadbd".into(),
                    "--skip-networking".into(),
                    format!("--innodb-buffer-pool-size={pool}"),
                ])
            }
        }
    }

    /// Where the folder shared with the host is mounted in the container:
    /// PostgreSQL adds a socket there; MariaDB's one socket is there already
    /// (Debian's `/run/mysqld/mysqld.sock`), where its own clients look.
    pub fn socket_mount(&self) -> &'static str {
        match self {
            EngineKind::Postgres => PG_SOCKET_MOUNT,
            EngineKind::Mariadb => "/run/mysqld",
        }
    }

    /// The image's own data directory, in the container's writable layer.
    pub fn disk_data_dir(&self) -> &'static str {
        match self {
            EngineKind::Postgres => "/var/lib/postgresql/data",
            EngineKind::Mariadb => "/var/lib/mysql",
        }
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

    /// The administrator's URL, through the socket in `socket_dir`.
    pub fn url(&self, socket_dir: &Path, c: &Credentials) -> String {
        self.url_for(socket_dir, &c.user, &c.password, &c.database)
    }

    /// The read-only role's URL: what the checks connect with.
    pub fn reader_url(&self, socket_dir: &Path, c: &Credentials) -> String {
        self.url_for(socket_dir, &c.reader, &c.reader_password, &c.database)
    }

    /// A URL both sqlx and the real clients read (libpq's `host=` names a
    /// socket folder; MariaDB's `socket=` the socket itself).
    fn url_for(&self, socket_dir: &Path, user: &str, password: &str, database: &str) -> String {
        let login = if password.is_empty() {
            user.to_string()
        } else {
            format!("{user}:{password}")
        };
        let (scheme, key, socket) = match self {
            EngineKind::Postgres => ("postgres", "host", socket_dir.to_path_buf()),
            EngineKind::Mariadb => ("mysql", "socket", socket_dir.join("mysqld.sock")),
        };
        let socket: String =
            url::form_urlencoded::byte_serialize(socket.as_os_str().as_encoded_bytes()).collect();
        format!("{scheme}://{login}@localhost/{database}?{key}={socket}")
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
