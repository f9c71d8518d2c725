#!/usr/bin/env bash
# bench/engine.sh: the scheduler's throughput and dispatch latency (SPEC 9).
#
#   bash bench/engine.sh            (as root or with sudo; a few minutes)
#   WORKERS=4 RUNS=5 bash bench/engine.sh
#
# In a throwaway cluster with durable commits (synchronous_commit = on):
#   1. 20,000 independent no-op function tasks in one workflow: tasks/s from
#      the workflow's start to its end (server clock: started_at to
#      finished_at); median of RUNS runs.
#   2. 1,000 workflows of 20 no-op tasks, half chains and half diamonds
#      (1 -> 18 -> 1), all started in one transaction: tasks/s from the
#      first start to the last finish; median of RUNS runs.
#   3. dispatch latency: a 2,000-task chain whose executor records when it
#      starts; for each task, its start minus the commit time of the
#      transaction that completed its dependency (track_commit_timestamp);
#      p50 and p99.
# Then, in the same cluster, what these figures are measured against
# (bench/floor.sql):
#   4. the engine issue's reference: one backend making 20,000 no-op
#      PL/pgSQL calls, each in its own subtransaction with a one-row update;
#   5. the floor: two backends doing, in plain SQL on copies of the catalog
#      tables, only the writes SPEC 2 and 3 require of a scheduler (claim
#      committed before the tasks run, completion with their effects, one
#      history row each, dependents released, workflow versions), for the
#      tasks of cases 1 (as two workflows of 10,000) and 2; tasks/s from the
#      first claim to the last completion; median of RUNS runs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
WORKERS=${WORKERS:-2}
PORT=${PORT:-54394}
DIR=/tmp/mycelium-bench-engine
DB=bench

bench_cluster_start "synchronous_commit = on" \
	"shared_buffers = '1GB'" "max_wal_size = '4GB'" "track_commit_timestamp = on" \
	"mycelium.max_workers = $WORKERS"

{
	bench_noop_sql
	cat <<'SQL'
CREATE FUNCTION public.stamp(ctx jsonb) RETURNS jsonb LANGUAGE sql
	AS $$SELECT jsonb_build_object('t', clock_timestamp())$$;
SELECT mycelium.register_executor('stamp', 'public.stamp(jsonb)');
CREATE TABLE batch_ids (id uuid);
SQL
	cat "$here/bench/floor.sql"
} | psql_b >/dev/null

echo "== 20,000 independent no-op tasks, $WORKERS workers ($RUNS runs)"
rates=()
for i in $(seq "$RUNS"); do
	wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, 20000) i),
		max_parallel_tasks => 10000)")
	psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
	psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
	r=$(psql_b -At -c "SELECT round(20000 / extract(epoch FROM finished_at - started_at))
		FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'")
	echo "run $i: $r tasks/s"
	rates+=("$r")
done
printf 'median: %s tasks/s\n' "$(printf '%s\n' "${rates[@]}" | mc_median)"

echo "== 1,000 workflows of 20 tasks (500 chains, 500 diamonds), $WORKERS workers ($RUNS runs)"
rates=()
for i in $(seq "$RUNS"); do
	bench_mixed_workflows_sql batch_ids 1000 | psql_b -At >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	r=$(psql_b -At -c "SELECT round(20000 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)")
	echo "run $i: $r tasks/s"
	rates+=("$r")
done
printf 'median: %s tasks/s\n' "$(printf '%s\n' "${rates[@]}" | mc_median)"

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
SELECT format('p50 %s us, p99 %s us, max %s us over %s hand-offs (commit of the dependency to the start of the dependent)',
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)),
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY us)), round(max(us)), count(*))
  FROM (SELECT extract(epoch FROM started - dep_committed) * 1e6 AS us FROM t) x;
SELECT format('whole chain: %s tasks/s', round(2000 / extract(epoch FROM finished_at - started_at)))
  FROM mycelium.workflows WHERE workflow_id = '$wf';
SQL

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
bench_mixed_workflows_sql batch_ids 1000 | psql_b -At >/dev/null
run_floor "1,000 workflows of 20 tasks (500 chains, 500 diamonds)"
