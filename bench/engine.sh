#!/usr/bin/env bash
# bench/engine.sh: the scheduler's throughput, parallelism and dispatch
# latency, against graphile-worker in the same cluster (SPEC 9, issue 28).
#
#   bash bench/engine.sh                   (as root or with sudo; several minutes)
#   RUNS=5 bash bench/engine.sh            (the official figures: medians of 5)
#   RUNS=1 TASKS=2000 bash bench/engine.sh (a quick check that it works)
#
# In a throwaway cluster with durable commits (synchronous_commit = on) and
# the scheduler's defaults (an elastic pool of up to mycelium.max_workers
# workers; WORKERS=n sets that), medians of RUNS runs:
#   1. TASKS (20,000) independent no-op function tasks in one workflow, the
#      default max_parallel_tasks (10): tasks/s from the workflow's start to
#      its end (server clock: started_at to finished_at);
#   2. graphile-worker 0.18 (bench/peers, installed with npm ci) batched:
#      concurrency 10, a local queue of 500, completions batched without
#      delay, on TASKS no-op jobs in the same cluster: jobs/s from the
#      runner's start to the last completion; the ratios 1/2 and 3/2
#      (target: at least 2.0 each);
#   3. case 1 with max_parallel_tasks 10000;
#   4. 1,000 workflows of 20 no-op tasks (root, 18 in parallel, sink),
#      default max_parallel_tasks, all started in one transaction: tasks/s
#      from the first start to the last finish; the ratio 4/2 (target: at
#      least 1.0);
#   5. 20 tasks of pg_sleep(1), max_parallel_tasks 10: seconds from the
#      workflow's start to its end (target: at most 2.3 s);
#   6. one workflow of 2,000 no-op tasks and 20 tasks of pg_sleep(1),
#      max_parallel_tasks 10: seconds from start to end (target: 2.6 s);
#   7. dispatch latency: a 2,000-task chain whose executor records when it
#      starts; for each task, its start minus the commit time of the
#      transaction that completed its dependency (track_commit_timestamp);
#      p50 and p99 (targets: 0.5 ms and 5 ms);
#   then what bounds cases 1 and 4: the executor workers' wait events,
#      sampled every 5 ms over one more run of each (on CPU, waiting for
#      a workflow's row another worker holds, WAL, sleeping, other);
#   8. the idle scheduler's CPU: the launcher's and the workers' CPU time
#      over IDLE_SECONDS (10) with nothing to do, as a share of one core
#      (target: under 1%).
# Then, in the same cluster, what these figures are measured against
# (bench/floor.sql):
#   9. the engine issue's reference: one backend making 20,000 no-op
#      PL/pgSQL calls, each in its own subtransaction with a one-row update;
#  10. the floor: two backends doing, in plain SQL on copies of the catalog
#      tables, only the writes SPEC 2 and 3 require of a scheduler (claim
#      committed before the tasks run, completion with their effects, one
#      history row each, dependents released, workflow versions), for the
#      tasks of cases 1 (as two workflows of 10,000) and 4; tasks/s from the
#      first claim to the last completion; median of RUNS runs.
# FLOOR=0 leaves out 9 and 10.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
TASKS=${TASKS:-20000}
WORKERS=${WORKERS:-}
IDLE_SECONDS=${IDLE_SECONDS:-10}
FLOOR=${FLOOR:-1}
PORT=${PORT:-54394}
DIR=${DIR:-/tmp/mycelium-bench-engine}
DB=bench

# graphile-worker, as package-lock.json pins it
if [ ! -d "$here/bench/peers/node_modules/graphile-worker" ]; then
	(cd "$here/bench/peers" && npm ci --no-audit --no-fund >/dev/null)
fi

conf=("synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'"
	"track_commit_timestamp = on")
[ -n "$WORKERS" ] && conf+=("mycelium.max_workers = $WORKERS")
bench_cluster_start "${conf[@]}"

