/*-------------------------------------------------------------------------
 *
 * api_release.c
 *		SQL-callable functions that give claimed tasks back: release_task
 *		and release_tasks.
 *
 * An external agent that claimed a task and will not do it (it is
 * stopping, or claimed more than it can start) gives it back.  Unlike
 * fail_task, a release does not spend an attempt: the task is ready again
 * at once, with the attempt count it had before the claim, as when a
 * scheduler worker hands back a task it claimed but did not start
 * (MC_OUTCOME_HANDED_BACK in dispatch.c).  History records the claim's
 * attempt as released.  Only the worker holding the task's running
 * attempt under a lease that has not lapsed may release it; anything else
 * is refused (MY003) and changes nothing.  The task's agents hear of it
 * (NOTIFY mycelium_ready) as of any other ready external task.
 *
 * Locking is that of the other agent calls (api_agent.c): the workflows'
 * rows in id order, then the tasks'.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

#include "api_agent.h"
#include "catalog.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_release_task);
PG_FUNCTION_INFO_V1(mc_release_tasks);

/* most tasks one release_tasks call may name (as claim_tasks claims) */
#define MC_MAX_RELEASE 10000

/* a task a release names, and what the release finds of it */
typedef struct ReleaseTask
{
	pg_uuid_t	workflow_id;
	McWorkflow *wf;				/* its workflow, locked */
	McTask		task;
	const char *refusal;		/* why the caller may not release it, or NULL */
} ReleaseTask;

/*
 * release_task_cmp
 *		Orders pointers to released tasks by workflow id, then task id.
 */
static int
release_task_cmp(const void *a, const void *b)
{
	const ReleaseTask *x = *(ReleaseTask *const *) a;
	const ReleaseTask *y = *(ReleaseTask *const *) b;
	int			c = mc_uuid_cmp(&x->workflow_id, &y->workflow_id);

	return c != 0 ? c : strcmp(x->task.task_id, y->task.task_id);
}

/*
 * lock_release_workflows
 *		Locks the workflows of the release, in id order, and points each
 *		task at its own; a task named twice is refused.  Returns the
 *		workflows (*nwfs of them, in id order).
 */
static McWorkflow *
lock_release_workflows(McCatalogSession *session, ReleaseTask *rts, int n,
					   int *nwfs)
{
	ReleaseTask **sorted = palloc(sizeof(ReleaseTask *) * n);
	pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * n);
	McWorkflow *wfs;
	int			nw = 0;
	int			i;

	for (i = 0; i < n; i++)
		sorted[i] = &rts[i];
	qsort(sorted, n, sizeof(ReleaseTask *), release_task_cmp);
	for (i = 0; i < n; i++)
	{
		if (i > 0 && release_task_cmp(&sorted[i - 1], &sorted[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("task \"%s\" of workflow %s is named twice",
							mc_name_for_message(sorted[i]->task.task_id),
							mc_uuid_string(&sorted[i]->workflow_id))));
		if (nw == 0 || mc_uuid_cmp(&ids[nw - 1], &sorted[i]->workflow_id) != 0)
			ids[nw++] = sorted[i]->workflow_id;
	}
	wfs = palloc0(sizeof(McWorkflow) * nw);
	mc_workflows_lock_all(session, ids, nw, wfs);
	for (i = 0; i < n; i++)
		rts[i].wf = bsearch(&rts[i].workflow_id, wfs, nw, sizeof(McWorkflow),
							mc_uuid_cmp);
	*nwfs = nw;
	return wfs;
}

/*
 * hold_released_tasks
 *		Locks the tasks the release names, in one statement, and refuses
 *		the call (MY003, for the first task in the call's order) unless
 *		worker_id holds each task's running attempt under a lease that has
 *		not lapsed, in a workflow still going on: what complete_task and
 *		fail_task require of the tasks they are given.
 */
