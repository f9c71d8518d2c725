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
 * Locking and the holder's check are those of the other agent calls
 * (mc_hold_agent_tasks in api_agent.c): the workflows' rows in id order,
 * then the tasks'.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
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

/*
 * release_held
 *		Gives the held tasks rts[0..n) back: each is ready again at once
 *		without counting its attempt, one version each in the call's order.
 *		Saves the workflows (wfs[0..nwfs)) and hands those still running to
 *		the scheduler, since a place under max_parallel_tasks came free.
 */
static void
release_held(McCatalogSession *session, const char *worker_id,
			 McAgentTask *rts, int n, McWorkflow *wfs, int nwfs)
{
	McWorkflow **wfps = palloc(sizeof(McWorkflow *) * nwfs);
	int			i;

	for (i = 0; i < n; i++)
	{
		McAgentTask *rt = &rts[i];

		mc_task_retry(session, rt->wf, &rt->task, 0, false, NULL,
					  psprintf("released by %s: attempt %d not counted",
							   worker_id, rt->task.attempt));
		mc_workflow_count_change(rt->wf);
	}
	for (i = 0; i < nwfs; i++)
	{
		/* the last version used; no task ended, so none completes it */
		mc_workflow_count_done(&wfs[i]);
		wfps[i] = &wfs[i];
		if (wfs[i].status == MC_WF_RUNNING)
			mc_push_at_commit(&wfs[i].id, InvalidOid, wfs[i].priority);
	}
	mc_workflows_save(session, wfps, nwfs);
}

/*
 * release
 *		Releases the tasks rts[0..n) held by worker_id, all or none.
 */
static void
release(const char *worker_id, McAgentTask *rts, int n)
{
	McCatalogSession session;
	McWorkflow *wfs;
	int			nwfs;

	mc_catalog_open(&session);
	wfs = mc_hold_agent_tasks(&session, worker_id, rts, n, &nwfs,
							  "Nothing was released: release_tasks releases all the tasks it is given, or none.");
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
	McAgentTask rt;
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
 *		The elements of a required one-dimensional array argument of
 *		elemtype, none of them NULL; *n gets their number.
 */
static Datum *
release_array(FunctionCallInfo fcinfo, int argno, const char *name,
			  Oid elemtype, int *n)
{
	mc_require_arg(fcinfo, argno, name);
	return mc_array_arg(fcinfo, argno, name, elemtype, n, NULL);
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
	McAgentTask *rts;
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
	rts = palloc0(sizeof(McAgentTask) * n);
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
