//! PostgreSQL's backup dump: pg_dump in an exported snapshot, the manifest's
//! counts and fingerprints taken inside the same snapshot while it runs.

use super::{connect, export_snapshot, list_tables, parse_url, server_version};
use crate::engine::dump::{DumpSink, DumpTool, Dumped};
use crate::engine::reader::fingerprint_tables;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::pipeline::DumpFormat;
use chrono::Utc;
use std::time::Duration;

pub async fn dump(url: &str, sink: &dyn DumpSink, events: &Events) -> Result<Dumped> {
    let opts = parse_url(url)?;
    let mut phase = crate::measure::Clock::new(events);
    phase.begin("backup: connect");
    let mut conn = connect(url, Duration::from_secs(5)).await?;
    let server_version = server_version(&mut conn).await?;
    let mut snapshot = export_snapshot(conn).await?;
    // Listed inside the exported snapshot: a table created or dropped while the
    // backup starts is in both the dump and the manifest, or in neither.
    let tables = list_tables(&mut snapshot.conn).await?;
    let created_at = Utc::now();
    phase.end();

    let tx = sink.open(created_at)?;
    phase.begin("backup: dump, compress, encrypt, fingerprint");
    let snapshot_id = snapshot.id.clone();
    let dump = async {
        let tool = pg_dump(url, &opts, &snapshot_id)?;
        sink.run(tool, tx).await
    };
    let fingerprints = fingerprint_tables(&mut snapshot.conn, &tables);
    let (dump_result, fp_result) = tokio::join!(dump, fingerprints);
    sink.written().await?;
    dump_result?;
    let tables = fp_result?;
    snapshot.finish().await?;
    phase.end();
    Ok(Dumped {
        created_at,
        server_version,
        format: DumpFormat::PostgresCustom,
        tool: "pg_dump",
        fingerprint_algorithm: crate::catalog::manifest::FINGERPRINT_ALGORITHM,
        tables,
        commits_held: None,
    })
}

/// pg_dump in the snapshot: inside the database's container (ours) over its
/// unix socket, where the client always matches the server's version, as
/// `postgres`; or this host's, against the URL.
fn pg_dump(url: &str, opts: &sqlx::postgres::PgConnectOptions, snapshot: &str) -> Result<DumpTool> {
    let user = opts.get_username().to_string();
    let database = opts.get_database().unwrap_or(&user).to_string();
    let args = super::dump_args(snapshot);
    let mut in_container = vec![
        "pg_dump".to_string(),
        format!("--username={user}"),
        format!("--dbname={database}"),
    ];
    in_container.extend(args.iter().cloned());
    let parsed =
        url::Url::parse(url).map_err(|e| Error::Usage(format!("invalid database URL: {e}")))?;
    // Out of the user part and the query string (`?password=`) both.
    let (url, password) = crate::engine::db_url::split_password(&parsed);
    let mut local_args = vec![format!("--dbname={url}")];
    local_args.extend(args);
    Ok(DumpTool {
        name: "pg_dump",
        in_container,
        container_user: Some("postgres"),
        local_args,
        local_password: password.map(|p| ("PGPASSWORD", p)),
        install_hint: "Install the PostgreSQL client of the server's major version \
                       (Debian: apt-get install postgresql-client-NN)",
    })
}
