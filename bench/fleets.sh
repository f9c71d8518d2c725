#!/usr/bin/env bash
# bench/fleets.sh: the cost per task of per-agent-type limits (issue 31)
# against the same run without them (target: under 10%).
#
#   bash bench/fleets.sh                    (as root or with sudo)
#   RUNS=5 bash bench/fleets.sh             (the official figures: medians of 5)
#   RUNS=1 TASKS=2000 bash bench/fleets.sh  (a quick check that it works)
#
# In a throwaway cluster with durable commits and the scheduler's defaults,
# medians of RUNS runs, each case in tasks/s (server clock):
#   1. TASKS independent no-op function tasks in one workflow,
#      max_parallel_tasks 10000, no agent type limited;
#   2. case 1 with the no-op agent type limited by limits that never bind
#      (max_running 1,000,000 and 100,000,000 a second): every claim locks
#      the type's row, counts its running tasks and spends tokens;
#   3. TASKS / 20 workflows of 20 no-op tasks (root, 18 in parallel, sink),
#      without limits, then 4. with the same limits;
#   5. an external agent (one session, PL/pgSQL) claiming 10 tasks at a
#      time and completing them, over TASKS / 4 tasks, without limits, then
#      6. with them.
# For each pair, the cost of the limits: 1 - with / without, in percent.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
TASKS=${TASKS:-20000}
PORT=${PORT:-54395}
DIR=/tmp/mycelium-bench-fleets
DB=bench

bench_cluster_start "synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'"

{
	bench_noop_sql
	cat <<'SQL'
SELECT mycelium.register_executor('ext', NULL);
CREATE TABLE batch_ids (id uuid);
-- claims and completes n tasks of external agent type 'ext', 10 at a time
CREATE PROCEDURE public.agent(n integer) LANGUAGE plpgsql AS $$
DECLARE
	done integer := 0;
	w uuid[];
	t text[];
BEGIN
	WHILE done < n LOOP
		SELECT array_agg(c.workflow_id), array_agg(c.task_id) INTO w, t
		  FROM mycelium.claim_tasks('ext', 'bench-agent', 10) c;
		COMMIT;
		CONTINUE WHEN w IS NULL;
		PERFORM mycelium.complete_tasks('bench-agent', w, t);
		COMMIT;
		done := done + pg_catalog.cardinality(w);
	END LOOP;
END $$;
SQL
} | psql_b >/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0) ? 100 * (1 - a / b) : 0 }'; }
median() { printf '%s\n' "$@" | mc_median; }

# limits on|off: sets or lifts the non-binding limits of 'noop' and 'ext'
limits() {
	if [ "$1" = on ]; then
		psql_b -At -c "SELECT mycelium.set_agent_type_limits('noop', 1000000, 100000000, '1 second'),
			mycelium.set_agent_type_limits('ext', 1000000, 100000000, '1 second')" >/dev/null
	else
		psql_b -At -c "SELECT mycelium.set_agent_type_limits('noop'),
			mycelium.set_agent_type_limits('ext')" >/dev/null
	fi
}

# one_workflow: TASKS no-op tasks in one workflow; prints tasks/s
one_workflow() {
	local wf
	wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'noop')) FROM generate_series(1, $TASKS) i),
		max_parallel_tasks => 10000)")
	psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
	psql_b -c "CALL public.wait_all(ARRAY['$wf'::uuid])"
	psql_b -At -c "SELECT round($TASKS / extract(epoch FROM finished_at - started_at))
		FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'"
}

# many_workflows: TASKS / 20 diamond workflows; prints tasks/s
many_workflows() {
	local ids
	bench_diamond_workflows_sql batch_ids $((TASKS / 20)) | psql_b -At >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	psql_b -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)"
}

# agent: TASKS / 4 external tasks in one workflow, one agent; prints tasks/s
agent() {
	local n=$((TASKS / 4)) wf
	wf=$(psql_b -At -c "SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 'x' || i, 'agent_id', 'a', 'agent_type', 'ext')) FROM generate_series(1, $n) i),
		max_parallel_tasks => 10000)")
	psql_b -At -c "SELECT mycelium.start_workflow('$wf')" >/dev/null
	psql_b -c "CALL public.agent($n)"
	psql_b -At -c "SELECT round($n / extract(epoch FROM finished_at - started_at))
		FROM mycelium.workflows WHERE workflow_id = '$wf' AND status = 'completed'"
}

one_off=() one_on=() many_off=() many_on=() ag_off=() ag_on=()
for i in $(seq "$RUNS"); do
	limits off
	one_off+=("$(one_workflow)")
	many_off+=("$(many_workflows)")
	ag_off+=("$(agent)")
	psql_b -c "VACUUM ANALYZE" >/dev/null
	limits on
	one_on+=("$(one_workflow)")
	many_on+=("$(many_workflows)")
	ag_on+=("$(agent)")
	psql_b -c "VACUUM ANALYZE" >/dev/null
	echo "run $i: one workflow ${one_off[-1]} / ${one_on[-1]} tasks/s (without / with limits);" \
		"$((TASKS / 20)) workflows ${many_off[-1]} / ${many_on[-1]}; agent ${ag_off[-1]} / ${ag_on[-1]}"
done
echo "== medians of $RUNS runs, $TASKS tasks; the limits' cost per task (target: under 10%)"
for c in "one workflow:one_off:one_on" "$((TASKS / 20)) workflows of 20:many_off:many_on" \
		"external agent, claims of 10:ag_off:ag_on"; do
	IFS=: read -r name off on <<<"$c"
	eval "a=(\"\${${off}[@]}\")"; eval "b=(\"\${${on}[@]}\")"
	mo=$(median "${a[@]}"); mw=$(median "${b[@]}")
	printf '%-40s %8s -> %8s tasks/s  cost %5s%%\n' "$name" "$mo" "$mw" "$(ratio "$mw" "$mo")"
done
