/*-------------------------------------------------------------------------
 *
 * attempts.c
 *		The statements that start and end attempts, many at a time.
 *
 * A claim (mc_claim_run) takes ready tasks of the workflows it is given
 * and starts an attempt of each: 'running', the attempt counted, a history
 * row each.  The scheduler's workers (dispatch.c) and external agents'
 * claim_tasks (api_agent.c) run the same statement, in four forms (with or
 * without agent-type limits; returning what a worker needs, or the whole
 * row and its ctx for an agent).  A record (mc_record_completions,
 * mc_record_completed_batch) ends completed attempts: the task rows, their
 * history and the release of their dependents, in one statement.  A failed
 * attempt is recorded one at a time, per its task's retry policy
 * (mc_record_failed_attempt).
 *
 * These, with state.c's single transitions, are the only code that writes
 * a task's status.  The caller holds the workflows' locks (state.c) and
 * counts what the statement did into them (mc_workflow_count_*), so that
 * each workflow's row is written once per transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "agent_limits.h"
#include "attempts.h"
#include "citus.h"
#include "citus_attempts.h"
#include "ctx.h"
#include "limit_slots.h"
#include "mycelium.h"
#include "observe.h"
#include "priority.h"
#include "retry.h"

/* the columns of mc_complete_rows_early's statement */
enum
{
	EARLY_N = 1,				/* the attempt's place in the arrays, from 1 */
	EARLY_DEPENDENTS
};

/* the columns of mc_fail_attempt_as's read of a task's retry policy */
enum
{
	POLICY_MAX_ATTEMPTS = 1,
	POLICY_INITIAL_DELAY,
	POLICY_MAX_DELAY,
	POLICY_EXPONENTIAL_BASE
};

/*
 * COMPLETIONS_F, COMPLETE_ROWS
 *		The CTE f of completed attempts, from a statement's arrays $1 to $4
 *		and $8 (workflow ids, task numbers, results, versions, how long the
 *		attempts ran in ms) numbered from 1 in column n, and the update that
 *		sets their task rows completed with their results and execution
 *		times (complete_rows_early, mc_record_completions).  Without $8 (an
 *		external agent's), an attempt ran from its claim until now.
 */
#define COMPLETIONS_F \
	"f AS (" \
	"  SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), " \
	"    pg_catalog.unnest($2::pg_catalog.int4[]), pg_catalog.unnest($3::pg_catalog.jsonb[]), " \
	"    pg_catalog.unnest($4::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.float8[])) " \
	"    WITH ORDINALITY AS f(workflow_id, task_no, result, version, ms, n))"
#define COMPLETE_ROWS \
	"UPDATE mycelium.task_states t SET status = 'completed', result = f.result, " \
	"  error = NULL, error_detail = NULL, finished_at = pg_catalog.clock_timestamp(), " \
	"  worker_id = NULL, lease_until = NULL, execution_time = COALESCE(f.ms, " \
	"    pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t.started_at) * 1000) " \
	"FROM f WHERE t.workflow_id = f.workflow_id AND t.task_no = f.task_no "

/*
 * RECORD_SQL
 *		A statement that records completed attempts, given CTEs that end
 *		with u, the completed tasks (workflow_id, task_no, attempt, result,
 *		owner, version, ms: how long the attempt ran), and the query edges,
 *		one row (workflow_id, task_no) for each of their dependents, as
 *		often as it depends on them: history (event $6, changed by $5), and
 *		the release of the dependents.  Released tasks that the CTE hold
 *		names are held (left 'pending' with no dependency pending, for the
 *		scheduler's step to claim: see mc_record_completed_batch); with
 *		hold RECORD_NO_HOLD, none is.  Its rows are the dependents it
 *		released, in workflow and task order (so agents are notified in a
 *		stable order), as McReleasedColumn says.
 */
#define RECORD_HISTORY \
	", h AS (" \
	"  INSERT INTO mycelium.workflow_state_history " \
	"  (workflow_id, version, task_no, owner, status, attempt, result, event, changed_by, " \
	"   execution_time) " \
	"  SELECT u.workflow_id, u.version, u.task_no, u.owner, 'completed', u.attempt, " \
	"    u.result, $6, $5, u.ms FROM u" \
	")"
#define RECORD_SQL(ctes, edges, hold) \
	"WITH " ctes RECORD_HISTORY \
	", r AS (" \
	"  SELECT e.workflow_id, e.task_no, pg_catalog.count(*)::pg_catalog.int4 AS k " \
	"  FROM (" edges ") AS e(workflow_id, task_no) " \
	"  GROUP BY e.workflow_id, e.task_no" \
	"), hold AS MATERIALIZED (" hold \
	"), released AS (" \
	"  UPDATE mycelium.task_states t SET deps_pending = t.deps_pending - r.k, " \
	"    status = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' " \
	"      AND hold.task_no IS NULL " \
	"      THEN 'ready'::mycelium.task_status ELSE t.status END, " \
	"    ready_rank = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' " \
	"      THEN " MC_READY_RANK("t") " ELSE t.ready_rank END, " \
	"    ready_at = CASE WHEN t.deps_pending = r.k AND t.status = 'pending' " \
	"      AND hold.task_no IS NULL " \
	"      THEN pg_catalog.clock_timestamp() ELSE t.ready_at END " \
	"  FROM r LEFT JOIN hold ON hold.workflow_id = r.workflow_id AND hold.task_no = r.task_no " \
	"  WHERE t.workflow_id = r.workflow_id AND t.task_no = r.task_no " \
	"  RETURNING t.workflow_id, t.task_no, t.status = 'ready' AS ready, " \
	"    " MC_EXTERNAL_READY_TYPE("t") " AS external_type, " \
	"    t.status = 'pending' AND t.deps_pending = 0 AS held" \
	") " \
	"SELECT * FROM released ORDER BY released.workflow_id, released.task_no"

