#!/usr/bin/env bash
# ensure-postgres.sh: make sure a local PostgreSQL accepts TCP connections, for
# CI and for the integration tests (see internal/infrastructure/postgres/pgtest).
#
# Idempotent: a server that is already up is left alone. A stopped cluster is
# started; a machine without PostgreSQL gets the Debian package first. Every
# step says what it did. Exits non-zero if the server is not ready in time.
#
# Settings (environment):
#   PGHOST        default 127.0.0.1
#   PGPORT        default 5432
#   PG_CLUSTER    cluster name, default main
#   PG_VERSION    cluster version, default: the first one under /etc/postgresql
#   READY_TIMEOUT seconds to wait for readiness, default 60
set -euo pipefail

host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"
cluster="${PG_CLUSTER:-main}"
timeout="${READY_TIMEOUT:-60}"

log() { echo "ensure-postgres: $*"; }

# as_root runs a command with root rights, through sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# first_version names the first installed major version (Debian keeps one
# directory per version under /etc/postgresql).
first_version() {
	# shellcheck disable=SC2012 # the directory names are plain version numbers
	ls /etc/postgresql | head -1
}

is_ready() {
	pg_isready -q -h "$host" -p "$port"
}

installed() {
	command -v pg_isready >/dev/null && command -v pg_ctlcluster >/dev/null &&
		[ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql)" ]
}

# install_postgres installs the Debian package, which creates and starts a
# "main" cluster, then lets local TCP clients in without a password: the tests
# connect as postgres over 127.0.0.1. Only a cluster we just created is touched.
install_postgres() {
	log "PostgreSQL is not installed; installing the Debian package"
	as_root apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
	local version hba
	version="$(first_version)"
	hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
	log "allowing trust auth for local connections in $hba (fresh install only)"
	as_root sed -i -E 's/^((local|host)\s+all\s+all\s+(\S+\s+)?)(peer|md5|scram-sha-256)\s*$/\1trust/' "$hba"
	# A running cluster must re-read pg_hba.conf; a stopped one reads it at start.
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload 2>/dev/null || true
}

start_cluster() {
	local version="${PG_VERSION:-$(first_version)}"
	log "starting cluster $version/$cluster"
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
}

# wait_ready polls until the server answers or the deadline passes.
wait_ready() {
	local deadline=$((SECONDS + timeout))
	until is_ready; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "not ready on $host:$port after ${timeout}s"
			return 1
		fi
		sleep 0.5
	done
	log "ready on $host:$port"
}

main() {
	if installed && is_ready; then
		log "already running on $host:$port; nothing to do"
		return 0
	fi
	if ! installed; then
		install_postgres
	fi
	# The package may have started the cluster already; start only if needed.
	if ! is_ready; then
		start_cluster
	fi
	wait_ready
}

main "$@"