static void
hold_released_tasks(const char *worker_id, ReleaseTask *rts, int n)
{
	static const Oid argtypes[] = {UUIDARRAYOID, TEXTARRAYOID};
	Datum	   *wids = palloc(sizeof(Datum) * n);
	Datum	   *tids = palloc(sizeof(Datum) * n);
	Datum		values[2];
	uint64		rows;
	uint64		r;
	int			i;

	for (i = 0; i < n; i++)
	{
		wids[i] = UUIDPGetDatum(&rts[i].workflow_id);
		tids[i] = CStringGetTextDatum(rts[i].task.task_id);
		rts[i].task.task_no = 0;
	}
	values[0] = mc_catalog_array(wids, n, UUIDOID);
	values[1] = mc_catalog_array(tids, n, TEXTOID);
	rows = mc_catalog_run(MC_PLAN_RELEASE_TASKS,
						  "SELECT f.i, " MC_TASK_COLUMNS("t") ", t.worker_id, "
						  "  t.lease_until IS NOT NULL, "
						  "  CASE WHEN t.lease_until < pg_catalog.clock_timestamp() "
						  "    THEN t.lease_until::pg_catalog.text END "
						  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
						  "  pg_catalog.unnest($2::pg_catalog.text[])) WITH ORDINALITY AS f(workflow_id, task_id, i) "
						  "JOIN mycelium.task_ids n "
						  "  ON n.workflow_id = f.workflow_id AND n.task_id = f.task_id COLLATE \"C\" "
						  "JOIN mycelium.task_states t "
						  "  ON t.workflow_id = n.workflow_id AND t.task_no = n.task_no "
						  "FOR UPDATE OF t SKIP LOCKED",
						  2, argtypes, values, NULL, 0);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		ReleaseTask *rt = &rts[DatumGetInt64(mc_catalog_value(r, 1, &isnull)) - 1];
		char	   *holder;
		char	   *lapsed;
		bool		claimed;

		mc_task_read(r, 2, &rt->task);
		holder = mc_catalog_text(r, 7);
		claimed = DatumGetBool(mc_catalog_value(r, 8, &isnull));
		lapsed = mc_catalog_text(r, 9);

		if (rt->task.status != MC_TASK_RUNNING)
			rt->refusal = psprintf("The task is %s.", mc_task_status_names[rt->task.status]);
		else if (!claimed)
			rt->refusal = "No external agent claimed the task.";
		else if (strcmp(holder, worker_id) != 0)
			rt->refusal = psprintf("Worker \"%s\" holds attempt %d.", holder,
								   rt->task.attempt);
		else if (lapsed != NULL)
			rt->refusal = psprintf("Its lease lapsed at %s; the attempt counts as failed.",
								   lapsed);
		else if (mc_workflow_status_is_terminal(rt->wf->status))
			rt->refusal = psprintf("Its workflow is %s.",
								   mc_workflow_status_names[rt->wf->status]);
	}

	for (i = 0; i < n; i++)
	{
		ReleaseTask *rt = &rts[i];

		if (rt->task.task_no == 0)
		{
			mc_task_raise_if_busy(rt->wf, rt->task.task_id);
			ereport(ERROR,
					(errcode(ERRCODE_MC_STATE),
					 errmsg("task \"%s\" does not exist in workflow %s",
							mc_name_for_message(rt->task.task_id),
							mc_uuid_string(&rt->workflow_id))));
		}
		if (rt->refusal == NULL)
			continue;
		if (n == 1)
			ereport(ERROR,
					(errcode(ERRCODE_MC_STATE),
					 errmsg("worker \"%s\" does not hold task \"%s\"", worker_id,
							rt->task.task_id),
					 errdetail_internal("%s", rt->refusal)));
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("worker \"%s\" does not hold task \"%s\" of workflow %s",
						worker_id, rt->task.task_id, mc_uuid_string(&rt->workflow_id)),
				 errdetail_internal("%s", rt->refusal),
				 errhint("Nothing was released: release_tasks releases all the tasks it is given, or none.")));
	}
}

/*
 * release_held
 *		Gives the held tasks rts[0..n) back: each is ready again at once
 *		without counting its attempt, one version each in the call's order.
 *		Saves the workflows (wfs[0..nwfs)) and hands those still running to
 *		the scheduler, since a place under max_parallel_tasks came free.
 */
