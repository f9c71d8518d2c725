# test/lib/common.sh: shared by test/run-tests, examples/run-demo and bench/.
#
# Installs what is missing (Debian packages), builds and installs the
# extension, and starts throwaway PostgreSQL clusters.  PostgreSQL will not
# run as root, so when invoked as root the build tree is copied to a
# directory owned by an unprivileged OS user (postgres, created by the
# postgresql package) and the servers and tests run as that user.

MC_PG_VERSION=${MC_PG_VERSION:-15}
MC_PG_BIN=${MC_PG_BIN:-/usr/lib/postgresql/$MC_PG_VERSION/bin}
MC_RUN_USER=${MC_RUN_USER:-postgres}

# packages every command needs; callers may add their own
MC_PACKAGES="postgresql-$MC_PG_VERSION postgresql-server-dev-$MC_PG_VERSION
	postgresql-$MC_PG_VERSION-cron postgresql-$MC_PG_VERSION-pgtap
	libtap-parser-sourcehandler-pgtap-perl libjansson-dev libipc-run-perl
	make gcc lcov rsync libtest-json-schema-acceptance-perl python3-psycopg graphviz
	python3-psycopg-pool python3-pytest python3-venv python3-pip python3-setuptools
	python3-wheel nodejs chromium"

mc_log() { printf '\n=== %s\n' "$*"; }
mc_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# mc_install_packages PKG...: installs the Debian packages not yet installed
mc_install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	mc_log "installing Debian packages: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	# the postgresql package must not start (or create) a cluster of its own
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		$sudo mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# mc_as_user CMD...: runs a command as the unprivileged user when we are root
mc_as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$MC_RUN_USER" -- env PATH="$MC_PG_BIN:$PATH" "$@"
	else
		env PATH="$MC_PG_BIN:$PATH" "$@"
	fi
}

# mc_as_root CMD...: runs a command with the rights to install into PostgreSQL
mc_as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# mc_stage SRC: sets MC_TREE to a build tree the unprivileged user can write
# (a copy of SRC when we are root, SRC itself otherwise)
mc_stage() {
	local src=$1
	if [ "$(id -u)" -eq 0 ]; then
		MC_TREE=$(mktemp -d /tmp/mycelium-tree.XXXXXX)
		rsync -a --exclude .git --exclude 'tmp_check*' --exclude results \
			--exclude '*.o' --exclude '*.so' --exclude '*.gc*' --exclude node_modules \
			--exclude __pycache__ "$src"/ "$MC_TREE"/
		chown -R "$MC_RUN_USER" "$MC_TREE"
	else
		MC_TREE=$src
	fi
	export MC_TREE
}

# mc_unstage: removes the copy mc_stage made, if it made one
mc_unstage() {
	if [ -n "${MC_TREE:-}" ] && [[ "$MC_TREE" == /tmp/mycelium-tree.* ]]; then
		rm -rf "$MC_TREE"
	fi
}

# the releases an upgrade is tested from, as VERSION:COMMIT (the commit of
# the release in this repository's history; test/t/021_upgrade.pl)
MC_UPGRADE_BASES="0.1.0:35d736fce7e98e419cb13474679ad54b5327b53c"

# mc_upgrade_sources SRC: extracts each release of MC_UPGRADE_BASES from
# the git history of SRC into $MC_TREE/tmp_upgrade/mycelium-VERSION, for
# the upgrade test to build
mc_upgrade_sources() {
	local src=$1 base version commit dest
	for base in $MC_UPGRADE_BASES; do
		version=${base%%:*}
		commit=${base#*:}
		dest="$MC_TREE/tmp_upgrade/mycelium-$version"
		rm -rf "$dest"
		mkdir -p "$dest"
		git -c safe.directory='*' -C "$src" archive "$commit" | tar -x -C "$dest" ||
			mc_die "cannot extract release $version ($commit) from the git history of $src; the upgrade test needs a clone with its history"
	done
	[ "$(id -u)" -eq 0 ] && chown -R "$MC_RUN_USER" "$MC_TREE/tmp_upgrade"
	return 0
}

# mc_build_install [make variables...]: builds in MC_TREE and installs
mc_build_install() {
	mc_log "building and installing the extension $*"
	mc_as_user make -C "$MC_TREE" -s clean >/dev/null
	mc_as_user make -C "$MC_TREE" -s PG_CONFIG="$MC_PG_BIN/pg_config" "$@" >/dev/null
	mc_as_root make -C "$MC_TREE" -s PG_CONFIG="$MC_PG_BIN/pg_config" "$@" install >/dev/null
}

# mc_cluster_start DIR PORT DBNAME [CONF_LINE...]: a new cluster in DIR,
# started with the extension preloaded; DBNAME is created with mycelium,
# and the function returns once the scheduler's launcher and its warm
# workers (mycelium.min_workers) are connected to it (the launcher started
# before DBNAME existed, and retries once a second)
mc_cluster_start() {
	local dir=$1 port=$2 db=$3 line
	shift 3
	mc_as_user rm -rf "$dir"
	mc_as_user mkdir -p "$dir"
	mc_as_user initdb -D "$dir/data" -A trust -U postgres >/dev/null
	{
		cat "$MC_TREE/test/mycelium.conf"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "cron.database_name = '$db'"
		echo "mycelium.database = '$db'"
		for line in "$@"; do echo "$line"; done
	} | mc_as_user tee -a "$dir/data/postgresql.conf" >/dev/null
	mc_as_user pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null ||
		{ cat "$dir/server.log"; mc_die "could not start the server in $dir"; }
	mc_as_user createdb -h "$dir" -p "$port" -U postgres "$db"
	mc_as_user psql -X -q -h "$dir" -p "$port" -U postgres -d "$db" \
		-c "CREATE EXTENSION mycelium" >/dev/null
	for _ in $(seq 100); do
		[ "$(mc_as_user psql -X -At -h "$dir" -p "$port" -U postgres -d "$db" -c "
			SELECT count(*) FILTER (WHERE backend_type = 'mycelium launcher') = 1
			   AND count(*) FILTER (WHERE backend_type = 'mycelium worker')
			       >= least(current_setting('mycelium.min_workers')::int,
			                current_setting('mycelium.max_workers')::int)
			  FROM pg_stat_activity
			 WHERE datname = current_database()")" = t ] && return 0
		sleep 0.1
	done
	mc_die "the scheduler's workers did not connect to $db in $dir"
}

# mc_cluster_stop DIR: stops the cluster in DIR
mc_cluster_stop() {
	mc_as_user pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

# mc_median: the median of the numbers on stdin, one a line (benchmarks)
mc_median() {
	sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
