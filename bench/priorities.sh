#!/usr/bin/env bash
# bench/priorities.sh: the cost per task of priorities (issue 31) against
# the same run without them (target: under 10%).
#
#   bash bench/priorities.sh                      (as root or with sudo)
#   RUNS=5 bash bench/priorities.sh               (the official figures: medians of 5)
#   RUNS=1 TASKS=2000 bash bench/priorities.sh    (a quick check that it works)
#
# Priorities cannot be switched off: every task that becomes ready gets a
# rank, and every claim orders by it.  So "without them" is a build of
# BASE, the last commit before priorities (b7ae68b), and "with them" this
# tree's build; each is installed in turn and runs the same cases in a
# fresh throwaway cluster (durable commits, the scheduler's defaults),
# medians of RUNS runs, in tasks/s (server clock):
#   1. TASKS independent no-op function tasks in one workflow,
#      max_parallel_tasks 10000 (with priorities: every tenth task has a
#      priority of its own, 5, so claims also go through the index of
#      tasks with their own priority);
#   2. TASKS / 20 workflows of 20 no-op tasks (root, 18 in parallel,
#      sink) (with priorities: of priority -10, 0 and 10 in turn);
#   3. an external agent (one session, PL/pgSQL) claiming 10 tasks at a
#      time and completing them, over TASKS / 4 tasks in 10 workflows
#      (with priorities: -10, 0 and 10 in turn).
# This tree's build also runs the cases with every priority 0 (what a user
# who sets none pays), shown alongside.  For each case, the cost of
# priorities: 1 - with / without, in percent.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
TASKS=${TASKS:-20000}
PORT=${PORT:-54396}
BASE=${BASE:-b7ae68b}
DIR=${DIR:-/tmp/mycelium-bench-priorities}
DB=bench
CONF=("synchronous_commit = on" "shared_buffers = '1GB'" "max_wal_size = '4GB'")

mc_install_packages $MC_PACKAGES
base_src=$(mktemp -d /tmp/mycelium-bench-base.XXXXXX)
git -c safe.directory='*' -C "$here" archive "$BASE" | tar -x -C "$base_src" ||
	mc_die "cannot extract $BASE from the git history of $here"
trap 'mc_cluster_stop "$DIR"; mc_unstage; rm -rf "$base_src"' EXIT

# build SRC: installs the build of SRC and starts a fresh cluster with it
build() {
	mc_cluster_stop "$DIR"
	mc_unstage
	mc_stage "$1"
	mc_build_install
	mc_cluster_start "$DIR" "$PORT" "$DB" "${CONF[@]}"
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
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0) ? 100 * (1 - a / b) : 0 }'; }
median() { printf '%s\n' "$@" | mc_median; }

# the SQL of a task's own priority and of workflow w's priority, in MODE:
# none (the base build: no such arguments), zero or mixed
task_prio() {
	case $MODE in
		mixed) echo "|| CASE WHEN i % 10 = 0 THEN '{\"priority\": 5}'::jsonb ELSE '{}' END" ;;
		*) echo "" ;;
	esac
}
wf_prio() {
	case $MODE in
		mixed) echo ", priority => ($1 % 3 - 1) * 10" ;;
		zero) echo ", priority => 0" ;;
		*) echo "" ;;
	esac
}

# many_workflows: TASKS / 20 diamond workflows; prints tasks/s
many_workflows() {
	local ids
	bench_diamond_workflows_sql batch_ids $((TASKS / 20)) "" "$(wf_prio w)" | psql_b -At >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM batch_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	psql_b -At -c "SELECT round(count(*) * 20 / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids)"
}

# agent: TASKS / 4 external tasks in 10 workflows, one agent; prints tasks/s
agent() {
	local n=$((TASKS / 4)) ids
	psql_b -At >/dev/null <<SQL
TRUNCATE batch_ids;
INSERT INTO batch_ids
SELECT mycelium.create_workflow((SELECT jsonb_agg(jsonb_build_object(
		'task_id', 'x' || i, 'agent_id', 'a', 'agent_type', 'ext'))
		FROM generate_series(1, $((n / 10))) i), max_parallel_tasks => 10000 $(wf_prio w))
  FROM generate_series(1, 10) w;
SQL
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM batch_ids" >/dev/null
	psql_b -c "CALL public.agent($((n / 10 * 10)))"
	psql_b -At -c "SELECT round(sum(task_count) / extract(epoch FROM max(finished_at) - min(started_at)))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM batch_ids) AND status = 'completed'"
}

# cases PREFIX: RUNS runs of the three cases, into arrays PREFIX_one,
# PREFIX_many and PREFIX_ag
cases() {
	local i
	for i in $(seq "$RUNS"); do
		eval "${1}_one+=(\"$(bench_noop_workflow "$TASKS" "$(task_prio)" ", max_parallel_tasks => 10000 $(wf_prio 2)")\")"
		eval "${1}_many+=(\"$(many_workflows)\")"
		eval "${1}_ag+=(\"$(agent)\")"
		psql_b -c "VACUUM ANALYZE" >/dev/null
		eval "echo \"$1 run $i: one workflow \${${1}_one[-1]}, $((TASKS / 20)) workflows \${${1}_many[-1]}, agent \${${1}_ag[-1]} tasks/s\""
	done
}

base_one=() base_many=() base_ag=() zero_one=() zero_many=() zero_ag=() mixed_one=() mixed_many=() mixed_ag=()
build "$base_src"
MODE=none cases base
build "$here"
MODE=zero cases zero
MODE=mixed cases mixed

echo "== medians of $RUNS runs, $TASKS tasks: without priorities ($BASE) -> all 0 -> mixed; the cost of priorities per task (target: under 10%)"
for c in "one workflow:one" "$((TASKS / 20)) workflows of 20:many" "external agent, claims of 10:ag"; do
	IFS=: read -r name k <<<"$c"
	eval "a=(\"\${base_${k}[@]}\")"; eval "z=(\"\${zero_${k}[@]}\")"; eval "m=(\"\${mixed_${k}[@]}\")"
	mb=$(median "${a[@]}"); mz=$(median "${z[@]}"); mm=$(median "${m[@]}")
	printf '%-32s %8s -> %8s (cost %5s%%) -> %8s tasks/s (cost %5s%%)\n' "$name" \
		"$mb" "$mz" "$(ratio "$mz" "$mb")" "$mm" "$(ratio "$mm" "$mb")"
done
