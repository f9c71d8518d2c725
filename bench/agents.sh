#!/usr/bin/env bash
# bench/agents.sh: external agents' claim + complete throughput (SPEC 9).
#
#   bash bench/agents.sh            (as root or with sudo; a few minutes)
#   AGENTS=8 BATCH=100 RUNS=5 bash bench/agents.sh
#
# In a throwaway cluster with durable commits (synchronous_commit = on),
# pgbench plays AGENTS agents over local (Unix socket) connections, each
# with its own worker_id, against 200 running workflows of external tasks:
#   1. one task at a time: claim_tasks(max_tasks => 1), then complete_task,
#      each call its own transaction (two commits per task);
#   2. one task at a time, the agent completing its task and claiming the
#      next in one transaction (one commit per task);
#   3. in batches: claim_tasks(max_tasks => BATCH), then complete_task for
#      each of them in one transaction (two commits per BATCH tasks);
#   4. in batches, completed by one call: claim_tasks(max_tasks => BATCH),
#      then complete_tasks for all of them (two commits per BATCH tasks).
#   5. the floor of scenario 1: the same claims and completions, each one
#      plain SQL statement doing only the writes SPEC 3 and 4 require (the
#      task row, one history row, the workflow's version and counters) on
#      copies of the catalog tables (bench/floor.sql), with none of
#      mycelium's checks; what scenario 1 is measured against.
#   6. the peer: graphile-worker (bench/peers, as bench/engine.sh installs
#      it) in its default mode (concurrency 10, no local queue) on
#      PEER_JOBS (20,000) no-op jobs in the same cluster; scenario 1 is
#      printed as a ratio to it (issue 30: at least 1.5x).
#   7. LLM-shaped: LLM_TASKS (2,000) tasks whose handler awaits LLM_SLEEP
#      (0.5) s, served by one Python SDK process (clients/python) with
#      LLM_CONCURRENCY (200) handlers at once; the ideal is 400 tasks/s
#      (ONLY=llm runs this case alone).
# ONLY picks scenarios by name, separated by spaces or commas (one, peer,
# floor, next, batch, batch_call, llm): ONLY="one peer" RUNS=3 measures
# the target's ratio alone (a change to the agents' calls: also
# bench/agents_ab.sh, which compares builds by their CPU per task).
# Each agent runs 1,000 transactions of the one-at-a-time scenarios and 60
# of the batch ones (a few seconds each).  tasks/s = tasks completed /
# pgbench's run time (connections excluded); the median of RUNS runs, each
# on fresh workflows.  For scale, the same
# run measures what this machine commits: pgbench -N with AGENTS clients.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

RUNS=${RUNS:-5}
AGENTS=${AGENTS:-8}
BATCH=${BATCH:-100}
LLM_TASKS=${LLM_TASKS:-2000}
PEER_JOBS=${PEER_JOBS:-20000}
LLM_CONCURRENCY=${LLM_CONCURRENCY:-200}
LLM_SLEEP=${LLM_SLEEP:-0.5}
PORT=${PORT:-54395}
DIR=${DIR:-/tmp/mycelium-bench-agents}
DB=bench

bench_cluster_start "synchronous_commit = on" \
	"shared_buffers = '1GB'" "max_wal_size = '4GB'" "max_connections = 100"
scripts=$(mc_as_user mktemp -d)

psql_b -c "SELECT mycelium.register_executor('bench', NULL)" >/dev/null
psql_b -f "$here/bench/floor.sql" >/dev/null

# new_workflows N: N tasks in 200 running workflows
new_workflows() {
	psql_b -At <<SQL >/dev/null
SELECT count(mycelium.start_workflow(mycelium.create_workflow(
	(SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'bench'))
	   FROM generate_series(1, $1 / 200) i),
	max_parallel_tasks => 10000)))
  FROM generate_series(1, 200);
SQL
	psql_b -At -c "VACUUM ANALYZE mycelium.task_states" >/dev/null
}

mc_as_user tee "$scripts/one.sql" >/dev/null <<'EOF2'
SELECT workflow_id AS wf, task_id AS tk FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, 1) \gset
SELECT mycelium.complete_task(:wf::uuid, :tk, 'agent-' || :client_id::text, '{}');
EOF2
# the first transaction of a client only claims
mc_as_user tee "$scripts/next.sql" >/dev/null <<'EOF2'
\if :started
BEGIN;
SELECT mycelium.complete_task(:wf::uuid, :tk, 'agent-' || :client_id::text, '{}');
SELECT workflow_id AS wf, task_id AS tk FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, 1) \gset
COMMIT;
\else
SELECT workflow_id AS wf, task_id AS tk FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, 1) \gset
\set started 1
\endif
EOF2
mc_as_user tee "$scripts/batch.sql" >/dev/null <<EOF2
SELECT string_agg(workflow_id || ' ' || task_id, ',') AS b FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, $BATCH) \gset
SELECT count(mycelium.complete_task(split_part(x, ' ', 1)::uuid, split_part(x, ' ', 2), 'agent-' || :client_id::text, '{}')) FROM pg_catalog.unnest(pg_catalog.string_to_array(:b, ',')) x;
EOF2
# results as the agent would send them, one per claimed task
mc_as_user tee "$scripts/batch_call.sql" >/dev/null <<EOF2
SELECT array_agg(workflow_id) AS w, array_agg(task_id) AS t FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, $BATCH) \gset
SELECT count(*) FROM mycelium.complete_tasks('agent-' || :client_id::text, :w::uuid[], :t::text[], pg_catalog.array_fill('{}'::jsonb, ARRAY[pg_catalog.cardinality(:w::uuid[])]));
EOF2

