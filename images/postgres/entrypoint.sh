#!/bin/sh
# restore-drill PostgreSQL entrypoint; serves every major version in the image.
#
# Same contract as the official postgres image for what restore-drill uses:
#   POSTGRES_PASSWORD  required (unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER      default postgres; created as a superuser if different
#   POSTGRES_DB        default = POSTGRES_USER; owned by POSTGRES_USER (a spare
#                      database made at build time is renamed to it; with
#                      POSTGRES_DB=postgres the spare is dropped, ~0.3 s slower)
#   POSTGRES_HOST_AUTH_METHOD  auth for TCP clients, default scram-sha-256
# Differences: the cluster is created when the image is built (C.UTF-8, UTF8),
# so POSTGRES_INITDB_ARGS and /docker-entrypoint-initdb.d are not supported; the
# role "postgres" always exists. Unix-socket connections are trusted and every
# TCP connection needs the password. The users and the database are set up in
# single-user mode, so "database system is ready to accept connections" is
# printed once, by the final server, when the users exist.
#
# `docker-entrypoint.sh restore-drill-build` creates the cluster (image build).
set -eu

for d in /usr/lib/postgresql/*/bin; do PG_BIN=$d; done
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
CONF=/etc/restore-drill/postgresql.conf
MARKER=$PGDATA/restore-drill-initialized
SPARE_DB=restore_drill_spare

say() { printf '%s\n' "$*"; }  # not echo: dash's echo expands backslashes
log() { say "restore-drill entrypoint: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Run a command as the postgres user (the entrypoint itself runs as root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

write_hba() {
    cat > "$PGDATA/pg_hba.conf" <<HBA
# restore-drill: unix socket trusted (docker exec psql/pg_restore), TCP by password.
local all all trust
host  all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
HBA
    chown postgres:postgres "$PGDATA/pg_hba.conf"
}

init_cluster() {
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    as_postgres "$PG_BIN/initdb" -D "$PGDATA" --username=postgres \
        --locale=C.UTF-8 --encoding=UTF8 --auth-local=trust \
        --auth-host=scram-sha-256 --no-sync --no-instructions >/dev/null
    say "include '$CONF'" >> "$PGDATA/postgresql.conf"
    write_hba
    # CREATE DATABASE takes 0.3-0.8 s; renaming a database made here takes
    # milliseconds, so the start renames this one to POSTGRES_DB.
    say "CREATE DATABASE $SPARE_DB;" | as_postgres "$PG_BIN/postgres" --single \
        -D "$PGDATA" -c exit_on_error=on postgres >/dev/null
}

if [ "${1:-}" = restore-drill-build ]; then
    # Drop the cluster the Debian package created (build locale, /etc/postgresql).
    for c in /etc/postgresql/*/*; do
        [ -d "$c" ] || continue
        pg_dropcluster "$(basename "$(dirname "$c")")" "$(basename "$c")"
    done
    init_cluster
    exit 0
fi

# `docker run IMAGE -c name=value` passes server options.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi
shift

if [ "$(id -u)" = 0 ]; then
    mkdir -p /var/run/postgresql
    chown postgres:postgres /var/run/postgresql
    chmod 2775 /var/run/postgresql
fi
[ -s "$PGDATA/PG_VERSION" ] || init_cluster

if [ ! -e "$MARKER" ]; then
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        die "POSTGRES_PASSWORD is not set. Set it to a non-empty password (or set POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one)."
    fi
    case "${POSTGRES_PASSWORD:-}${POSTGRES_USER:-}${POSTGRES_DB:-}" in
        *'
'*) die "POSTGRES_PASSWORD, POSTGRES_USER and POSTGRES_DB must not contain a newline." ;;
    esac
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    # SQL quoting: identifiers in "", literals in '' (doubling the quote).
    qi() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
    ql() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
    pw=
    [ -z "${POSTGRES_PASSWORD:-}" ] || pw=" PASSWORD $(ql "$POSTGRES_PASSWORD")"
    {
        if [ "$user" = postgres ]; then
            say "ALTER ROLE postgres WITH LOGIN$pw;"
        else
            say "CREATE ROLE $(qi "$user") WITH SUPERUSER LOGIN$pw;"
        fi
        if [ "$db" = postgres ]; then
            say "DROP DATABASE $SPARE_DB;"
        else
            [ "$db" = "$SPARE_DB" ] || say "ALTER DATABASE $SPARE_DB RENAME TO $(qi "$db");"
            say "ALTER DATABASE $(qi "$db") OWNER TO $(qi "$user");"
        fi
    } > /tmp/restore-drill-init.sql
    write_hba
    # Single-user mode: no listener, no "ready" line; exit_on_error makes any
    # failed statement fail the start.
    if ! as_postgres "$PG_BIN/postgres" --single -D "$PGDATA" -c exit_on_error=on \
            postgres < /tmp/restore-drill-init.sql > /tmp/restore-drill-init.log 2>&1; then
        cat /tmp/restore-drill-init.log >&2
        die "setting up user $user and database $db failed"
    fi
    rm -f /tmp/restore-drill-init.sql /tmp/restore-drill-init.log
    as_postgres touch "$MARKER"
fi

if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
        "$PG_BIN/postgres" -D "$PGDATA" "$@"
fi
exec "$PG_BIN/postgres" -D "$PGDATA" "$@"
