/*-------------------------------------------------------------------------
 *
 * citus_state.c
 *		The state manager's statements that end or roll back many of a
 *		workflow's tasks at once, in the form they take on Citus.
 *
 * The plain forms (state.c) update the tasks in a CTE and insert their
 * history from it in one statement (the skip of a task's descendants, the
 * end of a workflow's open tasks, a rollback).  Citus plans no statement
 * with an INSERT and a CTE as one routed to a single shard group: it runs
 * the parts on their own and the INSERT from the coordinator, which copies
 * the rows to the shard in binary, a role's coordinator OID included
 * (see mc_citus_catalog_open in citus.c).  Here the update is one
 * statement routed to the workflow's shard group, and the history an
 * INSERT ... SELECT from the same shard group that Citus pushes down to
 * it.  state.c calls each from one branch point, where citus exists.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "catalog.h"
#include "citus_state.h"
#include "priority.h"
#include "state.h"

/* the columns of the update mc_citus_end_open_tasks runs */
enum
{
	ENDED_WAS_RUNNING = 1,
	ENDED_TASK_NO,
	ENDED_MS
};

/*
 * history_of
 *		Inserts the history rows of tasks nos[0..n) of workflow id at
 *		version, as they now are (status and attempt from their rows),
 *		with event, changed by caller; ms[i] is how long the ith one's
 *		last attempt ran (ms_null[i]: not known; ms NULL: none is).  An INSERT ... SELECT from the
 *		workflow's shard group, which Citus pushes down to it.
 */
static void
history_of(pg_uuid_t *id, int64 version, Datum *nos, Datum *ms, bool *ms_null,
		   int n, const char *event, Oid caller)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, INT4ARRAYOID,
	FLOAT8ARRAYOID, TEXTOID, REGROLEOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(id);
	values[1] = Int64GetDatum(version);
	values[2] = mc_catalog_array(nos, n, INT4OID);
	if (ms != NULL)
	{
		int			dims[1] = {n};
		int			lbs[1] = {1};

		values[3] = PointerGetDatum(construct_md_array(ms, ms_null, 1, dims, lbs,
													   FLOAT8OID, sizeof(float8),
													   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(event);
	values[5] = ObjectIdGetDatum(caller);
	(void) mc_catalog_run(MC_PLAN_CITUS_ENDED_HISTORY,
						  "INSERT INTO mycelium.workflow_state_history "
						  "(workflow_id, version, task_no, owner, status, attempt, event, "
						  " changed_by, execution_time, changed_at) "
						  "SELECT t.workflow_id, $2, t.task_no, t.owner, t.status::pg_catalog.text, "
						  "  t.attempt, $5, $6, f.ms, pg_catalog.clock_timestamp() "
						  "FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.int4[]), "
						  "  pg_catalog.unnest($4::pg_catalog.float8[])) AS f(task_no, ms) "
						  "JOIN mycelium.task_states t ON t.workflow_id = $1 AND t.task_no = f.task_no",
						  6, argtypes, values, nulls, 0);
}

/*
 * mc_citus_skip_descendants
 *		state.c's skip_descendants on Citus: the pending and ready tasks
 *		that depend, directly or not, on the tasks dependents (int4[]) of
 *		workflow wf are skipped, at wf->version, with event.  Returns how
 *		many.
 */
uint64
mc_citus_skip_descendants(McCatalogSession *session, McWorkflow *wf,
						  Datum dependents, const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID};
	Datum		values[2];
	Datum	   *nos;
	uint64		n;
	uint64		r;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = dependents;
	n = mc_catalog_run(MC_PLAN_CITUS_SKIP_DESCENDANTS,
					   MC_SKIP_DESCENDANTS("t.task_no")
					   "SELECT s.task_no FROM s",
					   2, argtypes, values, NULL, 0);
	if (n == 0)
		return 0;
	nos = palloc(sizeof(Datum) * n);
	for (r = 0; r < n; r++)
	{
		bool		isnull;

		nos[r] = mc_catalog_value(r, MC_ONLY_COLUMN, &isnull);
	}
	history_of(&wf->id, wf->version, nos, NULL, NULL, (int) n, event,
			   session->caller);
	return n;
}

/*
 * mc_citus_end_open_tasks
 *		The statement of state.c's mc_workflow_finish on Citus: every open
 *		task of wf not held by another transaction ends, a running one
 *		cancelled, the others with status rest (a mycelium.task_status
 *		label), at wf->version, with event.  Returns how many, with a row
 *		each whose first column says whether it was running, as the plain
 *		statement returns them.
 */
uint64
mc_citus_end_open_tasks(McCatalogSession *session, McWorkflow *wf,
						const char *rest, const char *event)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];
	McCatalogResult ended;
	Datum	   *nos;
	Datum	   *ms;
	bool	   *ms_null;
	uint64		n;
	uint64		r;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(rest);
	n = mc_catalog_run(MC_PLAN_CITUS_END_OPEN_TASKS,
					   MC_END_OPEN_TASKS("$2", "t.task_no")
					   " SELECT s.old_status = 'running', s.task_no, s.ms FROM s",
					   2, argtypes, values, NULL, 0);
	if (n == 0)
		return 0;
	mc_catalog_result_keep(&ended);
	nos = palloc(sizeof(Datum) * n);
	ms = palloc(sizeof(Datum) * n);
	ms_null = palloc(sizeof(bool) * n);
	for (r = 0; r < n; r++)
	{
		bool		isnull;

		nos[r] = mc_catalog_value(r, ENDED_TASK_NO, &isnull);
		ms[r] = mc_catalog_value(r, ENDED_MS, &ms_null[r]);
	}
	history_of(&wf->id, wf->version, nos, ms, ms_null, (int) n, event,
			   session->caller);
	mc_catalog_result_restore(&ended);
	return n;
}

