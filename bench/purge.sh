#!/usr/bin/env bash
# bench/purge.sh: retention (issue 29): purging WORKFLOWS finished
# workflows of 20 tasks, and the catalog's size after VACUUM.
#
#   bash bench/purge.sh                  (as root or with sudo; the full size,
#                                         100,000 workflows, 2,000,000 tasks)
#   WORKFLOWS=200 CHUNK=100 BATCH=50 bash bench/purge.sh   (a quick check)
#
# MC_PG_BIN chooses the PostgreSQL installation (test/lib/common.sh).
#
# In a throwaway cluster:
#   1. the catalog's size when empty (after VACUUM);
#   2. WORKFLOWS workflows of 20 no-op tasks (half chains, half diamonds)
#      run to completion by the scheduler, CHUNK at a time, so that their
#      tasks, task ids, history and handoff rows are the real ones; one
#      handoff message is sent to each;
#   3. CALL mycelium.purge_workflows('0', batch_size => BATCH), timed, as a
#      pg_cron job would call it, committing after each batch;
#   4. VACUUM of the catalog, and its size again: each table (heap) should
#      be back near its empty size (VACUUM truncates the empty pages at a
#      table's end); indexes keep their pages, empty and reused by new
#      entries (REINDEX gives them back; shown apart).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"
. "$here/bench/lib.sh"

WORKFLOWS=${WORKFLOWS:-100000}
CHUNK=${CHUNK:-5000}
BATCH=${BATCH:-1000}
PORT=${PORT:-54398}
DIR=/tmp/mycelium-bench-purge
DB=bench

bench_cluster_start "shared_buffers = '1GB'" "max_wal_size = '4GB'"
{
	bench_noop_sql
	echo "CREATE TABLE public.ids (id uuid);"
} | psql_b >/dev/null

# catalog_size: heap and index sizes of the catalog tables, in kB
catalog_size() {
	psql_b -c "VACUUM" >/dev/null
	psql_b -c "SELECT c.relname AS table,
		pg_relation_size(c.oid) / 1024 AS heap_kb,
		pg_indexes_size(c.oid) / 1024 AS indexes_kb,
		c2.n_live_tup AS live_rows
	  FROM pg_class c JOIN pg_stat_user_tables c2 ON c2.relid = c.oid
	 WHERE c.relnamespace = 'mycelium'::regnamespace AND c.relkind = 'r'
	 ORDER BY c.relname"
	psql_b -At -c "SELECT 'heap total ' || sum(pg_relation_size(c.oid))::bigint / 1024 || ' kB, indexes total '
		|| sum(pg_indexes_size(c.oid))::bigint / 1024 || ' kB'
	  FROM pg_class c WHERE c.relnamespace = 'mycelium'::regnamespace AND c.relkind = 'r'"
}

mc_log "the empty catalog"
catalog_size

mc_log "running $WORKFLOWS workflows of 20 tasks, $CHUNK at a time"
t0=$(date +%s.%N)
done_wf=0
while [ "$done_wf" -lt "$WORKFLOWS" ]; do
	n=$((WORKFLOWS - done_wf < CHUNK ? WORKFLOWS - done_wf : CHUNK))
	bench_mixed_workflows_sql public.ids "$n" | psql_b >/dev/null
	psql_b -At -c "SELECT count(mycelium.send_handoff(id,
			mycelium.create_handoff('planner', 'plan', 'a', 'noop', 'go'))) FROM public.ids" >/dev/null
	psql_b -At -c "SELECT count(mycelium.start_workflow(id)) FROM public.ids" >/dev/null
	printf '%s\n' "SELECT array_agg(id) AS ids FROM public.ids \gset" \
		"CALL public.wait_all(:'ids')" | psql_b >/dev/null
	done_wf=$((done_wf + n))
done
t1=$(date +%s.%N)
echo "ran $WORKFLOWS workflows in $(echo "$t1 - $t0" | bc) s"
psql_b -At -c "SELECT status, count(*) FROM mycelium.workflow_states GROUP BY status"

mc_log "the full catalog"
catalog_size

mc_log "purge_workflows('0', batch_size => $BATCH)"
t0=$(date +%s.%N)
purged=$(psql_b -At -c "CALL mycelium.purge_workflows('0', batch_size => $BATCH)")
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
echo "purged $purged workflows in $secs s ($(echo "scale=0; $purged / $secs" | bc) workflows/s)"

mc_log "the catalog after the purge and VACUUM"
catalog_size
psql_b -At -c "SELECT 'rows left: ' || (SELECT count(*) FROM mycelium.workflow_states) || ' workflows, '
	|| (SELECT count(*) FROM mycelium.task_states) || ' tasks, '
	|| (SELECT count(*) FROM mycelium.workflow_state_history) || ' history rows'"

mc_log "after REINDEX of the catalog's indexes"
psql_b -c "REINDEX SCHEMA mycelium" >/dev/null
catalog_size
