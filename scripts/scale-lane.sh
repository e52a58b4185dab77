#!/usr/bin/env bash
# The scale lane: run the test suite against a throwaway PostgreSQL cluster and redis-server
# instead of SQLite and the in-memory channel layer.
#
#   scripts/scale-lane.sh [pytest args...]
#
# Both servers live in a fresh temporary directory on free loopback ports and are stopped (and
# the directory removed) on any exit. PostgreSQL refuses to run as root, so as root the cluster
# runs as the `postgres` user (created by Debian's postgresql package).
#
# SCALE_LANE_CMD, when set, is run with `bash -c` instead of pytest (after the migrate sanity
# check), with DATABASE_URL and REDIS_URL exported, e.g.
#   SCALE_LANE_CMD='redis-cli -u "$REDIS_URL" ping' scripts/scale-lane.sh
# SCALE_LANE_SKIP_MIGRATE=1 skips the migrate sanity check (to debug the lane itself).
# SCALE_LANE_TMPDIR chooses where the temporary directory goes (default /tmp; it must be
# reachable by the postgres user).
#
# Exit status: pytest's (or SCALE_LANE_CMD's).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python

log() { printf 'scale-lane: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 2
}

[[ -x $PY ]] || die "no $PY; run 'make install' first"

# Newest installed PostgreSQL major version.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[[ -n $PG_BIN && -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
command -v redis-server >/dev/null || die "redis-server not found"

if [[ $(id -u) -eq 0 ]]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
	PG_USER=postgres
else
	PG_USER=$(id -un)
fi

# Two distinct free loopback ports, picked while both sockets are held open.
read -r PG_PORT REDIS_PORT < <(
	"$PY" - <<'EOF'
import socket

socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)

TMP=$(mktemp -d "${SCALE_LANE_TMPDIR:-/tmp}/fengqiao-scale.XXXXXX")
chmod 755 "$TMP"
PG_STARTED=0
CHILD=

# Run a PostgreSQL binary as the cluster owner, from a directory that user can enter.
pg() {
	local cmd=$1
	shift
	if [[ $PG_USER == "$(id -un)" ]]; then
		(cd "$TMP" && "$PG_BIN/$cmd" "$@")
	else
		(cd "$TMP" && runuser -u "$PG_USER" -- "$PG_BIN/$cmd" "$@")
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then
		kill -TERM "$CHILD" 2>/dev/null
		for _ in {1..100}; do
			kill -0 "$CHILD" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	if ((PG_STARTED)); then
		pg pg_ctl -D "$TMP/data" stop -m fast -w >/dev/null 2>&1 ||
			pg pg_ctl -D "$TMP/data" stop -m immediate -w >/dev/null 2>&1
	fi
	if [[ -s $TMP/redis.pid ]]; then
		local pid
		pid=$(<"$TMP/redis.pid")
		kill "$pid" 2>/dev/null
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $PG_USER == "$(id -un)" ]] || chown "$PG_USER:" "$TMP"

log "PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT, redis on 127.0.0.1:$REDIS_PORT, in $TMP"

# C.UTF-8 always exists on Debian; without it initdb would pick SQL_ASCII when no locale is set.
# fsync and friends are off: the cluster is thrown away after the run.
pg initdb -D "$TMP/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >"$TMP/initdb.log" 2>&1 ||
	{
		cat "$TMP/initdb.log" >&2
		die "initdb failed"
	}
PG_STARTED=1
pg pg_ctl -D "$TMP/data" -l "$TMP/log" -w -t 60 start \
	-o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	>/dev/null ||
	{
		cat "$TMP/log" >&2
		die "PostgreSQL did not start"
	}
pg createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres fengqiao

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize yes --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log"
for _ in {1..100}; do
	[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
	sleep 0.1
done
[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] ||
	{
		cat "$TMP/redis.log" >&2 2>/dev/null
		die "redis-server did not start"
	}

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/fengqiao"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-mediation.settings}

if [[ -z ${SCALE_LANE_SKIP_MIGRATE:-} ]]; then
	"$PY" manage.py migrate --noinput -v0
fi

# Run in the background and wait, so that a TERM or INT sent to this script reaches the trap at
# once (and the trap stops the command) instead of after the command finishes. stdin is kept.
rc=0
if [[ -n ${SCALE_LANE_CMD:-} ]]; then
	bash -c "$SCALE_LANE_CMD" <&0 &
else
	.venv/bin/pytest "$@" <&0 &
fi
CHILD=$!
wait "$CHILD" || rc=$?
CHILD=
exit "$rc"