/* RECORD_SQL's hold for statements that hold nothing (external agents') */
#define RECORD_NO_HOLD \
	"  SELECT NULL::pg_catalog.uuid AS workflow_id, NULL::pg_catalog.int4 AS task_no " \
	"  WHERE false"

/*
 * RECORD_HOLD
 *		RECORD_SQL's hold for the scheduler's workers: of the released
 *		tasks that a function executor runs and that have no back-off, the
 *		first $13 of each workflow and $14 in all, in workflow and task
 *		order (what the step can claim: a task held and not claimed is
 *		written twice, once by release_held).
 */
#define RECORD_HOLD \
	"  SELECT x.workflow_id, x.task_no FROM (" \
	"    SELECT y.workflow_id, y.task_no, " \
	"      pg_catalog.row_number() OVER (ORDER BY y.workflow_id, y.task_no) AS n FROM (" \
	"      SELECT r.workflow_id, r.task_no, pg_catalog.row_number() OVER " \
	"        (PARTITION BY r.workflow_id ORDER BY r.task_no) AS n " \
	"      FROM r JOIN mycelium.task_states t " \
	"        ON t.workflow_id = r.workflow_id AND t.task_no = r.task_no " \
	"      WHERE $7 AND t.deps_pending = r.k AND t.status = 'pending' " \
	"        AND t.run_after IS NULL AND " MC_FUNCTION_TASK("t") ") y " \
	"    WHERE y.n <= $13) x " \
	"  WHERE x.n <= $14"

/*
 * RECORD_LEAVES_SQL
 *		RECORD_SQL for completed tasks that no task depends on: the task
 *		rows and their history, and no rows.  Without the release of
 *		dependents, the statement has one update of task_states (and its
 *		indexes to open) instead of two.
 */
#define RECORD_LEAVES_SQL(ctes) \
	"WITH " ctes RECORD_HISTORY " SELECT u.workflow_id FROM u WHERE false"

/* RECORD_SQL's completed tasks u and edges, for mc_record_completions */
#define RECORD_COMPLETIONS_U \
	COMPLETIONS_F ", u AS (" COMPLETE_ROWS \
	"  RETURNING t.workflow_id, t.task_no, t.attempt, t.result, " \
	"    t.owner, f.version, t.dependents, t.execution_time AS ms)"
#define RECORD_COMPLETIONS_EDGES \
	"SELECT u.workflow_id, d.task_no " \
	"FROM u, pg_catalog.unnest(u.dependents) AS d(task_no)"

/*
 * mc_record_completions
 *		Records n completed attempts in one statement (RECORD_SQL): the
 *		task rows, with their results, history (versions[i] for the ith,
 *		with event), and the release of their dependents.  The caller holds
 *		the workflows' locks and counts the completions into them.  With
 *		save, the workflow of all n, whose change the caller has counted and
 *		settled without a new status, the statement saves it too
 *		(MC_WORKFLOW_SAVE_COUNTERS): a statement less for an agent's
 *		completion that does not end its workflow; and with leaves (the
 *		caller has seen that no task depends on any of them), it has no
 *		release of dependents (RECORD_LEAVES_SQL).
 */
uint64
mc_record_completions(McCatalogSession *session, int n, Datum *ids, Datum *nos,
					  Datum *results, Datum *versions, const char *event,
					  McWorkflow *save, bool leaves)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID, JSONBARRAYOID,
		INT8ARRAYOID, REGROLEOID, TEXTOID, BOOLOID, FLOAT8ARRAYOID,
	UUIDOID, INT8OID, INT4OID, INT4OID};
	Datum		values[12];
	const char	nulls[12] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n', ' ', ' ', ' ', ' '};
	uint64		rows;

	if (mc_citus_present())
		return mc_citus_record_completions(session, n, ids, nos, results,
										   versions, event);
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(nos, n, INT4OID);
	values[2] = mc_catalog_array(results, n, JSONBOID);
	values[3] = mc_catalog_array(versions, n, INT8OID);
	values[4] = ObjectIdGetDatum(session->caller);
	values[5] = CStringGetTextDatum(event);
	values[6] = BoolGetDatum(false);
	if (save == NULL)
		return mc_catalog_run(MC_PLAN_FINISH_TASKS,
							  RECORD_SQL(RECORD_COMPLETIONS_U, RECORD_COMPLETIONS_EDGES,
										 RECORD_NO_HOLD),
							  8, argtypes, values, nulls, 0);
	Assert(!save->status_set);
	values[8] = UUIDPGetDatum(&save->id);
	values[9] = Int64GetDatum(save->version);
	values[10] = Int32GetDatum(save->tasks_open);
	values[11] = Int32GetDatum(save->tasks_running);
	if (leaves)
		rows = mc_catalog_run(MC_PLAN_RECORD_SAVED_LEAVES,
							  RECORD_LEAVES_SQL(RECORD_COMPLETIONS_U ", s AS ("
												MC_WORKFLOW_SAVE_COUNTERS("", "$9", "$10", "$11", "$12")
												")"),
							  12, argtypes, values, nulls, 0);
	else
		rows = mc_catalog_run(MC_PLAN_RECORD_SAVED,
							  RECORD_SQL(RECORD_COMPLETIONS_U ", s AS ("
										 MC_WORKFLOW_SAVE_COUNTERS("", "$9", "$10", "$11", "$12")
										 ")",
										 RECORD_COMPLETIONS_EDGES, RECORD_NO_HOLD),
							  12, argtypes, values, nulls, 0);
	mc_workflow_saved(save);
	return rows;
}