static void
release_held(McCatalogSession *session, const char *worker_id,
			 ReleaseTask *rts, int n, McWorkflow *wfs, int nwfs)
{
	McWorkflow **wfps = palloc(sizeof(McWorkflow *) * nwfs);
	int			i;

	for (i = 0; i < n; i++)
	{
		ReleaseTask *rt = &rts[i];

		mc_task_retry(session, rt->wf, &rt->task, 0, false, NULL,
					  psprintf("released by %s: attempt %d not counted",
							   worker_id, rt->task.attempt));
		rt->wf->version++;
		rt->wf->changed = true;
	}
	for (i = 0; i < nwfs; i++)
	{
		/* the last version used; no task ended, so none completes it */
		wfs[i].version--;
		wfps[i] = &wfs[i];
		if (wfs[i].status == MC_WF_RUNNING)
			mc_push_at_commit(&wfs[i].id, InvalidOid);
	}
	mc_workflows_save(session, wfps, nwfs);
}

/*
 * release
 *		Releases the tasks rts[0..n) held by worker_id, all or none.
 */
static void
release(const char *worker_id, ReleaseTask *rts, int n)
{
	McCatalogSession session;
	McWorkflow *wfs;
	int			nwfs;

	mc_catalog_open(&session);
	wfs = lock_release_workflows(&session, rts, n, &nwfs);
	hold_released_tasks(worker_id, rts, n);
	release_held(&session, worker_id, rts, n, wfs, nwfs);
	mc_catalog_close(&session);
}

/*
 * ready_datum
 *		'ready' as a value of the mycelium.task_status type typid.
 */
static Datum
ready_datum(Oid typid)
{
	return DirectFunctionCall2(enum_in,
							   CStringGetDatum(mc_task_status_names[MC_TASK_READY]),
							   ObjectIdGetDatum(typid));
}

/*
 * mc_release_task
 *		release_task(workflow_id, task_id, worker_id): the worker gives back
 *		a task it claimed, without spending the attempt.  Returns the task's
 *		new status, ready.
 */
Datum
mc_release_task(PG_FUNCTION_ARGS)
{
	ReleaseTask rt;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 2);

	memset(&rt, 0, sizeof(rt));
	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "task_id");
	rt.workflow_id = *PG_GETARG_UUID_P(0);
	rt.task.task_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	release(worker_id, &rt, 1);
	PG_RETURN_DATUM(ready_datum(get_fn_expr_rettype(fcinfo->flinfo)));
}

/*
 * release_array
 *		The elements of a one-dimensional array argument of elemtype, none
 *		of them NULL; *n gets their number.
 */
static Datum *
release_array(FunctionCallInfo fcinfo, int argno, const char *name,
			  Oid elemtype, int *n)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	mc_require_arg(fcinfo, argno, name);
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, n);
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", name)));
	}
	return elems;
}

/*
 * mc_release_tasks
 *		release_tasks(worker_id, workflow_ids, task_ids): release_task for
 *		several tasks at once, task_ids[i] of workflow_ids[i]; all of them
 *		or none.  Returns each task and its new status, in the call's order.
 */
Datum
mc_release_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *worker_id = mc_worker_id_arg(fcinfo, 0);
	ReleaseTask *rts;
	Datum	   *wids;
	Datum	   *tids;
	Datum		ready;
	int			n;
	int			ntids;
	int			i;

	wids = release_array(fcinfo, 1, "workflow_ids", UUIDOID, &n);
	tids = release_array(fcinfo, 2, "task_ids", TEXTOID, &ntids);
	if (ntids != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("workflow_ids and task_ids must have the same length"),
				 errdetail("workflow_ids has %d elements, task_ids %d.", n, ntids)));
	if (n > MC_MAX_RELEASE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("release_tasks takes at most %d tasks a call", MC_MAX_RELEASE)));

	InitMaterializedSRF(fcinfo, 0);
	if (n == 0)
		return (Datum) 0;
	rts = palloc0(sizeof(ReleaseTask) * n);
	for (i = 0; i < n; i++)
	{
		rts[i].workflow_id = *DatumGetUUIDP(wids[i]);
		rts[i].task.task_id = TextDatumGetCString(tids[i]);
	}
	release(worker_id, rts, n);

	ready = ready_datum(TupleDescAttr(rsinfo->setDesc, 2)->atttypid);
	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = UUIDPGetDatum(&rts[i].workflow_id);
		values[1] = CStringGetTextDatum(rts[i].task.task_id);
		values[2] = ready;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
