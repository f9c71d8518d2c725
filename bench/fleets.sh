#!/usr/bin/env bash
# bench/fleets.sh: the cost per task of per-agent-type limits and of
# priorities (issue 31) against the same run without them (target: under
# 10%), in one cluster and one build, the three modes interleaved.
#
#   bash bench/fleets.sh                    (as root or with sudo)
#   RUNS=5 bash bench/fleets.sh             (the official figures: medians of 5)
#   RUNS=1 TASKS=2000 bash bench/fleets.sh  (a quick check that it works)
#   RESULTS=/tmp/f RUNS=5 bash bench/fleets.sh   (three times: the paired
#                                           medians over all 15 runs)
#
# MC_PG_BIN chooses the PostgreSQL installation (test/lib/common.sh).
#
# A throwaway cluster with durable commits and the scheduler's defaults.
# Each run goes through the three modes, in an order that turns by one at
# each run (none, limits, prio; then limits, prio, none; ...), so that the
# machine's drift and the catalog's growth fall on all three alike:
#   none    no agent type limited, every priority the default (0);
#   limits  the no-op and the external agent types limited by limits that
#           never bind (max_running 1,000,000; 100,000,000 starts a
#           second): every claim reserves what they leave in shared
#           memory and gives back what it did not take;
#   prio    mixed priorities: workflows of priority -10, 0 and 10 in turn
#           (the one workflow: 10), and every tenth task a priority of its
#           own (5), so claims also go through the index of tasks with a
#           priority of their own.
# In each mode, four cases, each in tasks/s (server clock) and in the
# server's CPU time per task (all its processes, bench_cluster_cpu; much
# less disturbed by other load than tasks/s):
#   one    TASKS no-op function tasks in one workflow, max_parallel_tasks
#          10000, run by the scheduler's workers;
#   many   TASKS / 20 workflows of 20 no-op tasks (root, 18 in parallel,
#          sink), started in one statement;
#   agent1 an external agent (one session, PL/pgSQL) claiming one task per
#          call and completing it with complete_task, each call its own
#          transaction, over TASKS / 10 tasks in 10 workflows;
#   agent10 the same claiming 10 a call and completing them with
#          complete_tasks, over TASKS / 4 tasks in 10 workflows.
# Between modes, the finished workflows are purged and the catalog
# vacuumed.  At the end, per case and mode, the medians of RUNS runs and
# their ratio to mode none (tasks/s: above 0.90 is within the target; CPU
# per task: below 1.10), then the median of each run's ratio to none in
# the same run, which the machine's drift between runs disturbs less.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
TASKS=${TASKS:-20000}
PORT=${PORT:-54395}
DIR=${DIR:-/tmp/mycelium-bench-fleets}
DB=bench

bench_cluster_start "synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'"

{
	bench_noop_sql
	cat <<'SQL'
SELECT mycelium.register_executor('ext', NULL);
CREATE TABLE batch_ids (id uuid);
-- claims and completes n tasks of external agent type 'ext', per tasks a
-- call (1: claim_tasks and complete_task; more: complete_tasks), each call
-- its own transaction
CREATE PROCEDURE public.agent(n integer, per integer) LANGUAGE plpgsql AS $$
DECLARE
	done integer := 0;
	w uuid[];
	t text[];
BEGIN
	WHILE done < n LOOP
		SELECT array_agg(c.workflow_id), array_agg(c.task_id) INTO w, t
		  FROM mycelium.claim_tasks('ext', 'bench-agent', per) c;
		COMMIT;
		CONTINUE WHEN w IS NULL;
		IF per = 1 THEN
			PERFORM mycelium.complete_task(w[1], t[1], 'bench-agent', '{}');
		ELSE
			PERFORM mycelium.complete_tasks('bench-agent', w, t);
		END IF;
		COMMIT;
		done := done + pg_catalog.cardinality(w);
	END LOOP;
END $$;
SQL
} | psql_b >/dev/null

# the SQL of every tenth task's own priority, and of workflow w's priority,
# in mode $MODE
task_prio() { [ "$MODE" = prio ] && echo "|| CASE WHEN i % 10 = 0 THEN '{\"priority\": 5}'::jsonb ELSE '{}' END"; true; }
wf_prio() { [ "$MODE" = prio ] && echo ", priority => ($1 % 3 - 1) * 10"; true; }

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

# timed N CMD...: runs CMD (which prints tasks/s) and prints
# "tasks/s cpu_us_per_task" for its N tasks
timed() {
	local n=$1 c0 c1 rate
	shift
	c0=$(bench_cluster_cpu)
	rate=$("$@")
	# the postmaster reaps the backends that just exited
	sleep 0.2
	c1=$(bench_cluster_cpu)
	awk -v r="$rate" -v c=$((c1 - c0)) -v k="$(getconf CLK_TCK)" -v n="$n" \
		'BEGIN { printf "%s %.0f\n", r, c / k * 1e6 / n }'
}

