#!/usr/bin/env bash
# bench/citus.sh: the scheduler through a Citus coordinator with two
# workers, against the same on plain PostgreSQL in the same session
# (issue 32).
#
#   bash bench/citus.sh                         (as root or with sudo; the
#                                                full size: 1,000 workflows)
#   WORKFLOWS=50 RUNS=1 bash bench/citus.sh     (a quick check that it works)
#
# MC_PG_BIN chooses the PostgreSQL installation (test/lib/common.sh); Citus
# is built and installed into it if it is not there (test/lib/citus.sh).
#
# Two throwaway setups on this machine, with the same settings (the
# test servers' configuration, the scheduler's defaults):
#   1. plain PostgreSQL: one server with mycelium;
#   2. Citus: a coordinator and two workers (Unix sockets), citus and
#      mycelium preloaded on each, the catalog distributed with
#      mycelium.distribute(); the scheduler runs on the coordinator;
# on each, RUNS times: WORKFLOWS workflows of 20 no-op tasks (a root, 18
# in parallel, a sink), created, then started in one transaction; tasks/s
# from the first start to the last finish (the workflows' started_at and
# finished_at), then purge_workflows.  Prints the medians and the ratio
# Citus / plain.  Then what bounds the Citus figure: the coordinator's
# executor workers' time, sampled every 5 ms over one more run (on CPU,
# waiting for a worker node's reply, waiting for another worker's lock on
# a workflow's row, ...), and the transactions the worker nodes committed
# per task in that run.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"
. "$here/test/lib/citus.sh"

WORKFLOWS=${WORKFLOWS:-1000}
RUNS=${RUNS:-3}
PORT=${PORT:-54380}
DIR=/tmp/mycelium-bench-citus
DB=bench
CPORTS=($((PORT + 1)) $((PORT + 2)) $((PORT + 3)))

mc_install_packages $MC_PACKAGES
mc_citus_install "$here"
mc_stage "$here"
mc_build_install

# citus_node_start NAME PORT: a server in $DIR/NAME with citus and mycelium
# preloaded, database $DB with the extension citus
citus_node_start() {
	local name=$1 port=$2
	mc_as_user mkdir -p "$DIR/$name"
	mc_as_user initdb -D "$DIR/$name/data" -A trust -U postgres >/dev/null
	{
		cat "$MC_TREE/test/mycelium.conf"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$DIR/$name'"
		echo "shared_preload_libraries = 'citus, mycelium'"
		echo "mycelium.database = '$DB'"
		echo "max_connections = 200"
		echo "max_prepared_transactions = 200"
	} | mc_as_user tee -a "$DIR/$name/data/postgresql.conf" >/dev/null
	mc_as_user pg_ctl -D "$DIR/$name/data" -l "$DIR/$name/server.log" -w start >/dev/null ||
		{ cat "$DIR/$name/server.log"; mc_die "could not start $name"; }
	mc_as_user createdb -h "$DIR/$name" -p "$port" -U postgres "$DB"
	mc_as_user psql -X -q -h "$DIR/$name" -p "$port" -U postgres -d "$DB" -c "CREATE EXTENSION citus"
}

cleanup() {
	mc_cluster_stop "$DIR/plain"
	for name in coordinator worker1 worker2; do
		mc_as_user pg_ctl -D "$DIR/$name/data" -m fast -w stop >/dev/null 2>&1 || true
	done
	mc_unstage
}
trap cleanup EXIT
mc_as_user rm -rf "$DIR"
mc_as_user mkdir -p "$DIR"

# the plain server
mc_cluster_start "$DIR/plain" "$PORT" "$DB"
psql_p() { mc_as_user psql -X -q -v ON_ERROR_STOP=1 -h "$DIR/plain" -p "$PORT" -d "$DB" "$@"; }

# the Citus cluster: the coordinator adds the workers, then the extension
# (created on the workers by Citus) and distribute()
citus_node_start coordinator "${CPORTS[0]}"
citus_node_start worker1 "${CPORTS[1]}"
citus_node_start worker2 "${CPORTS[2]}"
psql_c() { mc_as_user psql -X -q -v ON_ERROR_STOP=1 -h "$DIR/coordinator" -p "${CPORTS[0]}" -d "$DB" "$@"; }
psql_c -At -c "SELECT citus_set_coordinator_host('$DIR/coordinator', ${CPORTS[0]})" \
	-c "SELECT citus_add_node('$DIR/worker1', ${CPORTS[1]})" \
	-c "SELECT citus_add_node('$DIR/worker2', ${CPORTS[2]})" >/dev/null
psql_c -c "CREATE EXTENSION mycelium" -c "SELECT mycelium.distribute()" >/dev/null

for target in plain coordinator; do
	if [ "$target" = plain ]; then run_sql() { psql_p "$@"; }; else run_sql() { psql_c "$@"; }; fi
	{
		bench_noop_sql
		echo "CREATE TABLE public.batch_ids (id uuid);"
	} | run_sql >/dev/null
done

# one_run RUN_SQL: WORKFLOWS diamond workflows created, started in one
# transaction and waited for; prints their tasks/s; purges them
one_run() {
	local run_sql=$1 ids rate
	bench_diamond_workflows_sql batch_ids "$WORKFLOWS" | $run_sql -At >/dev/null
	$run_sql -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$($run_sql -At -c "SELECT array_agg(id) FROM batch_ids")
	$run_sql -c "CALL public.wait_all('$ids')"
	rate=$($run_sql -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id = ANY ('$ids') AND status = 'completed'
		HAVING count(*) = $WORKFLOWS")
	[ -n "$rate" ] || mc_die "not all the $WORKFLOWS workflows completed"
	$run_sql -c "CALL mycelium.purge_workflows('0')" >/dev/null
	echo "$rate"
}

plain=() citus=()
for i in $(seq "$RUNS"); do
	plain+=("$(one_run psql_p)")
	citus+=("$(one_run psql_c)")
	echo "run $i: plain PostgreSQL ${plain[-1]} tasks/s, Citus ${citus[-1]} tasks/s"
done
p=$(printf '%s\n' "${plain[@]}" | mc_median)
c=$(printf '%s\n' "${citus[@]}" | mc_median)
echo "== $WORKFLOWS workflows of 20 no-op tasks (root, 18 in parallel, sink), medians of $RUNS"
echo "plain PostgreSQL: $p tasks/s"
echo "Citus (coordinator + 2 workers): $c tasks/s"
awk -v c="$c" -v p="$p" 'BEGIN { printf "ratio Citus / plain: %.3f\n", c / p }'

echo "== what bounds the Citus figure: one more run"
# node_commits: the transactions committed so far on the two worker
# nodes (each step of a coordinator's worker that touched a worker node is
# one there, committed in two phases when it touched both)
node_commits() {
	local i sum=0
	for i in 1 2; do
		sum=$((sum + $(mc_as_user psql -X -At -h "$DIR/worker$i" -p "${CPORTS[$i]}" -d "$DB" \
			-c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")))
	done
	echo "$sum"
}
bench_diamond_workflows_sql batch_ids "$WORKFLOWS" | psql_c -At >/dev/null
before=$(node_commits)
psql_c -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
bench_wait_events_sql "SELECT id FROM public.batch_ids" | psql_c -At
after=$(node_commits)
echo "the coordinator's executor workers' time, sampled every 5 ms (above);"
awk -v n=$((after - before)) -v t=$((WORKFLOWS * 20)) \
	'BEGIN { printf "transactions committed on the worker nodes: %d, %.2f per task\n", n, n / t }'