/*
 * mc_complete_rows_early
 *		Sets the rows of the step's completed attempts (finished[0..n), in
 *		workflow and task order) completed before the step locks their
 *		workflows: the step holds the task rows' locks
 *		(mc_dispatch_lock_batch), so this part of the work need not hold
 *		up other sessions waiting for the workflows' locks.
 *		mc_record_completed_batch records the rest.  Returns
 *		for each attempt whether its row was set (set[i]) and, if so, its
 *		dependents (dependents[i], NULL for none), which the update reads
 *		as it writes the row.
 */
void
mc_complete_rows_early(McCatalogSession *session, McRunTask *finished, int n,
					   bool *set, ArrayType **dependents)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID, JSONBARRAYOID,
		INT8ARRAYOID, REGROLEOID, TEXTOID, BOOLOID, FLOAT8ARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *nos = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *results = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *ms = palloc(sizeof(Datum) * Max(n, 1));
	int		   *index = palloc(sizeof(int) * Max(n, 1));
	Datum		values[8];
	/* no versions; $5 to $7 are RECORD_SQL's, unused here */
	const char	nulls[8] = {' ', ' ', ' ', 'n', 'n', 'n', 'n', ' '};
	int			k = 0;
	int			i;
	uint64		rows;
	uint64		r;

	for (i = 0; i < n; i++)
	{
		set[i] = false;
		dependents[i] = NULL;
		if (finished[i].outcome != MC_OUTCOME_COMPLETED)
			continue;
		ids[k] = UUIDPGetDatum(&finished[i].workflow_id);
		nos[k] = Int32GetDatum(finished[i].task_no);
		results[k] = JsonbPGetDatum(finished[i].result);
		ms[k] = Float8GetDatum(finished[i].execution_ms);
		index[k++] = i;
	}
	if (k == 0)
		return;
	if (mc_citus_present())
		rows = mc_citus_complete_rows(k, ids, nos, results, ms);
	else
	{
		values[0] = mc_catalog_array(ids, k, UUIDOID);
		values[1] = mc_catalog_array(nos, k, INT4OID);
		values[2] = mc_catalog_array(results, k, JSONBOID);
		values[7] = mc_catalog_array(ms, k, FLOAT8OID);
		rows = mc_catalog_run(MC_PLAN_COMPLETE_ROWS,
							  "WITH " COMPLETIONS_F " " COMPLETE_ROWS
							  "RETURNING f.n, t.dependents",
							  8, argtypes, values, nulls, 0);
	}
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		int			f = index[DatumGetInt64(mc_catalog_value(r, EARLY_N, &isnull)) - 1];
		Datum		d = mc_catalog_value(r, EARLY_DEPENDENTS, &isnull);

		set[f] = true;
		if (!isnull)
			dependents[f] = DatumGetArrayTypeP(d);
	}
}

/*
 * mc_record_completed_batch
 *		Records n completed attempts whose task rows mc_complete_rows_early
 *		set, in one statement (RECORD_SQL): for the ith, workflow ids[i],
 *		task nos[i], attempts[i], results[i], owners[i], its version
 *		versions[i] and how long it ran, ms[i]; and the dependency edges
 *		(edge_ids[j], edge_nos[j]: one per dependent of each, as often as
 *		it depends on it).  Released dependents that a function executor
 *		runs are held for the step to claim, at most hold_each of a
 *		workflow and hold_total in all (RECORD_HOLD).  Returns the released
 *		dependents as rows (McReleasedColumn), in workflow and task order.
 */
uint64
mc_record_completed_batch(McCatalogSession *session, int n, Datum *ids,
						  Datum *nos, Datum *attempts, Datum *results,
						  Datum *owners, Datum *versions, Datum *ms,
						  int nedges, Datum *edge_ids, Datum *edge_nos,
						  int hold_each, int hold_total)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID, JSONBARRAYOID,
		INT8ARRAYOID, REGROLEOID, TEXTOID, BOOLOID, INT4ARRAYOID,
		REGROLEARRAYOID, UUIDARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID, INT4OID,
	INT4OID};
	Datum		values[14];

	if (mc_citus_present())
		return mc_citus_record_completed_batch(session, n, ids, nos, versions);
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(nos, n, INT4OID);
	values[2] = mc_catalog_array(results, n, JSONBOID);
	values[3] = mc_catalog_array(versions, n, INT8OID);
	values[4] = ObjectIdGetDatum(session->caller);
	values[5] = CStringGetTextDatum("completed");
	values[6] = BoolGetDatum(true);
	values[7] = mc_catalog_array(attempts, n, INT4OID);
	values[8] = mc_catalog_array(owners, n, REGROLEOID);
	values[9] = mc_catalog_array(edge_ids, nedges, UUIDOID);
	values[10] = mc_catalog_array(edge_nos, nedges, INT4OID);
	values[11] = mc_catalog_array(ms, n, FLOAT8OID);
	values[12] = Int32GetDatum(hold_each);
	values[13] = Int32GetDatum(hold_total);
	return mc_catalog_run(MC_PLAN_RECORD_COMPLETED,
						  RECORD_SQL("u AS ("
									 "  SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
									 "    pg_catalog.unnest($2::pg_catalog.int4[]), "
									 "    pg_catalog.unnest($8::pg_catalog.int4[]), "
									 "    pg_catalog.unnest($3::pg_catalog.jsonb[]), "
									 "    pg_catalog.unnest($9::pg_catalog.regrole[]), "
									 "    pg_catalog.unnest($4::pg_catalog.int8[]), "
									 "    pg_catalog.unnest($12::pg_catalog.float8[])) "
									 "    AS u(workflow_id, task_no, attempt, result, owner, version, ms))",
									 "SELECT * FROM ROWS FROM (pg_catalog.unnest($10::pg_catalog.uuid[]), "
									 "  pg_catalog.unnest($11::pg_catalog.int4[]))",
									 RECORD_HOLD),
						  14, argtypes, values, NULL, 0);
}