/*
 * mc_citus_rollback_tasks
 *		The statement of state.c's mc_workflow_rollback on Citus: the tasks
 *		of wf return to their state at version target, at wf->version, with
 *		event; the history rows of those whose status, attempt, result or
 *		error changed are inserted from their rows as they now are.
 */
void
mc_citus_rollback_tasks(McCatalogSession *session, McWorkflow *wf,
						int64 target, const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID};
	static const Oid history_argtypes[] = {UUIDOID, INT8OID, INT4ARRAYOID,
	TEXTOID, REGROLEOID};
	Datum		values[5];
	Datum	   *nos;
	uint64		n;
	uint64		r;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(target);
	n = mc_catalog_run_set(MC_PLAN_CITUS_ROLLBACK_TASKS,
						   MC_ROLLBACK_TASKS " SELECT upd.task_no FROM upd WHERE upd.visible",
						   2, argtypes, values, NULL, 0);
	if (n == 0)
		return;
	nos = palloc(sizeof(Datum) * n);
	for (r = 0; r < n; r++)
	{
		bool		isnull;

		nos[r] = mc_catalog_value(r, MC_ONLY_COLUMN, &isnull);
	}
	values[1] = Int64GetDatum(wf->version);
	values[2] = mc_catalog_array(nos, (int) n, INT4OID);
	values[3] = CStringGetTextDatum(event);
	values[4] = ObjectIdGetDatum(session->caller);
	(void) mc_catalog_run(MC_PLAN_CITUS_ROLLBACK_HISTORY,
						  "INSERT INTO mycelium.workflow_state_history "
						  "(workflow_id, version, task_no, owner, status, attempt, result, error, event, "
						  " changed_by, error_detail, execution_time, changed_at) "
						  "SELECT t.workflow_id, $2, t.task_no, t.owner, t.status::pg_catalog.text, "
						  "  t.attempt, t.result, t.error, $4, $5, t.error_detail, t.execution_time, "
						  "  pg_catalog.clock_timestamp() "
						  "FROM pg_catalog.unnest($3::pg_catalog.int4[]) AS f(task_no) "
						  "JOIN mycelium.task_states t ON t.workflow_id = $1 AND t.task_no = f.task_no",
						  5, history_argtypes, values, NULL, 0);
}