# many_workflows: TASKS / 20 diamond workflows; prints tasks/s
many_workflows() {
	local ids
	bench_diamond_workflows_sql batch_ids $((TASKS / 20)) "$(task_prio)" "$(wf_prio w)" | psql_b -At >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	psql_b -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)"
}

# agent_workflows N: makes and starts 10 workflows of N / 10 external tasks
agent_workflows() {
	psql_b -At >/dev/null <<SQL
TRUNCATE batch_ids;
INSERT INTO batch_ids
SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 'x' || i, 'agent_id', 'a', 'agent_type', 'ext') $(task_prio))
		FROM generate_series(1, $(($1 / 10))) i), max_parallel_tasks => 10000 $(wf_prio w))
  FROM generate_series(1, 10) w;
SELECT count(mycelium.start_workflow(id)) FROM batch_ids;
SQL
}

# agent N PER: the agent claims and completes N tasks, PER a call; prints tasks/s
agent() {
	psql_b -At <<SQL | tail -1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CALL public.agent($1, $2);
SELECT round($1 / (extract(epoch FROM clock_timestamp()) - :t0));
SQL
}

cases="one many agent1 agent10"
modes=(none limits prio)
# RESULTS=FILE keeps the runs' figures in FILE, adding to those already
# there, so that the paired medians below cover several invocations
results=${RESULTS:-$(mktemp /tmp/mycelium-bench-fleets.XXXXXX)}
touch "$results"
chmod a+r "$results"
n_agent1=$((TASKS / 10 / 10 * 10))
n_agent10=$((TASKS / 4 / 10 * 10))
echo "== $RUNS runs of $TASKS tasks; machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
	for k in 0 1 2; do
		MODE=${modes[$(((run - 1 + k) % 3))]}
		[ "$MODE" = limits ] && limits on
		one=$(timed "$TASKS" bench_noop_workflow "$TASKS" "$(task_prio)" ", max_parallel_tasks => 10000 $(wf_prio 2)")
		many=$(timed "$TASKS" many_workflows)
		agent_workflows "$n_agent1"
		a1=$(timed "$n_agent1" agent "$n_agent1" 1)
		agent_workflows "$n_agent10"
		a10=$(timed "$n_agent10" agent "$n_agent10" 10)
		[ "$MODE" = limits ] && limits off
		psql_b -c "CALL mycelium.purge_workflows(interval '0')" -c "VACUUM ANALYZE" >/dev/null
		echo "$MODE one $one $$.$run" >>"$results"
		echo "$MODE many $many $$.$run" >>"$results"
		echo "$MODE agent1 $a1 $$.$run" >>"$results"
		echo "$MODE agent10 $a10 $$.$run" >>"$results"
		printf 'run %d %-6s  tasks/s, CPU us/task:  one %s  many %s  agent1 %s  agent10 %s\n' \
			"$run" "$MODE" "${one/ /, }" "${many/ /, }" "${a1/ /, }" "${a10/ /, }"
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# col MODE CASE FIELD: the median of FIELD (3: tasks/s, 4: CPU us/task)
col() { awk -v m="$1" -v c="$2" -v f="$3" '$1 == m && $2 == c { print $f }' "$results" | mc_median; }
nruns=$(awk '{ print $5 }' "$results" | sort -u | wc -l)
echo "== medians of $nruns runs${RESULTS:+ (all those in $RESULTS)}: tasks/s (ratio to none; target above 0.90), server CPU us per task (ratio; target below 1.10)"
printf '%-8s %-26s %-26s %-26s\n' case none limits prio
for c in $cases; do
	line=$(printf '%-8s' "$c")
	r0=$(col none "$c" 3)
	u0=$(col none "$c" 4)
	for m in "${modes[@]}"; do
		r=$(col "$m" "$c" 3)
		u=$(col "$m" "$c" 4)
		line+=$(awk -v r="$r" -v u="$u" -v r0="$r0" -v u0="$u0" 'BEGIN {
			printf " %6s (%.2f) %5s (%.2f)   ", r, (r0 > 0) ? r / r0 : 0, u, (u0 > 0) ? u / u0 : 0 }')
	done
	echo "$line"
done

# paired MODE CASE FIELD: the median, over the runs in $results, of each
# run's FIELD in MODE over its FIELD in mode none (the same run)
paired() {
	awk -v m="$1" -v c="$2" -v f="$3" '$2 == c && $1 == "none" { none[$5] = $f }
		$2 == c && $1 == m { v[$5] = $f }
		END { for (r in v) if (none[r] > 0) printf "%.4f\n", v[r] / none[r] }' "$results" | mc_median
}
echo "== medians of each run's ratio to none in the same run: tasks/s (target above 0.90); CPU per task (target below 1.10)"
printf '%-8s %-16s %-16s\n' case limits prio
for c in $cases; do
	printf '%-8s %-16s %-16s\n' "$c" \
		"$(printf '%.2f; %.2f' "$(paired limits "$c" 3)" "$(paired limits "$c" 4)")" \
		"$(printf '%.2f; %.2f' "$(paired prio "$c" 3)" "$(paired prio "$c" 4)")"
done
[ -n "${RESULTS:-}" ] || rm -f "$results"
