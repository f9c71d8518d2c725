/*-------------------------------------------------------------------------
 *
 * priority.c
 *		Workflow and task priorities.
 *
 * A workflow has a priority, from -100 to 100 (0 by default), given to
 * create_workflow or start_from_template and changed by
 * set_workflow_priority; a task definition may give its own.  Each task
 * row keeps the priority it goes by (priority) and the one of its own
 * definition, if any (own_priority).
 *
 * When a task becomes ready it gets a ready_rank: the time, less its
 * priority times mycelium.priority_aging.  Ready tasks start in ready_rank
 * order, lowest first, wherever capacity is short: claim_tasks takes an
 * agent type's tasks in that order (index task_states_rank_idx), and a
 * scheduler worker, of the tasks it could claim in a step, takes those of
 * the lowest rank, in whole steps of priority_aging (dispatch.c).  A task
 * of priority p therefore gains a point of priority for each
 * priority_aging it waits, and no task is overtaken by one that became
 * ready more than (q - p) * priority_aging after it, q being the other's
 * priority: the starvation bound, at most 200 * priority_aging.
 *
 * The dispatch queue, from which the workers take the workflows they look
 * at, ranks its entries the same way (mc_queue_rank, shmem.c), so that a
 * workflow of higher priority is looked at first however many are queued
 * before it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "priority.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_set_workflow_priority);

/*
 * mc_check_priority
 *		Refuses a priority outside MC_PRIORITY_MIN..MC_PRIORITY_MAX.
 */
void
mc_check_priority(int32 priority, const char *what)
{
	if (priority < MC_PRIORITY_MIN || priority > MC_PRIORITY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", what,
						MC_PRIORITY_MIN, MC_PRIORITY_MAX)));
}

/*
 * mc_queue_rank
 *		The rank in the dispatch queue of a workflow of the given priority
 *		pushed now: the time less its priority times priority_aging, as
 *		MC_READY_RANK ranks a task becoming ready.
 */
int64
mc_queue_rank(int32 priority)
{
	return GetCurrentTimestamp() -
		(int64) priority * mc_priority_aging_s * USECS_PER_SEC;
}

/*
 * mc_priority_arg
 *		A priority argument of an SQL function: not NULL, within range.
 */
int32
mc_priority_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		priority;

	mc_require_arg(fcinfo, argno, "priority");
	priority = PG_GETARG_INT32(argno);
	mc_check_priority(priority, "priority");
	return priority;
}

/*
 * mc_set_workflow_priority
 *		set_workflow_priority(id, priority): changes a workflow's priority,
 *		and that of its tasks without one of their own.  Their ready tasks
 *		move in the order by the change (ready_rank shifts by the
 *		difference times mycelium.priority_aging), keeping what they have
 *		waited.  The owner or an admin only: to another role the workflow
 *		does not exist, as for every control function.  A new version,
 *		with a history record, as every change to a workflow; a finished
 *		workflow's priority is not changed.  The shift is
 *		MC_SQL_PLUS_INTERVAL, which Citus takes in an UPDATE.
 */
Datum
mc_set_workflow_priority(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID};
	McCatalogSession session;
	McWorkflow	wf;
	Datum		values[2];
	int32		priority;

	mc_require_arg(fcinfo, 0, "workflow_id");
	priority = mc_priority_arg(fcinfo, 1);

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	if (mc_workflow_status_is_ending(wf.status))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is %s and its priority cannot be changed",
						DatumGetCString(DirectFunctionCall1(uuid_out,
															UUIDPGetDatum(&wf.id))),
						mc_workflow_status_names[wf.status])));

	values[0] = UUIDPGetDatum(&wf.id);
	values[1] = Int32GetDatum(priority);
	(void) mc_catalog_run(MC_PLAN_PRIORITY_WORKFLOW,
						  "UPDATE mycelium.workflow_states SET priority = $2 "
						  "WHERE workflow_id = $1",
						  2, argtypes, values, NULL, 0);
	(void) mc_catalog_run(MC_PLAN_PRIORITY_TASKS,
						  "UPDATE mycelium.task_states t SET priority = $2, "
						  "  ready_rank = "
						  MC_SQL_PLUS_INTERVAL("t.ready_rank",
											   "(t.priority - $2) * " MC_PRIORITY_AGING_SQL) " "
						  "WHERE t.workflow_id = $1 AND t.own_priority IS NULL "
						  "  AND t.priority <> $2",
						  2, argtypes, values, NULL, 0);
	mc_history_record(&session, &wf, 0, mc_workflow_status_names[wf.status], 0,
					  NULL, NULL, psprintf("priority %d", priority));
	mc_workflow_save(&session, &wf);
	mc_catalog_close(&session);
	PG_RETURN_INT64(wf.version);
}