/*
 * mc_release_held_tasks
 *		Makes ready, in one statement, n tasks a step held and did not
 *		claim (workflow ids[i], task nos[i]), so that no held task outlives
 *		its step.  A held task whose workflow ended in the step was skipped
 *		or cancelled with the rest, and stays so.
 */
void
mc_release_held_tasks(int n, Datum *ids, Datum *nos)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID};
	Datum		values[2];

	if (mc_citus_present())
	{
		mc_citus_release_held_tasks(n, ids, nos);
		return;
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(nos, n, INT4OID);
	(void) mc_catalog_run(MC_PLAN_RELEASE_HELD,
						  "UPDATE mycelium.task_states t SET status = 'ready', "
						  "  ready_at = pg_catalog.clock_timestamp() "
						  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
						  "  pg_catalog.unnest($2::pg_catalog.int4[])) AS f(workflow_id, task_no) "
						  "WHERE t.workflow_id = f.workflow_id AND t.task_no = f.task_no "
						  "  AND t.status = 'pending' AND t.deps_pending = 0",
						  2, argtypes, values, NULL, 0);
}

/*
 * mc_record_failed_attempt
 *		Records one failed attempt: another attempt after the policy's
 *		back-off while attempts are left, else the task fails (and with it
 *		the workflow, unless allow_failure).  An attempt handed back
 *		unstarted (MC_OUTCOME_HANDED_BACK) is not counted: the task is
 *		ready again at once, with the attempt count it had before its
 *		claim.  Returns whether a task (a dependent, or this one) may have
 *		become ready.  The caller holds the workflow lock; after this,
 *		wf->version is the next unused version.
 */
bool
mc_record_failed_attempt(McCatalogSession *session, McWorkflow *wf, McRunTask *rt)
{
	McTask		task;
	McError		error;

	error.type = rt->error_type ? rt->error_type : (rt->timed_out ? "timeout" : "exception");
	error.message = rt->error;
	error.sqlerrcode = rt->sqlerrcode;
	error.execution_ms = rt->execution_ms;

	/* the row may have been cancelled while the attempt ran */
	if (!mc_task_get(wf, rt->task_id, &task) || task.status != MC_TASK_RUNNING ||
		task.attempt != rt->attempt)
		return false;

	/* its workflow ended while it ran (cancelled, or another task failed) */
	if (mc_workflow_status_is_ending(wf->status))
	{
		if (rt->error_type == NULL)
			error.type = "cancelled";
		if (rt->error != NULL && rt->outcome != MC_OUTCOME_HANDED_BACK)
			mc_log_failed_attempt(&wf->id, rt->task_id, rt->attempt, error.type,
								  error.sqlerrcode, "cancelled");
		/* an attempt handed back did not run */
		if (rt->outcome == MC_OUTCOME_HANDED_BACK)
			error.execution_ms = 0;
		/* without an error, error carries the attempt's time alone */
		mc_task_transition(session, wf, &task, MC_TASK_CANCELLED, NULL, &error,
						   psprintf("cancelled: workflow %s", mc_workflow_status_names[wf->status]));
		mc_workflow_count_change(wf);
		return false;
	}

	if (rt->outcome == MC_OUTCOME_HANDED_BACK)
	{
		mc_task_retry(session, wf, &task, 0, false, NULL,
					  rt->error != NULL ? psprintf("handed back: %s", rt->error)
					  : "handed back: not started");
		mc_workflow_count_change(wf);
		return true;
	}

	if (rt->attempt < rt->max_attempts && !mc_workflow_status_is_ending(wf->status))
	{
		double		delay = mc_retry_delay(rt->attempt, rt->initial_delay,
										   rt->max_delay, rt->exponential_base);

		mc_log_failed_attempt(&wf->id, rt->task_id, rt->attempt, error.type,
							  error.sqlerrcode, "retry");
		mc_task_retry(session, wf, &task, delay, true, &error,
					  psprintf("attempt %d failed; retry in %g s", rt->attempt, delay));
		mc_workflow_count_change(wf);
		return delay == 0;
	}
	mc_log_failed_attempt(&wf->id, rt->task_id, rt->attempt, error.type,
						  error.sqlerrcode, "failed");
	mc_task_transition(session, wf, &task, MC_TASK_FAILED, NULL, &error,
					   rt->timed_out ? "timed out" : "failed");
	mc_workflow_count_change(wf);
	return task.allow_failure;
}

/*
 * CLAIMED_COLUMNS_OF, CLAIMED_COLUMNS
 *		What a claim returns of each claimed task row u (McClaimedColumn),
 *		given its executor, output schema and registering role; from e, its
 *		agent type's executors row (CLAIMED_COLUMNS).
 */
#define CLAIMED_COLUMNS_OF(executor, output_schema, registered_by) \
	"u.workflow_id, u.task_no, u.task_id, u.attempt, u.max_attempts, u.initial_delay, " \
	"u.max_delay, u.exponential_base, COALESCE(u.timeout, 0), u.allow_failure, " \
	executor ", u.owner::pg_catalog.oid, " output_schema ", u.agent_type, u.lease_until, " \
	registered_by ", u.own_priority IS NOT NULL "
#define CLAIMED_COLUMNS \
	CLAIMED_COLUMNS_OF("COALESCE(e.executor::pg_catalog.oid, 0)", "e.output_schema", \
					   "COALESCE(e.registered_by::pg_catalog.oid, 0)")

