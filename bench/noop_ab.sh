#!/usr/bin/env bash
# bench/noop_ab.sh: the scheduler's per-task cost of a change, A/B: this
# tree against BASE (a commit of this repository), each built, installed
# and run in turn in a throwaway cluster, ROUNDS times alternately.
#
#   BASE=b7ae68b bash bench/noop_ab.sh                  (as root or with sudo)
#   BASE=b7ae68b ROUNDS=1 RUNS=1 TASKS=2000 bash bench/noop_ab.sh  (a quick check)
#
# MC_PG_BIN chooses the PostgreSQL installation (test/lib/common.sh); the
# two builds are installed into it in turn.
#
# Each run measures bench/engine.sh's no-op cases, smaller: TASKS (5,000)
# no-op function tasks in one workflow (max_parallel_tasks 10), and
# TASKS/20 workflows of 20 (root, 18 in parallel, sink) started in one
# statement; tasks/s from just before the start to the last end (so a
# start's work counts), and how long start_workflow of the first took.
# The script prints each run, then per side the median of ROUNDS x RUNS
# runs and the ratio this tree / BASE.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

BASE=${BASE:?BASE=<commit> names the tree to compare with}
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-3}
TASKS=${TASKS:-5000}
PORT=${PORT:-54396}
DIR=/tmp/mycelium-bench-noop-ab
DB=bench

base_tree=$(mktemp -d /tmp/mycelium-ab-base.XXXXXX)
git -C "$here" archive "$BASE" | tar -x -C "$base_tree"
trap 'rm -rf "$base_tree"' EXIT
results=$(mktemp /tmp/mycelium-ab-results.XXXXXX)

# side LABEL TREE: builds and installs TREE, runs the cases RUNS times;
# appends "LABEL one flows start_ms" lines to $results
side() {
	local label=$1 tree=$2 i wf t0 start_ms one flows ids
	(
		here=$tree
		bench_cluster_start "synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'"
		{ bench_noop_sql; echo "CREATE TABLE batch_ids (id uuid);"; } | psql_b >/dev/null
		for i in $(seq "$RUNS"); do
			wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
				'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, $TASKS) i))")
			t0=$(psql_b -At -c "SELECT clock_timestamp()")
			start_ms=$(psql_b -At -c "SELECT round(extract(epoch FROM clock_timestamp() - now())::numeric * 1000, 1)
				FROM (SELECT mycelium.start_workflow('$wf')) s")
			psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
			one=$(psql_b -At -c "SELECT round($TASKS / extract(epoch FROM finished_at - '$t0'::timestamptz))
				FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'")
			bench_diamond_workflows_sql batch_ids $((TASKS / 20)) | psql_b -At >/dev/null
			t0=$(psql_b -At -c "SELECT clock_timestamp()")
			psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
			ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
			psql_b -c "CALL public.wait_all('$ids')"
			flows=$(psql_b -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - '$t0'::timestamptz))
				FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)")
			psql_b -c "VACUUM ANALYZE" >/dev/null
			echo "$label run: one workflow $one tasks/s (start_workflow $start_ms ms); $((TASKS / 20)) workflows of 20: $flows tasks/s"
			echo "$label $one $flows $start_ms" >>"$results"
		done
	)
}

for r in $(seq "$ROUNDS"); do
	side base "$base_tree"
	side this "$here"
done

col() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$results" | mc_median; }
echo "== medians of $((ROUNDS * RUNS)) runs each, $TASKS tasks; this tree against $BASE"
for c in 2:"one workflow (tasks/s)" 3:"$((TASKS / 20)) workflows of 20 (tasks/s)" 4:"start_workflow of the one (ms)"; do
	n=${c%%:*}
	b=$(col base "$n")
	t=$(col this "$n")
	printf '%-36s base %8s  this %8s  ratio %s\n' "${c#*:}" "$b" "$t" \
		"$(awk -v a="$t" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
done
rm -f "$results"