{
	bench_noop_sql
	cat <<'SQL'
CREATE FUNCTION public.stamp(ctx jsonb) RETURNS jsonb LANGUAGE sql
	AS $$SELECT jsonb_build_object('t', clock_timestamp())$$;
SELECT mycelium.register_executor('stamp', 'public.stamp(jsonb)');
CREATE FUNCTION public.sleep1(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql
	AS 'BEGIN PERFORM pg_sleep(1); RETURN NULL; END';
SELECT mycelium.register_executor('sleep1', 'public.sleep1(jsonb)');
CREATE TABLE batch_ids (id uuid);
SQL
	[ "$FLOOR" = 0 ] || cat "$here/bench/floor.sql"
} | psql_b >/dev/null

# ratio A B: A / B to two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
# median VALUES...: their median
median() { printf '%s\n' "$@" | mc_median; }

# seconds_of WORKFLOW_SQL: creates the workflow, runs it, prints its seconds
seconds_of() {
	local wf
	wf=$(psql_b -At -c "SELECT mycelium.create_workflow($1)")
	psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
	psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
	psql_b -At -c "SELECT round(extract(epoch FROM finished_at - started_at)::numeric, 2)
		FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'"
}

conn="postgres://postgres@/$DB?host=$DIR&port=$PORT"
gw=() m10=() m10k=() flows=() sleep20=() mixed=()
for i in $(seq "$RUNS"); do
	gw+=("$(cd "$here/bench/peers" && node graphile.mjs "$conn" "$TASKS" 10 500)")
	psql_b -c "TRUNCATE graphile_worker._private_jobs CASCADE" -c "VACUUM ANALYZE" >/dev/null
	m10+=("$(bench_noop_workflow "$TASKS")")
	m10k+=("$(bench_noop_workflow "$TASKS" "" ", max_parallel_tasks => 10000")")
	bench_diamond_workflows_sql batch_ids $((TASKS / 20)) | psql_b -At >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	flows+=("$(psql_b -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)")")
	sleep20+=("$(seconds_of "(SELECT jsonb_agg(jsonb_build_object('task_id', 's' || i, 'agent_id', 'a',
		'agent_type', 'sleep1')) FROM generate_series(1, 20) i), max_parallel_tasks => 10")")
	mixed+=("$(seconds_of "(SELECT jsonb_agg(jsonb_build_object('task_id', 'n' || i, 'agent_id', 'a',
		'agent_type', 'noop')) FROM generate_series(1, 2000) i)
		|| (SELECT jsonb_agg(jsonb_build_object('task_id', 's' || i, 'agent_id', 'a',
		'agent_type', 'sleep1')) FROM generate_series(1, 20) i), max_parallel_tasks => 10")")
	psql_b -c "VACUUM ANALYZE" >/dev/null
	echo "run $i: graphile-worker ${gw[-1]} jobs/s; mycelium ${m10[-1]} tasks/s (max_parallel_tasks 10)," \
		"${m10k[-1]} (10000), ${flows[-1]} (1,000 workflows); 20 x 1 s: ${sleep20[-1]} s;" \
		"2,000 no-op + 20 x 1 s: ${mixed[-1]} s"
done
g=$(median "${gw[@]}")
echo "== medians of $RUNS runs, $TASKS tasks"
echo "graphile-worker batched (concurrency 10, local queue 500): $g jobs/s"
printf '%-62s %8s tasks/s  %5sx  (target >= 2.0x)\n' \
	"no-op tasks, default max_parallel_tasks (10):" "$(median "${m10[@]}")" "$(ratio "$(median "${m10[@]}")" "$g")" \
	"no-op tasks, max_parallel_tasks 10000:" "$(median "${m10k[@]}")" "$(ratio "$(median "${m10k[@]}")" "$g")"
printf '%-62s %8s tasks/s  %5sx  (target >= 1.0x)\n' \
	"$((TASKS / 20)) workflows of 20 (root, 18 in parallel, sink):" "$(median "${flows[@]}")" "$(ratio "$(median "${flows[@]}")" "$g")"
printf '%-62s %8s s  (target <= 2.3 s)\n' "20 tasks of 1 s, max_parallel_tasks 10:" "$(median "${sleep20[@]}")"
printf '%-62s %8s s  (target <= 2.6 s)\n' "2,000 no-op and 20 tasks of 1 s, max_parallel_tasks 10:" "$(median "${mixed[@]}")"

echo "== dispatch latency: 2,000-task chain"
wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
	'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'stamp', 'dependencies',
	CASE WHEN i = 1 THEN '[]'::jsonb ELSE jsonb_build_array('t' || (i - 1)) END) ORDER BY i)
	FROM generate_series(1, 2000) i))")
psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
psql_b -At <<SQL
WITH t AS (
	SELECT s.task_no, (s.result->>'t')::timestamptz AS started,
		   pg_xact_commit_timestamp(d.xmin) AS dep_committed
	  FROM mycelium.task_states s
	  JOIN mycelium.task_states d ON d.workflow_id = s.workflow_id AND d.task_no = s.task_no - 1
	 WHERE s.workflow_id = '$wf')
SELECT format('p50 %s us, p99 %s us, max %s us over %s hand-offs (commit of the dependency to the start of the dependent; targets 500 us and 5,000 us)',
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)),
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY us)), round(max(us)), count(*))
  FROM (SELECT extract(epoch FROM started - dep_committed) * 1e6 AS us FROM t) x;
SELECT format('whole chain: %s tasks/s', round(2000 / extract(epoch FROM finished_at - started_at)))
  FROM mycelium.workflows WHERE workflow_id = '$wf';
