#!/usr/bin/env bash
# bench/load.sh: the scheduler under load (SPEC 9: 100,000 active
# workflows must work, scheduler memory flat in their number).
#
#   bash bench/load.sh              (as root or with sudo; about 10 minutes)
#   ACTIVE=100000 CLIENTS=50 DURATION=60 bash bench/load.sh
#
# In a throwaway cluster with durable commits (synchronous_commit = on):
#   1. Flat cost: with 0, ACTIVE/10 and ACTIVE running workflows waiting on
#      an external agent that never comes (active, but nothing for the
#      scheduler to run), a probe of PROBE (500) workflows x 20 no-op function
#      tasks (chains and diamonds) runs: its tasks/s, the scheduler's CPU
#      time per task (launcher and workers, from /proc), their private
#      memory (RssAnon) and memory contexts (pg_log_backend_memory_contexts),
#      and the launcher's CPU time over 10 idle seconds.
#   2. ACTIVE workflows running at once: ACTIVE workflows of 2 no-op tasks
#      (a chain), started in one transaction; tasks/s until the last one
#      ends, and the scheduler's private memory at the peak.
#   3. CLIENTS concurrent clients (pgbench, as a non-superuser role) for
#      DURATION seconds, each transaction creating and starting a workflow
#      of 5 tasks (a 5 ms task, then a fan-out) and reading it; one in
#      five also pauses and resumes it, one in ten cancels it.  Then every
#      workflow must end by itself, with consecutive versions in history.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

ACTIVE=${ACTIVE:-100000}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-60}
PROBE=${PROBE:-500}
PORT=${PORT:-54397}
DIR=/tmp/mycelium-bench-load
DB=bench

bench_cluster_start "synchronous_commit = on" \
	"shared_buffers = '1GB'" "max_wal_size = '4GB'" "max_connections = $((CLIENTS + 30))"
scripts=$(mc_as_user mktemp -d)

{
	bench_noop_sql
	cat <<'SQL'
CREATE FUNCTION public.nap(ctx jsonb) RETURNS jsonb LANGUAGE sql
	AS $$SELECT pg_sleep(0.005); SELECT '{}'::jsonb$$;
SELECT mycelium.register_executor('nap', 'public.nap(jsonb)');
SELECT mycelium.register_executor('nobody', NULL);
CREATE TABLE public.probe_ids (id uuid);
SQL
} | psql_b >/dev/null

# scheduler_pids [PATTERN]: the scheduler's processes (default: the launcher and the workers)
scheduler_pids() { pgrep -P "$(mc_as_user head -1 "$DIR/data/postmaster.pid")" -f "${1:-mycelium (launcher|worker)}"; }
# scheduler_ticks [PATTERN]: their CPU time, in clock ticks (1/100 s)
scheduler_ticks() { local s=0 p; for p in $(scheduler_pids "${1:-}"); do s=$((s + $(awk '{print $14 + $15}' /proc/"$p"/stat))); done; echo $s; }
launcher_ticks() { scheduler_ticks 'mycelium launcher'; }
# private memory of the scheduler's processes, kB (sum)
scheduler_rss() { local s=0 p; for p in $(scheduler_pids); do s=$((s + $(awk '/^RssAnon/ {print $2}' /proc/"$p"/status))); done; echo $s; }
# the scheduler's memory contexts, bytes (sum of each process's grand total)
scheduler_contexts() {
	local p mark
	mark=$(mc_as_user wc -l < "$DIR/server.log")
	for p in $(scheduler_pids); do psql_b -At -c "SELECT pg_log_backend_memory_contexts($p)" >/dev/null; done
	sleep 2
	mc_as_user tail -n +"$((mark + 1))" "$DIR/server.log" |
		awk '/Grand total: [0-9]+ bytes/ { for (i = 1; i <= NF; i++) if ($i == "total:") s += $(i + 1) } END { print s + 0 }'
}

# probe: PROBE workflows x 20 no-op tasks; prints "tasks/s us/task"
probe() {
	bench_mixed_workflows_sql public.probe_ids "$PROBE" | psql_b -At >/dev/null
	local t0 t1 ids
	t0=$(scheduler_ticks)
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM public.probe_ids" >/dev/null
	ids=$(psql_b -At -c "SELECT array_agg(id) FROM public.probe_ids")
	psql_b -c "CALL public.wait_all('$ids')"
	t1=$(scheduler_ticks)
	psql_b -At -c "SELECT round($PROBE * 20 / extract(epoch FROM max(finished_at) - min(started_at))) || ' ' ||
		round(($t1 - $t0) * 10000.0 / ($PROBE * 20))
		FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM public.probe_ids)"
}

# add_idle N: N more running workflows, each waiting on an agent that never comes
add_idle() {
	local left=$1 n
	while [ "$left" -gt 0 ]; do
		n=$((left < 10000 ? left : 10000))
		psql_b -At -c "SELECT count(mycelium.start_workflow(mycelium.create_workflow(
			jsonb_build_array(mycelium.task('wait', 'a', 'nobody')))))
			FROM generate_series(1, $n)" >/dev/null
		left=$((left - n))
	done
}

