#!/usr/bin/env bash
# bench/floor_levers.sh: what would raise the floor of the engine's
# throughput (bench/floor.sql), measured before changing the catalog.
#
#   bash bench/floor_levers.sh      (as root or with sudo; a few minutes)
#   RUNS=5 bash bench/floor_levers.sh
#
# In a throwaway cluster with durable commits (synchronous_commit = on),
# two backends run the floor's steps (bench/floor.sql) with one lever each
# (bench/floor_levers.sql: narrow task rows, no per-task claim rows, HOT
# updates, no history, locked rows; the first three together, and the four
# that write less together: one narrow HOT update a task), interleaved
# with the floor's own writes ("none"), on the tasks of the engine
# benchmark:
#   1. 20,000 independent tasks (two workflows of 10,000, one per backend);
#   2. 1,000 workflows of 20 tasks, half chains and half diamonds (without
#      "hot", whose claims find ready tasks by scanning the primary key).
# tasks/s = 20,000 / the wall-clock time of the two backends' calls; the
# median of RUNS runs, and each lever's median ratio to "none" in the same
# runs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-3}
PORT=${PORT:-54398}
DIR=/tmp/mycelium-bench-levers
DB=bench

bench_cluster_start "synchronous_commit = on" \
	"shared_buffers = '1GB'" "max_wal_size = '4GB'"

{
	bench_noop_sql
	echo "CREATE TABLE batch_ids (id uuid);"
	cat "$here/bench/floor.sql" "$here/bench/floor_levers.sql"
} | psql_b >/dev/null

# run_lever LEVER: one run of LEVER on the tasks of batch_ids; prints tasks/s
run_lever() {
	local lever=$1 t0 t1 pid done
	psql_b -At -c "SELECT public.floor_copy(ARRAY(SELECT id FROM batch_ids))" \
		-c "SELECT public.floor_lever_copy()" \
		-c "VACUUM ANALYZE public.floor_tasks, public.floor_workflows, public.floor_lv_states,
				public.floor_lv_defs, public.floor_lv_hot, public.floor_lv_states_hot" -c "CHECKPOINT" >/dev/null
	t0=$(date +%s.%N)
	psql_b -c "CALL public.floor_lever_${lever//+/_}(0, 2, 100)" &
	pid=$!
	psql_b -c "CALL public.floor_lever_${lever//+/_}(1, 2, 100)" || mc_die "lever $lever failed"
	wait "$pid" || mc_die "lever $lever failed"
	t1=$(date +%s.%N)
	done=$(psql_b -At -c "SELECT count(*) FROM $(psql_b -At -c "SELECT public.floor_lever_table('$lever')")
		WHERE status = 'completed'")
	[ "$done" = 20000 ] || mc_die "lever $lever completed $done tasks of 20,000"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", 20000 / (b - a) }'
}

# run_levers NAME LEVER...: RUNS rounds of the levers, interleaved
run_levers() {
	local name=$1 i lever r
	shift
	declare -A rates=()
	echo "== $name ($RUNS runs; tasks/s, and the ratio to \"none\" in the same run)"
	for lever in "$@"; do
		psql_b -At -c "SELECT public.floor_steps_create('floor_lever_${lever//+/_}', '$lever')" >/dev/null
	done
	for i in $(seq "$RUNS"); do
		for lever in "$@"; do
			r=$(run_lever "$lever")
			rates[$lever]+="$r "
		done
	done
	for lever in "$@"; do
		printf '%-24s median %6s tasks/s  ratio %s  (runs: %s)\n' "$lever" \
			"$(printf '%s\n' ${rates[$lever]} | mc_median)" \
			"$(paste -d' ' <(printf '%s\n' ${rates[$lever]}) <(printf '%s\n' ${rates[none]}) |
				awk '{ printf "%.2f\n", $1 / $2 }' | mc_median)" \
			"${rates[$lever]% }"
	done
}

psql_b -At -c "TRUNCATE batch_ids" -c "INSERT INTO batch_ids
	SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, 10000) i),
		max_parallel_tasks => 10000) FROM generate_series(1, 2)" >/dev/null
run_levers "20,000 independent tasks (two workflows of 10,000)" \
	none narrow no_claim_rows hot no_history locked narrow+no_claim_rows+hot \
	narrow+no_claim_rows+hot+no_history
bench_mixed_workflows_sql batch_ids 1000 | psql_b -At >/dev/null
run_levers "1,000 workflows of 20 tasks (500 chains, 500 diamonds)" \
	none narrow no_claim_rows no_history locked