/*
 * CLAIM_SQL
 *		The claim statement of mc_claim_run: takes the tasks, records their
 *		'running' versions, and returns them, followed by the columns ctx
 *		("" or ", " MC_CTX_COLUMNS of the claimed row u); u has the claimed
 *		rows' columns returning, at least those the final select uses.
 *		CLAIM_TASKS_OF_W: what a ready task t of workflow w must be for
 *		the claim to take it.  The candidates c keep the columns of their
 *		order (lvl, ready, rank, ord: see mc_claim_run), for the limits' l.
 *		On Citus a claim runs citus_attempts.c's form, one per workflow.
 */
#define CLAIM_TASKS_OF_W(spent) \
	"     WHERE t.workflow_id = w.id AND t.status = 'ready' " \
	"       AND " MC_TASK_DUE("t") \
	spent \
	"       AND CASE WHEN $7::pg_catalog.text IS NULL THEN " \
	"         " MC_FUNCTION_TASK("t") \
	"         ELSE t.agent_type = $7 END "
#define CLAIM_SQL(returning, ctx, spent, limited, source, debit) \
	"WITH w AS (" \
	"  SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), " \
	"    pg_catalog.unnest($2::pg_catalog.int4[]), pg_catalog.unnest($3::pg_catalog.int4[]), " \
	"    pg_catalog.unnest($4::pg_catalog.int8[]), pg_catalog.unnest($10::pg_catalog.int4[]), " \
	"    pg_catalog.unnest($11::pg_catalog.int4[]), pg_catalog.unnest($17::pg_catalog.int4[])) " \
	"    WITH ORDINALITY AS w(id, lim, after, base, hfirst, hcount, prio, ord)" \
	"), c AS (" \
	"  SELECT w.id, x.task_no, x.lvl, x.ready, x.rank, w.ord FROM w CROSS JOIN LATERAL (" \
	"    SELECT y.task_no, y.rank, y.rank IS NOT NULL AS ready, pg_catalog.floor(" \
	"      pg_catalog.date_part('epoch', COALESCE(y.rank, pg_catalog.clock_timestamp() " \
	"        - pg_catalog.make_interval(secs => w.prio * $18))) / $18) AS lvl " \
	"    FROM (" \
	"    (SELECT ($12::pg_catalog.int4[])[i] AS task_no, NULL::pg_catalog.timestamptz AS rank " \
	"     FROM pg_catalog.generate_series(w.hfirst, w.hfirst + w.hcount - 1) AS i) " \
	"    UNION ALL " \
	"    (SELECT t.task_no, t.ready_rank FROM mycelium.task_states t " \
	CLAIM_TASKS_OF_W(spent) \
	"       AND t.task_no > w.after AND t.own_priority IS NULL " \
	"     ORDER BY t.task_no LIMIT w.lim) " \
	"    UNION ALL " \
	"    (SELECT t.task_no, t.ready_rank FROM mycelium.task_states t " \
	CLAIM_TASKS_OF_W(spent) \
	"       AND t.own_priority IS NOT NULL " \
	"     ORDER BY t.ready_rank LIMIT w.lim)) y " \
	"    ORDER BY 4, 3, 2, 1 LIMIT w.lim) x " \
	"  ORDER BY x.lvl, x.ready, x.rank, w.ord, x.task_no " \
	"  LIMIT $9" \
	limited \
	"), u AS (" \
	"  UPDATE mycelium.task_states t SET status = 'running', attempt = t.attempt + 1, " \
	"    started_at = pg_catalog.clock_timestamp(), finished_at = NULL, run_after = NULL, " \
	"    worker_id = $5, lease = $8, " \
	"    lease_until = CASE WHEN $8::pg_catalog.interval IS NOT NULL THEN " \
	"      LEAST(pg_catalog.clock_timestamp() + $8, " \
	"        pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => t.timeout)) END " \
	"  FROM " source " c WHERE t.workflow_id = c.id AND t.task_no = c.task_no " \
	"  RETURNING " returning \
	"), h AS (" \
	"  INSERT INTO mycelium.workflow_state_history " \
	"  (workflow_id, version, task_no, owner, status, attempt, event, changed_by) " \
	"  SELECT u.workflow_id, w.base + pg_catalog.row_number() OVER " \
	"      (PARTITION BY u.workflow_id ORDER BY u.task_no) - 1, " \
	"    u.task_no, u.owner, 'running', u.attempt, " \
	"    CASE WHEN $7 IS NULL THEN 'dispatched' ELSE 'claimed by ' || $5 END, $6 " \
	"  FROM u JOIN w ON w.id = u.workflow_id" \
	debit \
	") " \
	"SELECT " CLAIMED_COLUMNS ctx \
	"FROM u LEFT JOIN mycelium.executors e ON e.agent_type = u.agent_type " \
	"ORDER BY u.workflow_id, u.task_no"

/*
 * CLAIM_SPENT, CLAIM_LIMITED, CLAIM_DEBIT
 *		The parts of the claim statement for agent types with limits
 *		(agent_limits.c): the candidate tasks c leave out the types that may
 *		start none (so that they do not fill the claim's places and hold
 *		back the other tasks of the workflow); l keeps at most allows[i]
 *		($14) of agent type types[i] ($13), the first in the claim's order
 *		(priorities), and r takes the claimed tasks from the tokens of each
 *		type's rate on its executors row (tokens[i], $15, counted at $16;
 *		NULL: none, or $15 NULL where the buckets are in shared memory).
 */
