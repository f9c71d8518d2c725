#!/usr/bin/env bash
# bench/agents_ab.sh: one task per call (bench/agents.sh's first scenario)
# with two or more builds of the library, A/B, on one cluster: what a
# change to the agents' calls costs or saves (issue 30).
#
#   REVS="HEAD~1 HEAD" ROUNDS=4 bash bench/agents_ab.sh
#   REVS="HEAD ." bash bench/agents_ab.sh        (. is the working tree)
#
# Builds the library of each git revision of REVS, which must share one
# catalog (the same extension script, so that swapping the library is all
# that differs), installs the first revision's extension, and starts a
# throwaway cluster (synchronous_commit = on).  Then ROUNDS times, for each
# revision in turn: installs its library, restarts the server, makes 200
# running workflows of AGENTS * PER + 400 external tasks, and runs AGENTS
# pgbench clients, each doing PER times claim_tasks(max_tasks => 1) then
# complete_task, each call its own transaction.  Each run prints tasks/s
# and the backends' CPU time per task: the postmaster's cutime + cstime
# across the run (pgbench's backends exit at its end), which the machine's
# other load disturbs far less than tasks/s.  Medians per revision at the
# end.  Interleaving the revisions spreads the machine's drift over both.
# A few minutes with the defaults.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/test/lib/common.sh"

REVS=${REVS:-"HEAD~1 HEAD"}
ROUNDS=${ROUNDS:-4}
AGENTS=${AGENTS:-8}
PER=${PER:-300}
PORT=${PORT:-54396}
DIR=${DIR:-/tmp/mycelium-bench-agents-ab}
DB=bench

mc_install_packages $MC_PACKAGES
work=$(mktemp -d /tmp/mycelium-ab.XXXXXX)
chown "$MC_RUN_USER" "$work"
trap 'mc_cluster_stop "$DIR"; rm -rf "$work"' EXIT

# build each revision: $work/N/tree, its library and extension script
revs=($REVS)
for i in "${!revs[@]}"; do
	tree="$work/$i/tree"
	mkdir -p "$tree"
	if [ "${revs[$i]}" = . ]; then
		rsync -a --exclude .git --exclude 'tmp_check*' --exclude results --exclude '*.o' \
			--exclude '*.so' --exclude node_modules "$here"/ "$tree"/
	else
		git -C "$here" archive "${revs[$i]}" | tar -x -C "$tree"
	fi
	chown -R "$MC_RUN_USER" "$work/$i"
	mc_as_user make -C "$tree" -s -j2 PG_CONFIG="$MC_PG_BIN/pg_config" >/dev/null
	if [ "$i" -gt 0 ] && ! cmp -s "$tree"/mycelium--*.sql "$work/0/tree"/mycelium--*.sql; then
		mc_die "${revs[$i]} and ${revs[0]} have different catalogs: compare them in two clusters"
	fi
done

# the first revision's extension, and the cluster
MC_TREE="$work/0/tree"
mc_as_root make -C "$MC_TREE" -s PG_CONFIG="$MC_PG_BIN/pg_config" install >/dev/null
mc_cluster_start "$DIR" "$PORT" "$DB" "synchronous_commit = on" \
	"shared_buffers = '256MB'" "max_wal_size = '4GB'" "max_connections = 100"
psql_b() { mc_as_user psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -d "$DB" "$@"; }
psql_b -c "SELECT mycelium.register_executor('bench', NULL)" >/dev/null
mc_as_user tee "$work/one.sql" >/dev/null <<'EOF2'
SELECT workflow_id AS wf, task_id AS tk FROM mycelium.claim_tasks('bench', 'agent-' || :client_id::text, 1) \gset
SELECT mycelium.complete_task(:wf::uuid, :tk, 'agent-' || :client_id::text, '{}');
EOF2

pkglib=$("$MC_PG_BIN/pg_config" --pkglibdir)
tck=$(getconf CLK_TCK)
echo "== one task per call: $AGENTS agents x $PER tasks, $ROUNDS rounds of: ${revs[*]}"
echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
	for i in "${!revs[@]}"; do
		mc_as_root install -m 755 "$work/$i/tree/mycelium.so" "$pkglib/mycelium.so"
		mc_as_user pg_ctl -D "$DIR/data" -l "$DIR/server.log" -w restart >/dev/null
		psql_b >/dev/null <<SQL
SELECT count(mycelium.start_workflow(mycelium.create_workflow(
	(SELECT jsonb_agg(jsonb_build_object('task_id', 't' || i, 'agent_id', 'a', 'agent_type', 'bench'))
	   FROM generate_series(1, ($AGENTS * $PER + 400) / 200) i),
	max_parallel_tasks => 10000)))
  FROM generate_series(1, 200);
SQL
		psql_b -c "VACUUM ANALYZE mycelium.task_states" >/dev/null
		pm=$(head -1 "$DIR/data/postmaster.pid")
		c0=$(awk '{ print $16 + $17 }' "/proc/$pm/stat")
		out=$(mc_as_user pgbench -n -M prepared -c "$AGENTS" -j 2 -t "$PER" -f "$work/one.sql" \
			-h "$DIR" -p "$PORT" "$DB" 2>&1) || { echo "$out"; mc_die "pgbench failed"; }
		sleep 0.2
		c1=$(awk '{ print $16 + $17 }' "/proc/$pm/stat")
		tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
		psql_b -c "SELECT count(mycelium.cancel_workflow(workflow_id)) FROM mycelium.workflows WHERE status = 'running'" >/dev/null
		awk -v r="${revs[$i]}" -v t="$tps" -v c=$((c1 - c0)) -v k="$tck" -v n=$((AGENTS * PER)) \
			'BEGIN { printf "%s %d %.0f\n", r, t, c / k * 1e6 / n }' | tee -a "$work/runs"
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians: revision, tasks/s, backend CPU us per task"
for r in "${revs[@]}"; do
	printf '%s %s %s\n' "$r" \
		"$(awk -v r="$r" '$1 == r { print $2 }' "$work/runs" | mc_median)" \
		"$(awk -v r="$r" '$1 == r { print $3 }' "$work/runs" | mc_median)"
done
