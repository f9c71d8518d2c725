# bench/lib.sh: what the benchmarks share (sourced by bench/*.sh, after
# test/lib/common.sh): their throwaway cluster, and SQL.

# bench_cluster_start CONF...: installs the packages the benchmarks need,
# builds and installs the extension from a staged copy of the tree at
# $here, starts a throwaway cluster in $DIR on port $PORT serving database
# $DB with the CONF lines in postgresql.conf, and stops it and removes the
# copy when the script exits.
bench_cluster_start() {
	mc_install_packages $MC_PACKAGES
	mc_stage "$here"
	mc_build_install
	mc_cluster_start "$DIR" "$PORT" "$DB" "$@"
	trap 'mc_cluster_stop "$DIR"; mc_unstage' EXIT
}

# psql_b ARGS...: psql on the benchmark's database, stopping at the first error
psql_b() { mc_as_user psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -d "$DB" "$@"; }

# bench_noop_sql: the no-op executor "noop" and public.wait_all(ids), a
# procedure that returns once every workflow of ids has ended (as a fresh
# snapshot sees it).  The executor is a PL/pgSQL function, like the no-op
# of the engine issue's reference (bench/floor.sql): PostgreSQL 15 parses
# and plans a LANGUAGE sql function again at each call made in a new
# subtransaction, as each attempt is (see bench/README.md).
bench_noop_sql() {
	cat <<'SQL'
CREATE FUNCTION public.noop(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
SELECT mycelium.register_executor('noop', 'public.noop(jsonb)');
CREATE PROCEDURE public.wait_all(ids uuid[]) LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		EXIT WHEN NOT EXISTS (SELECT 1 FROM mycelium.workflows
			WHERE workflow_id = ANY (ids) AND status NOT IN ('completed', 'failed', 'cancelled'));
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$;
SQL
}

# bench_noop_workflow TASKS [TASK_SQL [WORKFLOW_ARGS]]: creates one
# workflow of TASKS no-op tasks, starts it, waits for its end and prints
# its tasks/s, from its start to its end (server clock: started_at to
# finished_at).  TASK_SQL is appended to each task's definition, a jsonb
# expression of i, the task's number (e.g. "|| '{\"priority\": 5}'");
# WORKFLOW_ARGS to create_workflow's arguments (e.g. ", max_parallel_tasks
# => 10000").  Needs bench_noop_sql's executor and wait_all.
bench_noop_workflow() {
	local n=$1 task_sql=${2:-} wf_args=${3:-} wf
	wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop') $task_sql)
		FROM generate_series(1, $n) i) $wf_args)")
	psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
	psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
	psql_b -At -c "SELECT round($n / extract(epoch FROM finished_at - started_at))
		FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'"
}

# bench_cluster_cpu: the CPU time (clock ticks) the cluster's server
# processes have used so far: the postmaster's children still running and
# those it has reaped (its cutime + cstime); the difference of two readings
# is what the server used in between, whichever backends and workers came
# and went, which other load on a shared machine disturbs far less than
# the elapsed time
bench_cluster_cpu() {
	local pm pid t
	pm=$(head -1 "$DIR/data/postmaster.pid")
	t=$(awk '{ print $16 + $17 }' "/proc/$pm/stat")
	for pid in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
		[ -r "/proc/$pid/stat" ] &&
			t=$((t + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# bench_mixed_workflows_sql TABLE N: SQL that fills TABLE (id uuid) with
# the ids of N new workflows of 20 no-op tasks, half chains and half
# diamonds (1 -> 18 -> 1)
bench_mixed_workflows_sql() {
	cat <<SQL
TRUNCATE $1;
INSERT INTO $1
SELECT mycelium.create_workflow(
	CASE WHEN w % 2 = 0 THEN
		(SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop',
			'dependencies', CASE WHEN i = 1 THEN '[]'::jsonb ELSE jsonb_build_array('t' || (i - 1)) END) ORDER BY i)
		   FROM generate_series(1, 20) i)
	ELSE
		(SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop',
			'dependencies', CASE WHEN i = 1 THEN '[]'::jsonb
								 WHEN i = 20 THEN (SELECT jsonb_agg('t' || k) FROM generate_series(2, 19) k)
								 ELSE '["t1"]'::jsonb END) ORDER BY i)
		   FROM generate_series(1, 20) i)
	END, max_parallel_tasks => 20)
FROM generate_series(1, $2) w;
SQL
}

# bench_diamond_workflows_sql TABLE N [TASK_SQL [WORKFLOW_ARGS]]: SQL that
# fills TABLE (id uuid) with the ids of N new workflows of 20 no-op tasks
# each, a root, 18 tasks in parallel and a sink, at the default
# max_parallel_tasks.  TASK_SQL is appended to each task's definition, a
# jsonb expression of i, the task's number; WORKFLOW_ARGS to
# create_workflow's arguments, which may use w, the workflow's number
# (as bench_noop_workflow's)
bench_diamond_workflows_sql() {
	cat <<SQL
TRUNCATE $1;
INSERT INTO $1
SELECT mycelium.create_workflow(
	(SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop',
		'dependencies', CASE WHEN i = 1 THEN '[]'::jsonb
							 WHEN i = 20 THEN (SELECT jsonb_agg('t' || k) FROM generate_series(2, 19) k)
							 ELSE '["t1"]'::jsonb END) ${3:-} ORDER BY i)
	   FROM generate_series(1, 20) i) ${4:-})
FROM generate_series(1, $2) w;
SQL
}

# bench_wait_events_sql IDS_SQL: SQL that samples, every 5 ms until the
# workflows IDS_SQL selects have ended, what each executor worker is doing
# (pg_stat_activity's wait events), then prints the shares: on CPU, waiting
# for a Citus worker node's reply, waiting for another worker's lock on a
# workflow's row, flushing WAL, sleeping (no work for it, or waiting for a
# commit that frees some), other
bench_wait_events_sql() {
	cat <<SQL
CREATE TEMP TABLE waits (kind text);
DO \$\$
BEGIN
	LOOP
		INSERT INTO waits
		SELECT CASE WHEN wait_event_type IS NULL THEN 'on CPU'
					WHEN wait_event_type = 'Client' AND wait_event = 'ClientRead'
						THEN 'waiting for a worker node''s reply'
					WHEN wait_event_type = 'Lock' AND wait_event IN ('tuple', 'transactionid')
						THEN 'waiting for a workflow row another worker holds'
					WHEN wait_event IN ('WALSync', 'WALWrite', 'WALInsert') THEN 'writing or flushing WAL'
					WHEN wait_event_type = 'Extension' THEN 'sleeping (no work, or waiting for a commit)'
					ELSE wait_event_type || ':' || wait_event END
		  FROM pg_stat_activity WHERE backend_type = 'mycelium worker';
		PERFORM pg_stat_clear_snapshot();
		EXIT WHEN NOT EXISTS (SELECT 1 FROM mycelium.workflows
			WHERE workflow_id IN ($1) AND status NOT IN ('completed', 'failed', 'cancelled'));
		PERFORM pg_sleep(0.005);
	END LOOP;
END \$\$;
SELECT format('  %5s%%  %s', round(100.0 * count(*) / sum(count(*)) OVER (), 1), kind)
  FROM waits GROUP BY kind ORDER BY count(*) DESC;
SQL
}
