/*-------------------------------------------------------------------------
 *
 * observe.c
 *		What an operator watches from outside: workflow-end notifications
 *		and failed-attempt log lines.
 *
 * A workflow that reaches a final status (completed, failed, cancelled)
 * queues a notification on the channel mycelium_workflow_end, with the
 * payload {"workflow_id": ..., "status": ...}.  It is queued by the one
 * function that moves a workflow to a status (mc_workflow_set_status), so
 * whatever transaction ends the workflow sends it when it commits, and
 * not at all if it rolls back; a workflow ends once, so the notification
 * comes once per end.  Applications LISTEN instead of polling
 * wait_workflow.
 *
 * Watchers of every workflow (the web dashboard) also LISTEN on
 * mycelium_workflows, told with an empty payload when workflows are
 * created or deleted or change status without ending (started, paused,
 * resumed, given tasks): the moments that are a workflow's, never a
 * task's, so the scheduler sends nothing there per task.  The payload is
 * empty because LISTEN needs no privilege: a watcher reads what changed
 * through the views, where row-level security applies.  Notifications
 * with the same payload in one transaction are sent once.
 *
 * agent_type_stats dates each ready task by task_states.ready_at: when
 * it was created ready, its last dependency finished, or its retry's
 * back-off ends, set by the statements that make tasks ready; and here,
 * for a workflow's ready tasks, when it is resumed, or started more than
 * a second after its creation.  The view counts and dates the ready tasks
 * from one partial index (task_states_ready_at_idx) and leaves out those
 * of workflows that are not running (pending or paused: few, found by
 * their own index), so nothing is written per task when a workflow
 * starts, pauses or ends.
 *
 * With mycelium.log_failed_attempts on, each failed attempt (of a worker
 * or an external agent, at its timeout or lost with its worker) is logged
 * as one line naming the workflow, the task, the attempt, the error type
 * and what follows (retry, failed or cancelled), for log-based alerting.
 * The line carries the attempt's SQLSTATE (MY002 when it had none), so
 * csvlog and jsonlog show it in their own field.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium_errcodes.h"
#include "observe.h"

/* mycelium.log_failed_attempts */
bool		mc_log_failed_attempts = false;

/*
 * uuid_cstring
 *		The text form of a workflow id.
 */
static char *
uuid_cstring(const pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * mc_notify_workflow_end
 *		The workflow reached the final status status: notify the listeners
 *		of mycelium_workflow_end when this transaction commits.
 */
void
mc_notify_workflow_end(const pg_uuid_t *workflow_id, const char *status)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"workflow_id\": \"%s\", \"status\": ",
					 uuid_cstring(workflow_id));
	escape_json(&payload, status);
	appendStringInfoChar(&payload, '}');
	Async_Notify(MC_WORKFLOW_END_CHANNEL, payload.data);
	pfree(payload.data);
}

/*
 * mc_notify_workflows_changed
 *		Workflows were created or deleted, or one changed status without
 *		ending: notify the listeners of mycelium_workflows (empty payload)
 *		when this transaction commits.
 */
void
mc_notify_workflows_changed(void)
{
	Async_Notify(MC_WORKFLOWS_CHANNEL, "");
}

/*
 * mc_tasks_ready_since
 *		A workflow runs again after a pause (resumed), or starts: its ready
 *		tasks are ready since now (or the end of their retry's back-off).
 *		Tasks are created with ready_at set, so a workflow started within
 *		a second of its creation, as most are, is left as it is: its start
 *		writes nothing per task.
 */
void
mc_tasks_ready_since(const pg_uuid_t *workflow_id, bool resumed)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];

	values[0] = UUIDPGetDatum(workflow_id);
	if (resumed)
		mc_catalog_run(MC_PLAN_READY_SINCE,
					   "UPDATE mycelium.task_states "
					   "SET ready_at = GREATEST(pg_catalog.now(), run_after) "
					   "WHERE workflow_id = $1 AND status = 'ready'",
					   1, argtypes, values, NULL, 0);
	else
		mc_catalog_run(MC_PLAN_READY_SINCE_START,
					   "UPDATE mycelium.task_states "
					   "SET ready_at = GREATEST(pg_catalog.now(), run_after) "
					   "WHERE workflow_id = $1 AND status = 'ready' "
					   "  AND EXISTS (SELECT 1 FROM mycelium.workflow_states w "
					   "    WHERE w.workflow_id = $1 "
					   "      AND w.created_at < pg_catalog.now() - interval '1 second')",
					   1, argtypes, values, NULL, 0);
}

/*
 * mc_log_failed_attempt
 *		Logs a failed attempt on one line when mycelium.log_failed_attempts
 *		is on; outcome says what follows it (retry, failed, cancelled).  The
 *		task id is written as a JSON string, so no task id can break the
 *		line or forge another field; so is the error type, which fail_task's
 *		caller names.
 */
void
mc_log_failed_attempt(const pg_uuid_t *workflow_id, const char *task_id,
					  int32 attempt, const char *error_type, int sqlerrcode,
					  const char *outcome)
{
	StringInfoData task;
	StringInfoData type;

	if (!mc_log_failed_attempts)
		return;
	initStringInfo(&task);
	escape_json(&task, task_id);
	initStringInfo(&type);
	escape_json(&type, error_type ? error_type : "exception");
	ereport(LOG,
			(errcode(sqlerrcode != 0 ? sqlerrcode : ERRCODE_MC_EXECUTION),
			 errmsg("mycelium: failed attempt: workflow=%s task=%s attempt=%d error_type=%s outcome=%s",
					uuid_cstring(workflow_id), task.data, attempt,
					type.data, outcome),
			 errhidestmt(true), errhidecontext(true)));
	pfree(task.data);
	pfree(type.data);
}