#define CLAIM_SPENT \
	"       AND NOT EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest($13::pg_catalog.text[]), " \
	"         pg_catalog.unnest($14::pg_catalog.int4[])) AS k(agent_type, allow) " \
	"         WHERE k.agent_type = t.agent_type COLLATE \"C\" AND k.allow = 0) "
#define CLAIM_LIMITED \
	"), l AS (" \
	"  SELECT c.id, c.task_no FROM (" \
	"    SELECT c.id, c.task_no, t.agent_type, pg_catalog.row_number() OVER " \
	"      (PARTITION BY t.agent_type ORDER BY c.lvl, c.ready, c.rank, c.ord, c.task_no) AS rn " \
	"    FROM c JOIN mycelium.task_states t ON t.workflow_id = c.id AND t.task_no = c.task_no) c " \
	"  LEFT JOIN ROWS FROM (pg_catalog.unnest($13::pg_catalog.text[]), " \
	"    pg_catalog.unnest($14::pg_catalog.int4[])) AS k(agent_type, allow) " \
	"    ON k.agent_type = c.agent_type COLLATE \"C\" " \
	"  WHERE k.allow IS NULL OR c.rn <= k.allow"
#define CLAIM_DEBIT \
	"), r AS (" \
	"  UPDATE mycelium.executors e SET rate_tokens = k.tokens - n.n, rate_at = $16 " \
	"  FROM (SELECT u.agent_type, pg_catalog.count(*) AS n FROM u GROUP BY u.agent_type) n " \
	"  JOIN ROWS FROM (pg_catalog.unnest($13::pg_catalog.text[]), " \
	"    pg_catalog.unnest($15::pg_catalog.float8[])) AS k(agent_type, tokens) " \
	"    ON k.agent_type = n.agent_type COLLATE \"C\" " \
	"  WHERE e.agent_type = n.agent_type AND k.tokens IS NOT NULL"

/* the scheduler's claims return these columns of the claimed rows */
#define CLAIM_WORKER_RETURNING \
	"t.workflow_id, t.task_no, t.task_id, t.attempt, " \
	"t.max_attempts, t.initial_delay, t.max_delay, " \
	"t.exponential_base, t.timeout, t.allow_failure, " \
	"t.owner, t.agent_type, t.lease_until, t.own_priority"

/*
 * mc_claim_run
 *		The claim statement: claims, in one statement, up to limits[i]
 *		ready tasks numbered above afters[i] from each workflow ids[i],
 *		whose next version is bases[i], and at most cap in all, taking the
 *		workflows in the order given; marks them running with their
 *		attempt counted, records history (one version each, in task order
 *		within a workflow), and returns each claimed task, in workflow and
 *		task order.  With agent_type NULL it claims tasks that function
 *		executors run (the scheduler); else the tasks of that external
 *		agent type, leased to worker_id for lease (never past the task's
 *		timeout), with their execution context's columns from column 18
 *		(mc_ctx_from_row).  The caller holds the workflows' locks and
 *		counts the claims into them.
 *
 * What the limits of agent types (agent_limits.c) leave the claim is taken
 * first (reserved, or their rows locked), and the claim takes no more of
 * their tasks than that, then gives back what it did not take; an external
 * agent's claim of a type that may start none takes nothing.  maybe_limited false
 * says the caller has just seen that agent_type has no limits
 * (claim_tasks): then they are not looked up again.
 *
 * The scheduler also passes the tasks its step held (mc_record_completed_batch):
 * hcounts[i] of them for workflow i, in task order from held[hfirsts[i]]
 * (from 1), claimed before any ready task of the workflow.  hfirsts NULL:
 * none.
 *
 * Priorities (priority.c): of the candidate tasks, those of the lowest
 * ready_rank are claimed first, compared in whole steps of
 * mycelium.priority_aging (a task held this step ranks as ready now, at
 * its workflow's priority, prios[i]); within a step, held tasks first (a
 * worker goes on with the workflows it was running), then the ready ones
 * by ready_rank (first come, first served), then in the order the
 * workflows are given and in task order.  So when the cap is short, a
 * workflow of higher priority (or a task of a priority of its own) goes
 * first.  A workflow's tasks without a priority of their own are taken in
 * task order (the first lim of them); those with one are found through
 * their own index, so that a claim need not sort all of a large
 * workflow's ready tasks.
 */