# the floor of one task per call: a claim and a completion, one statement
# each, on the floor tables (the start of the claim's search is random)
mc_as_user tee "$scripts/floor_one.sql" >/dev/null <<'EOF2'
\set r random(0, 2147483647)
WITH c AS (
	SELECT * FROM (SELECT t.workflow_id, t.task_no FROM public.floor_tasks t
		 WHERE t.agent_type = 'bench' AND t.status = 'ready' AND t.workflow_id >= md5(:r::text)::uuid
		 ORDER BY t.agent_type, t.workflow_id, t.task_no LIMIT 1 FOR UPDATE SKIP LOCKED) a
	UNION ALL
	SELECT * FROM (SELECT t.workflow_id, t.task_no FROM public.floor_tasks t
		 WHERE t.agent_type = 'bench' AND t.status = 'ready'
		 ORDER BY t.agent_type, t.workflow_id, t.task_no LIMIT 1 FOR UPDATE SKIP LOCKED) b
	LIMIT 1),
u AS (
	UPDATE public.floor_tasks t SET status = 'running', attempt = t.attempt + 1,
		started_at = clock_timestamp(), worker_id = 'agent-' || :client_id,
		lease_until = clock_timestamp() + interval '5 min'
	  FROM c WHERE t.workflow_id = c.workflow_id AND t.task_no = c.task_no
	RETURNING t.*),
w AS (
	UPDATE public.floor_workflows w SET version = w.version + 1, tasks_running = w.tasks_running + 1,
		updated_at = clock_timestamp()
	  FROM u WHERE w.workflow_id = u.workflow_id
	RETURNING w.workflow_id, w.version, w.context, w.variables),
h AS (
	INSERT INTO public.floor_history (workflow_id, version, task_no, owner, status, attempt, event, changed_by)
	SELECT u.workflow_id, w.version, u.task_no, u.owner, 'running', u.attempt, 'claimed', u.owner FROM u, w)
SELECT u.workflow_id AS wf, u.task_id AS tk,
	jsonb_build_object('workflow_id', u.workflow_id, 'attempt', u.attempt, 'workflow_context', w.context,
		'variables', w.variables, 'task', jsonb_build_object('task_id', u.task_id, 'input', u.input)) AS ctx
  FROM u, w \gset
WITH u AS (
	UPDATE public.floor_tasks t SET status = 'completed', result = '{}', lease_until = NULL,
		finished_at = clock_timestamp()
	 WHERE t.workflow_id = :wf::uuid AND t.task_id = :tk AND t.worker_id = 'agent-' || :client_id
	   AND t.status = 'running'
	RETURNING t.*),
w AS (
	UPDATE public.floor_workflows w SET version = w.version + 1, tasks_running = w.tasks_running - 1,
		tasks_open = w.tasks_open - 1, updated_at = clock_timestamp()
	  FROM u WHERE w.workflow_id = u.workflow_id
	RETURNING w.version)
INSERT INTO public.floor_history (workflow_id, version, task_no, owner, status, attempt, result, event, changed_by)
SELECT u.workflow_id, w.version, u.task_no, u.owner, 'completed', u.attempt, u.result, 'completed', u.owner FROM u, w;
EOF2

# floor_copy: copies the running workflows into the floor tables
floor_copy() {
	psql_b -At -c "SELECT public.floor_copy(ARRAY(SELECT workflow_id FROM mycelium.workflows WHERE status = 'running'))" \
		-c "VACUUM ANALYZE public.floor_tasks, public.floor_workflows" >/dev/null
}

