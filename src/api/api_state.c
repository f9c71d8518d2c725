/*-------------------------------------------------------------------------
 *
 * api_state.c
 *		SQL-callable functions of the state manager: update_task and
 *		rollback_workflow.  The work itself is in state.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "signals.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_update_task);
PG_FUNCTION_INFO_V1(mc_rollback_workflow);

/*
 * check_workflow_open
 *		A finished workflow cannot change except by rollback.
 */
static void
check_workflow_open(McWorkflow *wf)
{
	if (mc_workflow_status_is_ending(wf->status))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is already %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&wf->id))),
						mc_workflow_status_names[wf->status]),
				 errhint("Use mycelium.rollback_workflow() to return it to an earlier version.")));
}

/*
 * mc_update_task
 *		update_task(workflow_id, task_id, status, result, error): a
 *		validated transition of one task and what follows from it, as a new
 *		version, which is returned.
 */
Datum
mc_update_task(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	McWorkflow	wf;
	McTask		task;
	char	   *task_id;
	McTaskStatus to;
	Jsonb	   *result = NULL;
	char	   *error = NULL;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "task_id");
	mc_require_arg(fcinfo, 2, "status");
	task_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	to = mc_task_status_from_name(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (!PG_ARGISNULL(3))
	{
		result = PG_GETARG_JSONB_P(3);
		mc_check_payload_size(result, "task result");
	}
	if (!PG_ARGISNULL(4))
	{
		error = text_to_cstring(PG_GETARG_TEXT_PP(4));
		mc_check_error_size(error);
	}

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	check_workflow_open(&wf);
	if (!mc_task_get(&wf, task_id, &task))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("task \"%s\" does not exist in workflow %s",
						mc_name_for_message(task_id),
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&wf.id))))));
	if (to == MC_TASK_RUNNING)
		mc_signal_refuse_running(&wf.id, task_id);
	if (!mc_task_transition_allowed(task.status, to))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("task \"%s\" cannot move from %s to %s", task_id,
						mc_task_status_names[task.status], mc_task_status_names[to]),
				 mc_task_status_is_terminal(task.status) ?
				 errhint("A finished task changes only by mycelium.rollback_workflow().") :
				 errhint("See doc/state-machines.md for the allowed transitions.")));

	if (error != NULL)
	{
		McError		e = {"update_task", error, 0, -1};

		mc_task_transition(&session, &wf, &task, to, result, &e, "update_task");
	}
	else
		mc_task_transition(&session, &wf, &task, to, result, NULL, "update_task");
	mc_workflow_save(&session, &wf);
	/* tasks it made ready are the scheduler's to run */
	if (wf.status == MC_WF_RUNNING)
		mc_push_at_commit(&wf.id, InvalidOid, wf.priority);
	mc_catalog_close(&session);
	PG_RETURN_INT64(wf.version);
}

/*
 * mc_rollback_workflow
 *		rollback_workflow(workflow_id, version): returns the workflow to
 *		its state at an earlier version, as a new version, which is
 *		returned.  Refused while any task is running.
 */
Datum
mc_rollback_workflow(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	McWorkflow	wf;
	int64		target = PG_GETARG_INT64(1);

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	if (target < 1 || target >= wf.version)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow has no version " INT64_FORMAT, target),
				 errdetail("Its versions are 1 to " INT64_FORMAT ".", wf.version - 1)));
	if (wf.tasks_running > 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("cannot roll back a workflow while tasks are running"),
				 errdetail_plural("%d task is running.", "%d tasks are running.",
								  wf.tasks_running, wf.tasks_running),
				 errhint("Pause the workflow and wait for its running tasks to finish.")));

	mc_workflow_rollback(&session, &wf, target);
	mc_workflow_save(&session, &wf);
	mc_catalog_close(&session);
	PG_RETURN_INT64(wf.version);
}