uint64
mc_claim_run(McCatalogSession *session, int n, Datum *ids, Datum *limits,
			 Datum *afters, Datum *bases, Datum *prios, Datum *hfirsts,
			 Datum *hcounts, Datum *held, int nheld, int cap,
			 const char *worker_id, const char *agent_type, Interval *lease,
			 bool maybe_limited)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID, INT4ARRAYOID,
		INT8ARRAYOID, TEXTOID, REGROLEOID, TEXTOID, INTERVALOID, INT4OID,
		INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	FLOAT8ARRAYOID, TIMESTAMPTZOID, INT4ARRAYOID, FLOAT8OID};
	Datum		values[18];
	char		nulls[18];
	McLimits	typelimits;
	bool		limited;
	bool		narrow;
	uint64		rows;

	memset(nulls, ' ', sizeof(nulls));

	/* agent types with limits: lock them, and claim only what they allow */
	limited = maybe_limited && mc_limits_take(agent_type, cap, &typelimits);
	if (limited)
	{
		/* the one agent type of an external agent's claim is spent */
		if (agent_type != NULL && !typelimits.any_room)
		{
			mc_limits_settle(&typelimits, 0, MC_CLAIMED_AGENT_TYPE);
			return 0;
		}
		values[12] = typelimits.types;
		values[13] = typelimits.allows;
		values[14] = typelimits.tokens;
		values[15] = TimestampTzGetDatum(typelimits.at);
		/* reserved in shared memory: the rows' tokens are not written */
		nulls[14] = typelimits.asks ? 'n' : ' ';
	}
	else
		nulls[12] = nulls[13] = nulls[14] = nulls[15] = 'n';
	if (mc_citus_present())
		return mc_citus_claim_run(session, n, ids, limits, afters, bases, prios,
								  hfirsts, hcounts, held, cap, worker_id,
								  agent_type, lease, limited ? &typelimits : NULL);
	if (hfirsts == NULL)
	{
		/* no held tasks: w's hfirst and hcount are NULL, and none is taken */
		nulls[9] = nulls[10] = nulls[11] = 'n';
	}
	else
	{
		values[9] = mc_catalog_array(hfirsts, n, INT4OID);
		values[10] = mc_catalog_array(hcounts, n, INT4OID);
		values[11] = mc_catalog_array(held, nheld, INT4OID);
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(limits, n, INT4OID);
	values[2] = mc_catalog_array(afters, n, INT4OID);
	values[3] = mc_catalog_array(bases, n, INT8OID);
	values[4] = CStringGetTextDatum(worker_id);
	values[5] = ObjectIdGetDatum(session->caller);
	values[6] = agent_type ? CStringGetTextDatum(agent_type) : (Datum) 0;
	nulls[6] = agent_type ? ' ' : 'n';
	values[7] = IntervalPGetDatum(lease);
	nulls[7] = lease ? ' ' : 'n';
	values[8] = Int32GetDatum(cap);
	values[16] = mc_catalog_array(prios, n, INT4OID);
	values[17] = Float8GetDatum((double) mc_priority_aging_s);

	/*
	 * With what the limits leave reserved in shared memory, a claim need
	 * not apply them in the statement when that is simpler: an external
	 * agent's claim of its one type takes no more than was reserved, and a
	 * worker's claim that no limit holds back takes what it would without.
	 */
	narrow = limited;
	if (limited && typelimits.asks != NULL && agent_type != NULL)
	{
		values[8] = Int32GetDatum(Min(cap, typelimits.asks[0].reserved));
		narrow = false;
	}
	else if (limited && typelimits.asks != NULL && !typelimits.binding)
		narrow = false;

	/* the scheduler's workers build the ctx when they lock the batch */
	if (agent_type == NULL && !narrow)
		rows = mc_catalog_run(MC_PLAN_CLAIM,
							  CLAIM_SQL(CLAIM_WORKER_RETURNING, "", "", "", "c", ""),
							  18, argtypes, values, nulls, 0);
	else if (!narrow)
		rows = mc_catalog_run(MC_PLAN_CLAIM_AGENT,
							  CLAIM_SQL("t.*", ", " MC_CTX_COLUMNS("u"), "", "", "c", ""),
							  18, argtypes, values, nulls, 0);
	else if (agent_type == NULL)
		rows = mc_catalog_run(MC_PLAN_CLAIM_LIMITED,
							  CLAIM_SQL(CLAIM_WORKER_RETURNING, "", CLAIM_SPENT,
										CLAIM_LIMITED, "l", CLAIM_DEBIT),
							  18, argtypes, values, nulls, 0);
	else
		rows = mc_catalog_run(MC_PLAN_CLAIM_AGENT_LIMITED,
							  CLAIM_SQL("t.*", ", " MC_CTX_COLUMNS("u"), CLAIM_SPENT,
										CLAIM_LIMITED, "l", CLAIM_DEBIT),
							  18, argtypes, values, nulls, 0);
	if (limited)
		mc_limits_settle(&typelimits, rows, MC_CLAIMED_AGENT_TYPE);
	return rows;
}

/*
 * CLAIM_ONE_OF(own)
 *		The first ready, due task of agent type $2 in workflow $1 with a
 *		priority of its own (own "NOT NULL": the lowest ready_rank) or
 *		without (own "NULL": the first in task order), as CLAIM_SQL's
 *		candidates of one workflow.
 */
#define CLAIM_ONE_OF(own, order) \
	"(SELECT t.task_no, t.ready_rank AS rank FROM mycelium.task_states t " \
	"  WHERE t.workflow_id = $1 AND t.status = 'ready' AND " MC_TASK_DUE("t") \
	"    AND t.agent_type = $2 AND t.own_priority IS " own " " \
	"  ORDER BY " order " LIMIT 1)"

/*
 * mc_claim_one
 *		The claim statement (mc_claim_run) of an external agent for one
 *		task of an agent type without limits, from one workflow wf that
 *		the caller has locked and found running with room: the task CLAIM_SQL
 *		would take from wf alone, marked running with its attempt counted
 *		and leased to worker_id for lease, its history at wf->version, and
 *		wf's row saved, all in one statement.  Returns the claimed task
 *		(0 or 1 rows) as McClaimedColumn, its ctx's columns from
 *		MC_CLAIMED_CTX followed by MC_CTX_INLINE_COLUMNS (for
 *		mc_ctx_sources_inline); an external agent type has no executor,
 *		and claim_tasks does not read the output schema, so neither is
 *		looked up (MC_CLAIMED_EXECUTOR and MC_CLAIMED_REGISTERED_BY 0,
 *		MC_CLAIMED_OUTPUT_SCHEMA NULL).  With a task claimed, wf is counted and
 *		saved (mc_workflow_saved); without, it is left as it was.
 */