SQL

# where_time_goes WORKFLOW_IDS_SQL: the executor workers' wait events
# until those workflows end (bench_wait_events_sql)
where_time_goes() { bench_wait_events_sql "$1" | psql_b -At; }
echo "== what bounds the throughput: the executor workers' time, sampled every 5 ms"
wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
	'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, $TASKS) i))")
psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
echo "$TASKS no-op tasks, default max_parallel_tasks ($(psql_b -At -c "SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'mycelium worker'") workers at the start):"
where_time_goes "'$wf'"
bench_diamond_workflows_sql batch_ids $((TASKS / 20)) | psql_b -At >/dev/null
psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
echo "$((TASKS / 20)) workflows of 20:"
where_time_goes "SELECT id FROM batch_ids"
psql_b -c "VACUUM ANALYZE" >/dev/null

# scheduler_ticks PIDS...: their CPU time (utime + stime, in clock ticks)
scheduler_ticks() {
	local pid t=0
	for pid in "$@"; do
		[ -r "/proc/$pid/stat" ] || continue
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
	done
	echo "$t"
}
echo "== the idle scheduler: CPU over $IDLE_SECONDS s with nothing to do"
# first the pool shrinks to mycelium.min_workers (worker_idle_timeout)
for _ in $(seq 120); do
	[ "$(psql_b -At -c "SELECT count(*) <= current_setting('mycelium.min_workers')::int
		FROM pg_stat_activity WHERE backend_type = 'mycelium worker'")" = t ] && break
	sleep 0.5
done
pids=$(psql_b -At -c "SELECT pid FROM pg_stat_activity
	WHERE backend_type IN ('mycelium launcher', 'mycelium worker')")
t0=$(scheduler_ticks $pids)
sleep "$IDLE_SECONDS"
t1=$(scheduler_ticks $pids)
awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$IDLE_SECONDS" \
	'BEGIN { printf "%.2f%% of one core (target < 1%%)\n", 100 * d / hz / s }'
echo "(processes: $(psql_b -At -c "SELECT string_agg(backend_type, ', ') FROM pg_stat_activity
	WHERE backend_type IN ('mycelium launcher', 'mycelium worker')"))"

[ "$FLOOR" = 0 ] && exit 0

echo "== the engine issue's reference: 20,000 no-op PL/pgSQL calls, each in a subtransaction with a one-row update, one backend ($RUNS runs)"
rates=()
for i in $(seq "$RUNS"); do
	r=$(psql_b -At <<'SQL'
TRUNCATE public.floor_ref;
INSERT INTO public.floor_ref SELECT i, 0 FROM generate_series(1, 20000) i;
VACUUM ANALYZE public.floor_ref;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CALL public.floor_reference(20000);
SELECT round(20000 / (extract(epoch FROM clock_timestamp()) - :t0));
SQL
)
	echo "run $i: $r calls/s"
	rates+=("$r")
done
printf 'median: %s calls/s\n' "$(printf '%s\n' "${rates[@]}" | mc_median)"

# run_floor NAME: runs the floor on the workflows of batch_ids, in two backends
run_floor() {
	local name=$1 i r rates=()
	echo "== the floor (bench/floor.sql), $name: the writes alone, 2 backends ($RUNS runs)"
	for i in $(seq "$RUNS"); do
		psql_b -At -c "SELECT public.floor_copy(ARRAY(SELECT id FROM batch_ids))" \
			-c "VACUUM ANALYZE public.floor_tasks, public.floor_workflows" -c "CHECKPOINT" >/dev/null
		psql_b -c "CALL public.floor_run(0, 2, 100)" &
		psql_b -c "CALL public.floor_run(1, 2, 100)"
		wait
		r=$(psql_b -At -c "SELECT round(count(*) / extract(epoch FROM max(finished_at) - min(started_at)))
			FROM public.floor_tasks WHERE status = 'completed' HAVING count(*) = 20000")
		[ -n "$r" ] || mc_die "the floor did not complete its 20,000 tasks"
		echo "run $i: $r tasks/s"
		rates+=("$r")
	done
	printf 'median: %s tasks/s\n' "$(printf '%s\n' "${rates[@]}" | mc_median)"
}

psql_b -At -c "TRUNCATE batch_ids" -c "INSERT INTO batch_ids
	SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, 10000) i),
		max_parallel_tasks => 10000) FROM generate_series(1, 2)" >/dev/null
run_floor "20,000 independent tasks (two workflows of 10,000)"
bench_diamond_workflows_sql batch_ids 1000 | psql_b -At >/dev/null
run_floor "1,000 workflows of 20 tasks (root, 18 in parallel, sink)"
