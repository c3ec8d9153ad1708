#!/bin/sh
# restore-drill MariaDB entrypoint.
#
# Same contract as the official mariadb image for what restore-drill uses
# (each MARIADB_* variable also accepted under its MYSQL_* name):
#   MARIADB_ROOT_PASSWORD  root's password; or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1,
#                          or MARIADB_RANDOM_ROOT_PASSWORD=1 (printed in the log)
#   MARIADB_DATABASE       created if set
#   MARIADB_USER, MARIADB_PASSWORD  created for host '%', all privileges on
#                          MARIADB_DATABASE
# Accounts use mysql_native_password (clients without ed25519 can log in);
# root@localhost also keeps unix_socket, so `docker exec C mariadb` works as is.
#   MARIADB_DATADIR        the data directory (default /var/lib/mysql); an empty
#                          one (a tmpfs mounted there) is initialised at start
# Differences: the default data directory is created when the image is built;
# time zone tables are not loaded; /docker-entrypoint-initdb.d is not supported. The
# accounts are made in bootstrap mode (no listener), so "ready for connections"
# is printed once, by the final server, when the accounts exist.
#
# `docker-entrypoint.sh restore-drill-build` creates the data directory (image build).
set -eu

BUILT_DATADIR=/var/lib/mysql
DATADIR=${MARIADB_DATADIR:-$BUILT_DATADIR}
MARKER=$DATADIR/restore-drill-initialized

say() { printf '%s\n' "$*"; }  # not echo: dash's echo expands backslashes
log() { say "restore-drill entrypoint: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --cross-bootstrap: no root@HOSTNAME account (the build host's name).
install_db() {
    mkdir -p "$DATADIR"
    chown mysql:mysql "$DATADIR"
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket --cross-bootstrap >/dev/null
}

if [ "${1:-}" = restore-drill-build ]; then
    # Start from an empty data directory whatever the package's scripts left.
    DATADIR=$BUILT_DATADIR
    rm -rf "${DATADIR:?}"/* "$DATADIR"/.[!.]* 2>/dev/null || true
    install_db
    exit 0
fi

# `docker run IMAGE --option=value` passes server options.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
case "$1" in
    mariadbd|mysqld) shift ;;
    *) exec "$@" ;;
esac

if [ "$(id -u)" = 0 ]; then
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
fi

# A data directory given empty (a size-limited tmpfs) is made here, in about a
# second; the image's own was made when it was built.
if [ ! -d "$DATADIR/mysql" ]; then
    install_db
fi

if [ ! -e "$MARKER" ]; then
    root_pw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
    allow_empty=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}
    random_pw=${MARIADB_RANDOM_ROOT_PASSWORD:-${MYSQL_RANDOM_ROOT_PASSWORD:-}}
    database=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
    user=${MARIADB_USER:-${MYSQL_USER:-}}
    password=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}

    if [ -z "$root_pw" ] && [ -n "$random_pw" ]; then
        root_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
        say "GENERATED ROOT PASSWORD: $root_pw"
    fi
    if [ -z "$root_pw" ] && [ -z "$allow_empty" ]; then
        die "the database is uninitialized and no root password is set. Set MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 or MARIADB_RANDOM_ROOT_PASSWORD=1)."
    fi
    if [ -n "$user" ] && [ -z "$password" ]; then
        die "MARIADB_USER is set but MARIADB_PASSWORD is not."
    fi
    if [ "$user" = root ]; then
        die "MARIADB_USER=root: set MARIADB_ROOT_PASSWORD for root instead."
    fi
    case "$root_pw$database$user$password" in
        *'
'*) die "the MARIADB_* values must not contain a newline." ;;
    esac

    # SQL quoting: identifiers in ``, strings in '' (backslash and quote escaped).
    qi() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }
    ql() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }
    auth() { say "IDENTIFIED VIA mysql_native_password USING PASSWORD($(ql "$1"))"; }
    {
        # Bootstrap mode starts without the grant tables; this loads them.
        say "FLUSH PRIVILEGES;"
        say "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($(ql "$root_pw"));"
        say "CREATE USER 'root'@'%' $(auth "$root_pw");"
        say "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "$database" ]; then
            say "CREATE DATABASE IF NOT EXISTS $(qi "$database");"
        fi
        if [ -n "$user" ]; then
            say "CREATE USER $(ql "$user")@'%' $(auth "$password");"
            if [ -n "$database" ]; then
                say "GRANT ALL ON $(qi "$database").* TO $(ql "$user")@'%';"
            fi
        fi
    } > /tmp/restore-drill-init.sql
    if ! mariadbd --bootstrap --user=mysql --datadir="$DATADIR" \
            --innodb-buffer-pool-load-at-startup=0 --innodb-buffer-pool-dump-at-shutdown=0 \
            < /tmp/restore-drill-init.sql > /tmp/restore-drill-init.log 2>&1; then
        cat /tmp/restore-drill-init.log >&2
        die "creating the accounts failed"
    fi
    rm -f /tmp/restore-drill-init.sql /tmp/restore-drill-init.log
    touch "$MARKER"
fi

if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=mysql --regid=mysql --init-groups -- mariadbd --datadir="$DATADIR" "$@"
fi
exec mariadbd --datadir="$DATADIR" "$@"
