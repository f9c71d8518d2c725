#!/usr/bin/env bash
# bench/foundation.sh: the state manager's figures (SPEC section 9).
#
#   bash bench/foundation.sh            (as root or with sudo; ~2 minutes)
#
# In a throwaway cluster with durable commits (synchronous_commit = on):
#   1. create_workflow of 100,000 tasks, as a chain and as a wide
#      fan-out/fan-in (1 -> 99,998 -> 1); the statement's wall time as psql
#      measures it, commit included; median of RUNS runs.
#   2. update_task latency: one client, one call per transaction
#      (pgbench, commit included) and the call alone inside one
#      transaction (clock_timestamp around each call); p50 and p99.
#   3. storage bytes per task: tables and indexes of a 100,000-task
#      workflow as created, and of a 20,000-task workflow after every task
#      ran (running -> completed with an empty result, history included).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
PORT=${PORT:-54393}
DIR=/tmp/mycelium-bench-foundation
DB=bench

bench_cluster_start "synchronous_commit = on" \
	"shared_buffers = '1GB'" "max_wal_size = '4GB'"


psql_b <<'SQL'
CREATE FUNCTION public.noop(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT mycelium.register_executor('noop', 'public.noop(jsonb)');
CREATE TABLE bench_input (kind text PRIMARY KEY, tasks jsonb);
INSERT INTO bench_input
SELECT 'chain', jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a',
		'agent_type', 'noop', 'dependencies',
		CASE WHEN i = 1 THEN '[]'::jsonb ELSE jsonb_build_array('t' || (i - 1)) END) ORDER BY i)
  FROM generate_series(1, 100000) i;
INSERT INTO bench_input
SELECT 'fan', jsonb_build_array(jsonb_build_object('task_id', 'root', 'agent_id', 'a', 'agent_type', 'noop'))
	|| (SELECT jsonb_agg(jsonb_build_object('task_id', 'w' || i, 'agent_id', 'a',
			'agent_type', 'noop', 'dependencies', '["root"]'::jsonb))
		  FROM generate_series(1, 99998) i)
	|| jsonb_build_array(jsonb_build_object('task_id', 'sink', 'agent_id', 'a', 'agent_type', 'noop',
			'dependencies', (SELECT jsonb_agg('w' || i) FROM generate_series(1, 99998) i)));
SQL

# time_create KIND: wall time in ms of create_workflow of that input, RUNS times
time_create() {
	local i
	for i in $(seq "$RUNS"); do
		psql_b -c '\timing on' \
			-c "SELECT mycelium.create_workflow(tasks) IS NOT NULL FROM bench_input WHERE kind = '$1'" |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	done
}

echo "== create_workflow, 100,000 tasks ($RUNS runs each)"
chain=$(time_create chain | tee /dev/stderr | mc_median)
fan=$(time_create fan | tee /dev/stderr | mc_median)
printf 'chain      median %8.1f ms\nfan-in/out median %8.1f ms\n' "$chain" "$fan"

echo "== update_task latency"
psql_b -c "CREATE SEQUENCE bench_seq" \
	-c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, 40000) i)) AS wf" \
	-At -o /dev/null
wf=$(psql_b -At -c "SELECT workflow_id FROM mycelium.workflows ORDER BY created_at DESC LIMIT 1")
cat > "$DIR/update_task.sql" <<SQL
SELECT mycelium.update_task('$wf', 't' || nextval('bench_seq'), 'running');
SQL
chown "$MC_RUN_USER" "$DIR/update_task.sql" 2>/dev/null || true
(cd "$DIR" && mc_as_user pgbench -n -h "$DIR" -p "$PORT" -c 1 -t 20000 -l --log-prefix="$DIR/pgb" \
	-f "$DIR/update_task.sql" "$DB" | grep -E "tps|latency average")
lat=$(cat "$DIR"/pgb.* | awk '{ print $3 }' | sort -n)
n=$(echo "$lat" | wc -l)
p50=$(echo "$lat" | sed -n "$((n / 2))p")
p99=$(echo "$lat" | sed -n "$((n * 99 / 100))p")
printf 'per transaction (call + durable commit): p50 %d us, p99 %d us over %d calls\n' "$p50" "$p99" "$n"

psql_b -At <<SQL
CREATE TABLE lat (us float8);
-- one call per transaction, each committed durably; the timed region is
-- the call alone
CREATE PROCEDURE bench_update(wf uuid, first int, last int) LANGUAGE plpgsql AS \$\$
DECLARE
	t0 timestamptz;
	i int;
BEGIN
	FOR i IN first .. last LOOP
		t0 := clock_timestamp();
		PERFORM mycelium.update_task(wf, 't' || i, 'running');
		INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1e6);
		COMMIT;
	END LOOP;
END
\$\$;
CALL bench_update('$wf', 20001, 40000);
SELECT format('call alone (one call per transaction): p50 %s us, p99 %s us over %s calls',
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)),
	round(percentile_cont(0.99) WITHIN GROUP (ORDER BY us)), count(*)) FROM lat;
SQL

echo "== storage per task"
psql_b -At <<'SQL'
TRUNCATE mycelium.workflow_states, mycelium.task_states, mycelium.task_ids, mycelium.workflow_state_history;
VACUUM FULL mycelium.workflow_states, mycelium.task_states, mycelium.task_ids, mycelium.workflow_state_history;
SELECT mycelium.create_workflow(tasks) IS NOT NULL FROM bench_input WHERE kind = 'chain' \g /dev/null
VACUUM ANALYZE mycelium.task_states, mycelium.task_ids, mycelium.workflow_states, mycelium.workflow_state_history;
CREATE FUNCTION pg_temp.bytes() RETURNS bigint LANGUAGE sql AS $$
	SELECT pg_total_relation_size('mycelium.task_states')
		 + pg_total_relation_size('mycelium.task_ids')
		 + pg_total_relation_size('mycelium.workflow_states')
		 + pg_total_relation_size('mycelium.workflow_state_history')
$$;
SELECT format('created, 100,000-task chain: %s bytes per task (tables + indexes)',
	round(pg_temp.bytes() / 100000.0));
TRUNCATE mycelium.workflow_states, mycelium.task_states, mycelium.task_ids, mycelium.workflow_state_history;
VACUUM FULL mycelium.workflow_states, mycelium.task_states, mycelium.task_ids, mycelium.workflow_state_history;
SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i,
	'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, 20000) i)) AS wf \gset
CREATE PROCEDURE pg_temp.run_all(wf uuid) LANGUAGE plpgsql AS $$
DECLARE
	i int;
BEGIN
	FOR i IN 1 .. 20000 LOOP
		PERFORM mycelium.update_task(wf, 't' || i, 'running');
		PERFORM mycelium.update_task(wf, 't' || i, 'completed');
		COMMIT;
	END LOOP;
END
$$;
CALL pg_temp.run_all(:'wf');
VACUUM FULL mycelium.task_states, mycelium.task_ids, mycelium.workflow_states, mycelium.workflow_state_history;
SELECT format('after running, 20,000 tasks (2 history rows each): %s bytes per task (tables + indexes)',
	round(pg_temp.bytes() / 20000.0));
SQL