uint64
mc_claim_one(McCatalogSession *session, McWorkflow *wf, const char *worker_id,
			 const char *agent_type, Interval *lease)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID, TEXTOID, INTERVALOID,
		INT8OID, REGROLEOID, INT4OID, FLOAT8OID, INT4OID};
	Datum		values[9];
	uint64		rows;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(agent_type);
	values[2] = CStringGetTextDatum(worker_id);
	values[3] = IntervalPGetDatum(lease);
	values[4] = Int64GetDatum(wf->version);
	values[5] = ObjectIdGetDatum(session->caller);
	values[6] = Int32GetDatum(wf->tasks_running + 1);
	values[7] = Float8GetDatum((double) mc_priority_aging_s);
	values[8] = Int32GetDatum(wf->priority);
	rows = mc_catalog_run(MC_PLAN_CLAIM_ONE,
						  "WITH c AS ("
						  "  SELECT x.task_no FROM (" CLAIM_ONE_OF("NULL", "t.task_no")
						  "    UNION ALL " CLAIM_ONE_OF("NOT NULL", "t.ready_rank") ") x "
						  "  ORDER BY pg_catalog.floor(pg_catalog.date_part('epoch', "
						  "    COALESCE(x.rank, pg_catalog.clock_timestamp() "
						  "      - pg_catalog.make_interval(secs => $9 * $8))) / $8), "
						  "    x.rank IS NOT NULL, x.rank, x.task_no "
						  "  LIMIT 1"
						  "), u AS ("
						  "  UPDATE mycelium.task_states t SET status = 'running', attempt = t.attempt + 1, "
						  "    started_at = pg_catalog.clock_timestamp(), finished_at = NULL, run_after = NULL, "
						  "    worker_id = $3, lease = $4, "
						  "    lease_until = LEAST(pg_catalog.clock_timestamp() + $4, "
						  "      pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => t.timeout)) "
						  "  FROM c WHERE t.workflow_id = $1 AND t.task_no = c.task_no "
						  "  RETURNING t.*"
						  "), h AS ("
						  "  INSERT INTO mycelium.workflow_state_history "
						  "  (workflow_id, version, task_no, owner, status, attempt, event, changed_by) "
						  "  SELECT u.workflow_id, $5, u.task_no, u.owner, 'running', u.attempt, "
						  "    'claimed by ' || $3, $6 FROM u"
						  "), s AS ("
						  MC_WORKFLOW_SAVE_COUNTERS("FROM (SELECT 1 FROM u) n", "$1",
													"$5", "w.tasks_open", "$7")
						  ") "
						  "SELECT " CLAIMED_COLUMNS_OF("0::pg_catalog.oid", "NULL::pg_catalog.jsonb",
													   "0::pg_catalog.oid")
						  ", " MC_CTX_COLUMNS("u") ", " MC_CTX_INLINE_COLUMNS("u", "ws")
						  "FROM u JOIN mycelium.workflow_states ws ON ws.workflow_id = u.workflow_id",
						  9, argtypes, values, NULL, 0);
	if (rows > 0)
	{
		mc_workflow_count_started(wf, 1);
		mc_workflow_count_done(wf);
		mc_workflow_saved(wf);
	}
	return rows;
}

/*
 * mc_fail_attempt_as
 *		The running attempt of task, outside any batch, ended with outcome
 *		(failed, timed_out telling whether at its timeout; or handed back,
 *		uncounted): it is recorded per the task's retry policy
 *		(mc_record_failed_attempt) and wf->version is left at the last
 *		version used, ready for mc_workflow_save.  The caller holds the
 *		workflow's and the task's locks.  Returns the task's new status
 *		while its workflow goes on: ready (another attempt will follow) or
 *		failed.
 */
McTaskStatus
mc_fail_attempt_as(McCatalogSession *session, McWorkflow *wf, McTask *task,
				   char *error, const char *error_type, McOutcome outcome,
				   bool timed_out)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID};
	McRunTask	rt;
	Datum		values[2];
	bool		isnull;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(task->task_no);
	mc_catalog_run(MC_PLAN_ATTEMPT_POLICY,
				   "SELECT max_attempts, initial_delay, max_delay, exponential_base "
				   "FROM mycelium.task_states WHERE workflow_id = $1 AND task_no = $2",
				   2, argtypes, values, NULL, 1);
	memset(&rt, 0, sizeof(rt));
	memcpy(&rt.workflow_id, &wf->id, sizeof(pg_uuid_t));
	rt.task_no = task->task_no;
	rt.task_id = task->task_id;
	rt.attempt = task->attempt;
	rt.max_attempts = DatumGetInt32(mc_catalog_value(0, POLICY_MAX_ATTEMPTS, &isnull));
	rt.initial_delay = DatumGetFloat8(mc_catalog_value(0, POLICY_INITIAL_DELAY, &isnull));
	rt.max_delay = DatumGetFloat8(mc_catalog_value(0, POLICY_MAX_DELAY, &isnull));
	rt.exponential_base = DatumGetFloat8(mc_catalog_value(0, POLICY_EXPONENTIAL_BASE, &isnull));
	rt.allow_failure = task->allow_failure;
	rt.outcome = outcome;
	rt.timed_out = timed_out;
	rt.error = error;
	rt.error_type = error_type;
	rt.execution_ms = -1;
	(void) mc_record_failed_attempt(session, wf, &rt);
	wf->changed = true;
	mc_workflow_count_done(wf);
	if (outcome == MC_OUTCOME_HANDED_BACK)
		return MC_TASK_READY;
	return rt.attempt < rt.max_attempts ? MC_TASK_READY : MC_TASK_FAILED;
}

/*
 * mc_fail_attempt
 *		The running attempt of task, outside any batch, failed with error,
 *		of error_type (mc_fail_attempt_as).
 */
McTaskStatus
mc_fail_attempt(McCatalogSession *session, McWorkflow *wf, McTask *task,
				char *error, const char *error_type)
{
	return mc_fail_attempt_as(session, wf, task, error, error_type,
							  MC_OUTCOME_FAILED, false);
}