echo "== 1. cost per task and memory with many active workflows"
printf '| active workflows | probe tasks/s | scheduler CPU us/task | scheduler RssAnon kB | scheduler memory contexts bytes | launcher CPU in 10 idle s |\n|---|---|---|---|---|---|\n'
have=0
for level in 0 $((ACTIVE / 10)) "$ACTIVE"; do
	add_idle $((level - have))
	have=$level
	psql_b -At -c "VACUUM ANALYZE" >/dev/null
	probe >/dev/null			# warm up at this level
	read -r rate us < <(probe)
	l0=$(launcher_ticks)
	sleep 10
	l1=$(launcher_ticks)
	active=$(psql_b -At -c "SELECT count(*) FROM mycelium.workflows WHERE status = 'running'")
	printf '| %s | %s | %s | %s | %s | %s ms |\n' "$active" "$rate" "$us" "$(scheduler_rss)" \
		"$(scheduler_contexts)" "$(((l1 - l0) * 10))"
done
psql_b -At -c "SELECT count(mycelium.cancel_workflow(workflow_id)) FROM mycelium.workflows WHERE status = 'running'" >/dev/null

echo "== 2. $ACTIVE workflows running at once (2 no-op tasks each)"
psql_b -At -c "VACUUM ANALYZE" >/dev/null
psql_b -At <<SQL >/dev/null
TRUNCATE public.probe_ids;
INSERT INTO public.probe_ids
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'noop'),
	mycelium.task('b', 'x', 'noop', dependencies => '{a}')))
  FROM generate_series(1, $ACTIVE);
SQL
rss0=$(scheduler_rss)
t0=$(scheduler_ticks)
psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM public.probe_ids" >/dev/null
peak=$rss0
while [ "$(psql_b -At -c "SELECT count(*) FROM mycelium.workflows WHERE status = 'running'")" -gt 0 ]; do
	r=$(scheduler_rss)
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 1
done
t1=$(scheduler_ticks)
psql_b -At -c "SELECT format('%s workflows, %s completed: %s tasks/s, scheduler CPU %s us/task; scheduler RssAnon %s kB before, %s kB at the peak',
	count(*), count(*) FILTER (WHERE status = 'completed'),
	round(2 * count(*) / extract(epoch FROM max(finished_at) - min(started_at))),
	round(($t1 - $t0) * 10000.0 / (2 * count(*))), $rss0, $peak)
	FROM mycelium.workflows WHERE workflow_id IN (SELECT id FROM public.probe_ids)"

echo "== 3. $CLIENTS concurrent clients creating and controlling workflows for $DURATION s"
psql_b <<'SQL'
CREATE ROLE load_client LOGIN IN ROLE mycelium_user;
GRANT EXECUTE ON FUNCTION public.noop(jsonb), public.nap(jsonb) TO load_client;
-- pause and resume, or cancel; a workflow that ended before the call is
-- refused with MY003, which is counted rather than stopping the client
CREATE FUNCTION public.control(wf uuid, action int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF action <= 20 THEN
		PERFORM mycelium.pause_workflow(wf);
		PERFORM mycelium.resume_workflow(wf);
		RETURN 'paused and resumed';
	ELSIF action <= 30 THEN
		PERFORM mycelium.cancel_workflow(wf);
		RETURN 'cancelled';
	END IF;
	RETURN 'left alone';
EXCEPTION WHEN SQLSTATE 'MY003' THEN
	RETURN 'already ended';
END $$;
GRANT EXECUTE ON FUNCTION public.control(uuid, int) TO load_client;
SQL
mc_as_user tee "$scripts/client.sql" >/dev/null <<'EOF2'
\set action random(1, 100)
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'x', 'nap'),
	mycelium.task('b1', 'x', 'noop', dependencies => '{first}'),
	mycelium.task('b2', 'x', 'noop', dependencies => '{first}'),
	mycelium.task('b3', 'x', 'noop', dependencies => '{first}'),
	mycelium.task('last', 'x', 'noop', dependencies => '{b1,b2,b3}')), name => 'load') AS wf \gset
SELECT mycelium.start_workflow(:wf::uuid);
SELECT (mycelium.get_workflow(:wf::uuid))->>'status';
SELECT public.control(:wf::uuid, :action);
EOF2
psql_b -c "VACUUM ANALYZE" >/dev/null
mc_as_user pgbench -n -M prepared -h "$DIR" -p "$PORT" -U load_client -c "$CLIENTS" -j 2 -T "$DURATION" \
	-f "$scripts/client.sql" "$DB" 2>&1 | grep -E 'number of (transactions actually processed|failed)|tps|latency average|aborted'
deadline=$((SECONDS + 300))
while [ "$(psql_b -At -c "SELECT count(*) FROM mycelium.workflows WHERE name = 'load' AND status NOT IN ('completed', 'failed', 'cancelled')")" -gt 0 ]; do
	[ $SECONDS -lt $deadline ] || mc_die "workflows of the clients did not end within 300 s"
	sleep 1
done
psql_b -At <<SQL
SELECT format('%s workflows by $CLIENTS clients: %s completed, %s cancelled, %s failed, %s with versions not consecutive in history',
	count(*),
	count(*) FILTER (WHERE w.status = 'completed'), count(*) FILTER (WHERE w.status = 'cancelled'),
	count(*) FILTER (WHERE w.status = 'failed'),
	count(*) FILTER (WHERE (SELECT count(DISTINCT h.version) <> w.version OR max(h.version) <> w.version
							  FROM mycelium.workflow_state_history h WHERE h.workflow_id = w.workflow_id)))
  FROM mycelium.workflows w WHERE w.name = 'load';
SQL
rm -rf "$scripts"