# run NAME SCRIPT TRANSACTIONS_PER_AGENT TASKS_PER_TRANSACTION [PREPARE]:
# PREPARE, if given, runs after the new workflows are made
run() {
	local name=$1 script=$2 per=$3 tasks=$4 prepare=${5:-} i tps out rates=()
	echo "== $name: $AGENTS agents ($RUNS runs)"
	for i in $(seq "$RUNS"); do
		new_workflows $((AGENTS * per * tasks + 400 * tasks))
		[ -z "$prepare" ] || "$prepare"
		out=$(mc_as_user pgbench -n -M prepared -c "$AGENTS" -j 2 -t "$per" -D started=0 -f "$scripts/$script" \
			-h "$DIR" -p "$PORT" "$DB" 2>&1) || { echo "$out"; mc_die "pgbench failed"; }
		tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
		rates+=("$(awk -v t="$tps" -v k="$tasks" 'BEGIN { printf "%d", t * k }')")
		echo "run $i: ${rates[-1]} tasks/s"
		psql_b -At -c "SELECT count(mycelium.cancel_workflow(workflow_id)) FROM mycelium.workflows WHERE status = 'running'" >/dev/null
	done
	median=$(printf '%s\n' "${rates[@]}" | mc_median)
	printf 'median: %s tasks/s\n' "$median"
}

# peer: graphile-worker's default mode on PEER_JOBS no-op jobs, RUNS runs;
# sets peer_median
peer() {
	local i conn rates=()
	if [ ! -d "$here/bench/peers/node_modules/graphile-worker" ]; then
		(cd "$here/bench/peers" && npm ci --no-audit --no-fund >/dev/null)
	fi
	conn="postgres://postgres@/$DB?host=$DIR&port=$PORT"
	echo "== graphile-worker default mode (concurrency 10, no local queue): $PEER_JOBS jobs ($RUNS runs)"
	for i in $(seq "$RUNS"); do
		rates+=("$(cd "$here/bench/peers" && node graphile.mjs "$conn" "$PEER_JOBS" 10 0)")
		echo "run $i: ${rates[-1]} jobs/s"
		psql_b -c "TRUNCATE graphile_worker._private_jobs CASCADE" -c "VACUUM ANALYZE" >/dev/null
	done
	peer_median=$(printf '%s\n' "${rates[@]}" | mc_median)
	printf 'median: %s jobs/s\n' "$peer_median"
}

# llm: the LLM-shaped case, LLM_TASKS tasks whose handler awaits
# LLM_SLEEP seconds, one Python SDK process with LLM_CONCURRENCY handlers
# at once (bench/llm_agent.py); the machine's load is shown beside it
llm() {
	echo "== LLM-shaped: $LLM_TASKS tasks awaiting $LLM_SLEEP s each, one Python SDK process," \
		"concurrency $LLM_CONCURRENCY ($RUNS runs)"
	echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	mc_as_user env PYTHONPATH="$MC_TREE/clients/python" /usr/bin/python3 "$MC_TREE/bench/llm_agent.py" \
		--dsn "host=$DIR port=$PORT dbname=$DB" --tasks "$LLM_TASKS" --concurrency "$LLM_CONCURRENCY" \
		--sleep "$LLM_SLEEP" --runs "$RUNS"
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== for scale: pgbench -N (TPC-B without branch updates), $AGENTS clients, 10 s"
mc_as_user pgbench -i -q -s 10 -h "$DIR" -p "$PORT" "$DB" >/dev/null 2>&1
mc_as_user pgbench -n -N -c "$AGENTS" -j 2 -T 10 -h "$DIR" -p "$PORT" "$DB" 2>&1 |
	sed -n 's/^tps = \([0-9.]*\) (without.*/\1 commits\/s/p'

# wanted NAME: whether ONLY (empty: all) names scenario NAME
wanted() {
	[ -z "${ONLY:-}" ] && return 0
	case " ${ONLY//,/ } " in *" $1 "*) return 0 ;; esac
	return 1
}
for name in ${ONLY:+${ONLY//,/ }}; do
	case $name in
		one | peer | floor | next | batch | batch_call | llm) ;;
		*) mc_die "ONLY: no scenario \"$name\" (one, peer, floor, next, batch, batch_call, llm)" ;;
	esac
done

one_median= peer_median=
if wanted one; then
	run "one task per call (claim, then complete)" one.sql 1000 1
	one_median=$median
fi
if wanted peer; then
	peer
fi
if [ -n "$one_median" ] && [ -n "$peer_median" ]; then
	awk -v m="$one_median" -v g="$peer_median" \
		'BEGIN { printf "one task per call / graphile-worker default mode: %.2fx (target >= 1.5x)\n", m / g }'
fi
if wanted floor; then
	run "the floor of one task per call (the writes alone, one statement a call)" floor_one.sql 1000 1 floor_copy
fi
if wanted next; then
	run "one task per transaction (complete it and claim the next)" next.sql 1000 1
fi
if wanted batch; then
	run "batches of $BATCH (claim $BATCH, then complete them in one transaction)" batch.sql 60 "$BATCH"
fi
if wanted batch_call; then
	run "batches of $BATCH (claim $BATCH, then complete_tasks for all of them)" batch_call.sql 60 "$BATCH"
fi
if wanted llm; then
	llm
fi
