#!/usr/bin/env bash
# bench/fleets_views.sh: what an operator watches (issue 31): the latency
# of the views over WORKFLOWS active workflows.
#
#   bash bench/fleets_views.sh                 (as root or with sudo; the full
#                                               size, 100,000 workflows)
#   WORKFLOWS=1000 bash bench/fleets_views.sh  (a quick check)
#
# MC_PG_BIN chooses the PostgreSQL installation (test/lib/common.sh).
#
# In a throwaway cluster, WORKFLOWS running workflows of two tasks of an
# external agent type ("ext": nobody claims them, so they stay active),
# the second depending on the first: WORKFLOWS ready tasks and as many
# pending.  An agent then claims DONE of the ready tasks and completes
# them (their dependents become ready, and the last hour has DONE
# completions with their attempts' lengths) and claims RUNNING more that it
# keeps running.  The workflows are a role's (bench_user, a member of
# mycelium_user), so each query runs twice over: as that role, through
# row-level security, and as a superuser, who sees every workflow.  Each
# query runs RUNS times, after one run to warm the caches; the script
# prints the median and the largest time of each, in ms (the issue's
# target: under 10 ms at 100,000 active workflows).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

WORKFLOWS=${WORKFLOWS:-100000}
DONE=${DONE:-1000}
RUNNING=${RUNNING:-100}
RUNS=${RUNS:-20}
PORT=${PORT:-54399}
DIR=${DIR:-/tmp/mycelium-bench-fleets-views}
DB=bench

bench_cluster_start "shared_buffers = '1GB'" "max_wal_size = '4GB'"
psql_b <<SQL >/dev/null
SELECT mycelium.register_executor('ext', NULL);
CREATE ROLE bench_user LOGIN IN ROLE mycelium_user;
CREATE TABLE public.ids (id uuid);
GRANT ALL ON public.ids TO bench_user;
SET ROLE bench_user;
INSERT INTO public.ids
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'a', 'ext'),
	mycelium.task('second', 'a', 'ext', dependencies => '{first}')))
  FROM generate_series(1, $WORKFLOWS);
SELECT count(mycelium.start_workflow(id)) FROM public.ids;
SELECT count(mycelium.complete_task(c.workflow_id, c.task_id, 'bench-agent', '{}'))
  FROM mycelium.claim_tasks('ext', 'bench-agent', max_tasks => $DONE) c;
SELECT count(*) FROM mycelium.claim_tasks('ext', 'bench-agent-2', max_tasks => $RUNNING);
RESET ROLE;
VACUUM ANALYZE;
CREATE FUNCTION public.time_query(r text, q text, runs int, OUT median_ms numeric, OUT max_ms numeric)
LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	ms float8[] := '{}';
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', r);
	EXECUTE q;
	FOR i IN 1 .. runs LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY m)::numeric, 2),
		   round(max(m)::numeric, 2)
	  INTO median_ms, max_ms FROM unnest(ms) m;
	RESET ROLE;
END \$\$;
SQL

echo "fleets views: $WORKFLOWS active workflows, $DONE completed tasks, $RUNNING running, $RUNS runs each"
psql_b -c "SELECT agent_type, ready, running, lapsed_leases, completed_last_hour, failed_last_hour,
	round(p50_ms::numeric, 2) AS p50_ms, round(p95_ms::numeric, 2) AS p95_ms, oldest_ready_age
  FROM mycelium.agent_type_stats"
psql_b -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT * FROM mycelium.agent_type_stats WHERE agent_type = 'ext'" | sed 's/^/  /'
psql_b -c "SELECT r AS role, q AS query, t.*
  FROM unnest(ARRAY['bench_user', 'postgres']) r,
	unnest(ARRAY[
	'SELECT * FROM mycelium.agent_type_stats',
	'SELECT * FROM mycelium.worker_pool',
	'SELECT * FROM mycelium.worker_pool_summary',
	'SELECT * FROM mycelium.worker_pool_by_role']) q,
	LATERAL public.time_query(r, q, $RUNS) t"
