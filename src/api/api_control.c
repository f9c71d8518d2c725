/*-------------------------------------------------------------------------
 *
 * api_control.c
 *		SQL-callable functions that run and control workflows:
 *		start_workflow, execute_workflow, wait_workflow, pause_workflow,
 *		resume_workflow and cancel_workflow.
 *
 * start_workflow hands a workflow to the background scheduler when the
 * caller commits.  execute_workflow starts and waits; since a function
 * cannot wait for workers to see rows its own transaction has not
 * committed, a workflow created or changed in the calling transaction (or
 * any workflow when no scheduler serves this database) is run right here,
 * one task at a time, with the same dispatch code and the same semantics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "api_control.h"
#include "catalog.h"
#include "dispatch.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "signals.h"
#include "state.h"
#include "xact_workflows.h"

PG_FUNCTION_INFO_V1(mc_start_workflow);
PG_FUNCTION_INFO_V1(mc_execute_workflow);
PG_FUNCTION_INFO_V1(mc_wait_workflow);
PG_FUNCTION_INFO_V1(mc_pause_workflow);
PG_FUNCTION_INFO_V1(mc_resume_workflow);
PG_FUNCTION_INFO_V1(mc_cancel_workflow);

/* what a workflow looks like to a function that waits for it */
typedef struct WorkflowLook
{
	McWorkflowStatus status;
	int32		tasks_running;	/* attempts not recorded yet */
	int32		priority;
	bool		ours;			/* this transaction created or locked it */
} WorkflowLook;

/* the columns of look_at_workflow's statement */
enum
{
	LOOK_STATUS = 1,
	LOOK_TASKS_RUNNING,
	LOOK_PRIORITY
};

/*
 * uuid_str
 *		A workflow id as text, for messages.
 */
static char *
uuid_str(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * look_at_workflow
 *		Reads a workflow's status without locking it (a fresh snapshot per
 *		call in READ COMMITTED), checking the caller may see it.
 */
static WorkflowLook
look_at_workflow(McCatalogSession *session, pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID, REGROLEOID, BOOLOID};
	Datum		values[3];
	WorkflowLook look;
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	values[1] = ObjectIdGetDatum(session->caller);
	values[2] = BoolGetDatum(session->caller_is_admin);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_STATUS,
					   "SELECT status::pg_catalog.text, tasks_running, priority "
					   "FROM mycelium.workflow_states "
					   "WHERE workflow_id = $1 AND (owner = $2 OR $3)",
					   3, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s does not exist", uuid_str(id))));
	look.status = mc_workflow_status_from_name(mc_catalog_text(0, LOOK_STATUS));
	look.ours = mc_xact_workflow_is_held(id);
	look.tasks_running = DatumGetInt32(mc_catalog_value(0, LOOK_TASKS_RUNNING, &isnull));
	look.priority = DatumGetInt32(mc_catalog_value(0, LOOK_PRIORITY, &isnull));
	return look;
}

/*
 * workflow_result
 *		The outcome of a workflow as jsonb: its status, version, error, and
 *		each task's status, attempt, result and error.  The tasks' subquery
 *		names the workflow's id as well, so that Citus routes the statement
 *		to the workflow's shard group (else it runs it on every shard).
 */
static Jsonb *
workflow_result(pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	mc_catalog_run(MC_PLAN_WORKFLOW_RESULT,
				   "SELECT pg_catalog.jsonb_build_object("
				   " 'workflow_id', w.workflow_id, 'name', w.name, 'status', w.status,"
				   " 'version', w.version, 'error', w.error,"
				   " 'started_at', w.started_at, 'finished_at', w.finished_at,"
				   " 'tasks', COALESCE((SELECT pg_catalog.jsonb_object_agg(t.task_id,"
				   "   pg_catalog.jsonb_build_object('status', t.status, 'attempt', t.attempt,"
				   "     'result', t.result, 'error', t.error))"
				   "   FROM mycelium.task_states t "
				   "   WHERE t.workflow_id = w.workflow_id AND t.workflow_id = $1), '{}'))"
				   " FROM mycelium.workflow_states w WHERE w.workflow_id = $1",
				   1, argtypes, values, NULL, 1);
	return DatumGetJsonbP(SPI_datumTransfer(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull), false, -1));
}

/*
 * failed_tasks
 *		"a (error), b (error)": the failed tasks of a workflow, for DETAIL.
 */
static char *
failed_tasks(pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	mc_catalog_run(MC_PLAN_FAILED_TASKS,
				   "SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', task_id, "
				   "  COALESCE(error, 'no error message')), ', ' ORDER BY task_no) "
				   "FROM mycelium.task_states WHERE workflow_id = $1 AND status = 'failed'",
				   1, argtypes, values, NULL, 1);
	return mc_catalog_text(0, MC_ONLY_COLUMN);
}

/*
 * workflow_id_arg
 *		The workflow id argument of a function that is not STRICT.
 */
static pg_uuid_t *
workflow_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow_id must not be null")));
	return PG_GETARG_UUID_P(0);
}

/*
 * timeout_ms
 *		An interval argument as milliseconds; -1 for NULL (no timeout).
 */
static long
timeout_ms(FunctionCallInfo fcinfo, int argno)
{
	Interval   *iv;
	double		ms;

	if (PG_ARGISNULL(argno))
		return -1;
	iv = PG_GETARG_INTERVAL_P(argno);
	ms = (iv->time / 1000.0) + (iv->day * (double) SECS_PER_DAY * 1000.0) +
		(iv->month * (double) DAYS_PER_MONTH * SECS_PER_DAY * 1000.0);
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	return (long) Min(ms, (double) LONG_MAX / 2);
}

/*
 * wait_until_finished
 *		Sleeps until the workflow is finished or timeout_ms passes
 *		(-1: no limit); returns whether it finished.
 */
static bool
wait_until_finished(McCatalogSession *session, pg_uuid_t *id, long timeout)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		finished = false;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot wait for a workflow in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("Its snapshot would never show the workflow's progress."),
				 errhint("Wait in a READ COMMITTED transaction.")));

	for (;;)
	{
		WorkflowLook look = look_at_workflow(session, id);

		if (look.ours && !mc_workflow_status_is_terminal(look.status))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot wait for workflow %s: this transaction changed it", uuid_str(id)),
					 errdetail("The scheduler cannot see or change it until this transaction commits."),
					 errhint("Commit first, or use mycelium.execute_workflow() to run it in this transaction.")));
		/* a cancelled workflow's interrupted attempts are recorded by their workers */
		if (mc_workflow_status_is_terminal(look.status) && look.tasks_running == 0)
		{
			finished = true;
			break;
		}
		if (timeout >= 0 && TimestampDifferenceExceeds(start, GetCurrentTimestamp(), (int) Min(timeout, INT_MAX)))
			break;
		if (mc_shared != NULL)
			(void) ConditionVariableTimedSleep(&mc_shared->progress, 100, PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 100L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (mc_shared != NULL)
		ConditionVariableCancelSleep();
	return finished;
}

/*
 * next_retry_ms
 *		Milliseconds until the earliest retry of the workflow falls due
 *		(0 if one is due now), or -1 if no task waits for a retry.  The
 *		run_after of a signal task is its deadline, which only the
 *		launcher passes (signals.c): it is no retry.
 */
static long
next_retry_ms(pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = UUIDPGetDatum(id);
	mc_catalog_run(MC_PLAN_INLINE_NEXT_RETRY,
				   "SELECT CASE WHEN pg_catalog.min(run_after) IS NOT NULL THEN "
				   "  GREATEST(0, pg_catalog.ceil(pg_catalog.date_part('epoch', "
				   "  pg_catalog.min(run_after) - pg_catalog.clock_timestamp()) * 1000))::pg_catalog.int8 END "
				   "FROM mycelium.task_states "
				   "WHERE workflow_id = $1 AND status = 'ready' AND run_after IS NOT NULL "
				   "  AND agent_type <> '" MC_SIGNAL_AGENT_TYPE "'",
				   1, argtypes, values, NULL, 1);
	d = mc_catalog_value(0, MC_ONLY_COLUMN, &isnull);
	return isnull ? -1 : (long) DatumGetInt64(d);
}

/*
 * run_inline
 *		Runs a workflow to its end in the calling transaction, one task at
 *		a time, sleeping through retry back-offs.
 */
static void
run_inline(McCatalogSession *session, pg_uuid_t *id, long timeout)
{
	McBatch    *batch;
	McQueueEntry candidate;
	TimestampTz start = GetCurrentTimestamp();
	char		worker_id[64];

	snprintf(worker_id, sizeof(worker_id), "backend %d", MyProcPid);
	batch = mc_batch_create(CurrentMemoryContext, worker_id, 1);
	memcpy(&candidate.workflow_id, id, sizeof(pg_uuid_t));
	candidate.start_by = session->caller;

	for (;;)
	{
		WorkflowLook look;
		long		wait;

		mc_dispatch_step(session, batch, &candidate, 1);
		if (batch->ntasks > 0)
		{
			MemoryContext old;

			mc_dispatch_lock_batch(batch);
			old = MemoryContextSwitchTo(mc_batch_context(batch));
			if (batch->tasks[0].outcome == MC_OUTCOME_NONE)
				mc_execute_task(&batch->tasks[0], false);
			MemoryContextSwitchTo(old);
			continue;
		}

		look = look_at_workflow(session, id);
		if (mc_workflow_status_is_terminal(look.status))
			break;
		if (look.status != MC_WF_RUNNING)
			ereport(ERROR,
					(errcode(ERRCODE_MC_EXECUTION),
					 errmsg("workflow %s is %s", uuid_str(id), mc_workflow_status_names[look.status]),
					 errhint("Resume it first.")));
		wait = next_retry_ms(id);
		if (wait < 0)
			ereport(ERROR,
					(errcode(ERRCODE_MC_EXECUTION),
					 errmsg("workflow %s cannot finish in this transaction", uuid_str(id)),
					 errdetail("Its remaining tasks wait for external agents or for work outside this transaction."),
					 errhint("Start it with mycelium.start_workflow() and commit, then wait with mycelium.wait_workflow().")));
		if (timeout >= 0 &&
			TimestampDifferenceExceeds(start, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait),
									   (int) Min(timeout, INT_MAX)))
			ereport(ERROR,
					(errcode(ERRCODE_MC_EXECUTION),
					 errmsg("timed out running workflow %s", uuid_str(id))));
		if (wait > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(batch->cxt);
}

/*
 * mc_workflow_start
 *		A pending workflow starts running in the background once the
 *		caller commits.  Returns the new version.
 */
int64
mc_workflow_start(pg_uuid_t *id)
{
	return mc_workflow_start_at(id, 0);
}

/*
 * start_locked
 *		Starts the pending workflow wf, whose row the caller locked: it runs
 *		(or completes, without tasks) at its next version, saved, and is
 *		queued for the workers at commit.
 */
static void
start_locked(McCatalogSession *session, McWorkflow *wf, const char *event)
{
	if (wf->tasks_open == 0)
		mc_workflow_set_status(session, wf, MC_WF_COMPLETED,
							   psprintf("%s with no tasks", event));
	else
		mc_workflow_set_status(session, wf, MC_WF_RUNNING, event);
	mc_workflow_save(session, wf);
	mc_push_at_commit(&wf->id, InvalidOid, wf->priority);
}

/*
 * mc_workflow_start_at
 *		A pending workflow starts running in the background once the
 *		caller commits, or, with start_at later than now, at start_at: the
 *		time is stored in its row (start_at), where the launcher finds it,
 *		so the delayed start survives a restart
 *		(mc_start_due_workflows).  start_at 0 means now.  A workflow whose
 *		delayed start is pending may be started again, now or at another
 *		time.  Returns the new version.
 */
int64
mc_workflow_start_at(pg_uuid_t *id, TimestampTz start_at)
{
	static const Oid argtypes[] = {UUIDOID, TIMESTAMPTZOID};
	McCatalogSession session;
	McWorkflow	wf;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	bool		delayed = start_at != 0 && start_at > GetCurrentTimestamp();

	mc_require_scheduler();
	mc_catalog_open(&session);
	mc_workflow_lock(&session, id, &wf);
	if (wf.status != MC_WF_PENDING)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is already %s", uuid_str(&wf.id),
						mc_workflow_status_names[wf.status]),
				 wf.status == MC_WF_PAUSED ? errhint("Use mycelium.resume_workflow().") : 0));
	values[0] = UUIDPGetDatum(&wf.id);
	values[1] = TimestampTzGetDatum(start_at);
	if (start_at == 0)
		nulls[1] = 'n';
	/* no new row version for the usual start, which leaves start_at NULL */
	mc_catalog_run(MC_PLAN_WORKFLOW_START_AT,
				   "UPDATE mycelium.workflow_states SET start_at = $2 "
				   "WHERE workflow_id = $1 AND start_at IS DISTINCT FROM $2",
				   2, argtypes, values, nulls, 0);
	if (delayed)
	{
		mc_workflow_set_status(&session, &wf, MC_WF_PENDING,
							   psprintf("start at %s", timestamptz_to_str(start_at)));
		mc_workflow_save(&session, &wf);
	}
	else
		start_locked(&session, &wf, "started");
	mc_catalog_close(&session);
	return wf.version;
}

/*
 * mc_start_due_workflows
 *		Starts the pending workflows whose delayed start is due at now, up
 *		to max of them, in the launcher's transaction; returns how many
 *		(max: there may be more).  History records the launcher's role as
 *		the one that started them.
 */
int
mc_start_due_workflows(McCatalogSession *session, TimestampTz now, int max)
{
	McWorkflow *wfs = palloc(sizeof(McWorkflow) * max);
	int			n = mc_workflows_lock_due_starts(session, now, max, wfs);
	int			i;

	for (i = 0; i < n; i++)
		start_locked(session, &wfs[i], "started at its start_at");
	return n;
}

/*
 * mc_start_workflow
 *		start_workflow(id, start_at): mc_workflow_start_at.
 */
Datum
mc_start_workflow(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = workflow_id_arg(fcinfo);

	PG_RETURN_INT64(mc_workflow_start_at(id, PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1)));
}

/*
 * mc_execute_workflow
 *		execute_workflow(id, timeout): starts the workflow (if pending) and
 *		waits for it to finish; returns its result.  A workflow that ends
 *		failed raises an execution error naming the failed tasks.
 */
Datum
mc_execute_workflow(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	pg_uuid_t  *id;
	long		timeout = timeout_ms(fcinfo, 1);
	WorkflowLook look;
	Jsonb	   *result;

	id = workflow_id_arg(fcinfo);

	mc_catalog_open(&session);
	look = look_at_workflow(&session, id);
	if (!mc_workflow_status_is_terminal(look.status))
	{
		if (look.ours || !mc_scheduler_available())
			run_inline(&session, id, timeout);
		else
		{
			if (look.status == MC_WF_PENDING)
				mc_queue_push(id, session.caller, look.priority);
			if (!wait_until_finished(&session, id, timeout))
				ereport(ERROR,
						(errcode(ERRCODE_MC_EXECUTION),
						 errmsg("timed out waiting for workflow %s", uuid_str(id)),
						 errdetail("The workflow goes on running in the background.")));
		}
		look = look_at_workflow(&session, id);
	}
	if (look.status == MC_WF_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("workflow %s failed", uuid_str(id)),
				 errdetail("Failed tasks: %s.", failed_tasks(id)),
				 errhint("See mycelium.get_workflow() for every task's outcome.")));
	result = workflow_result(id);
	mc_catalog_close(&session);
	PG_RETURN_JSONB_P(result);
}

/*
 * mc_wait_workflow
 *		wait_workflow(id, timeout): waits for the workflow to finish and
 *		returns its result, whatever its status.
 */
Datum
mc_wait_workflow(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	pg_uuid_t  *id;
	long		timeout = timeout_ms(fcinfo, 1);
	Jsonb	   *result;

	id = workflow_id_arg(fcinfo);
	mc_catalog_open(&session);
	if (!wait_until_finished(&session, id, timeout))
		ereport(ERROR,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("timed out waiting for workflow %s", uuid_str(id)),
				 errdetail("The workflow goes on running in the background.")));
	result = workflow_result(id);
	mc_catalog_close(&session);
	PG_RETURN_JSONB_P(result);
}

/*
 * change_status
 *		The common part of pause, resume and cancel: lock, check the
 *		current status is one of allowed, change it, save.
 */
static int64
change_status(FunctionCallInfo fcinfo, McWorkflowStatus to, uint32 allowed,
			  const char *event, const char *reason)
{
	McCatalogSession session;
	McWorkflow	wf;

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	if ((allowed & (1 << wf.status)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is %s and cannot be %s", uuid_str(&wf.id),
						mc_workflow_status_names[wf.status], event),
				 errhint("See doc/state-machines.md for the workflow's transitions.")));
	if (to == MC_WF_CANCELLED)
	{
		wf.error = reason ? pstrdup(reason) : psprintf("cancelled by %s",
													 GetUserNameFromId(session.caller, false));
		wf.error_type = "cancelled";
		mc_workflow_finish(&session, &wf, MC_WF_CANCELLED, MC_TASK_CANCELLED, event);
	}
	else
		mc_workflow_set_status(&session, &wf, to, event);
	mc_workflow_save(&session, &wf);
	if (to == MC_WF_RUNNING)
		mc_push_at_commit(&wf.id, InvalidOid, wf.priority);
	mc_catalog_close(&session);
	return wf.version;
}

/*
 * mc_pause_workflow
 *		pause_workflow(id): no new task starts; running tasks finish.
 */
Datum
mc_pause_workflow(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(change_status(fcinfo, MC_WF_PAUSED, 1 << MC_WF_RUNNING,
								  "paused", NULL));
}

/*
 * mc_resume_workflow
 *		resume_workflow(id): a paused workflow runs again.
 */
Datum
mc_resume_workflow(PG_FUNCTION_ARGS)
{
	mc_require_scheduler();
	PG_RETURN_INT64(change_status(fcinfo, MC_WF_RUNNING, 1 << MC_WF_PAUSED,
								  "resumed", NULL));
}

/*
 * mc_cancel_workflow
 *		cancel_workflow(id, reason): running tasks are interrupted, every
 *		unfinished task is cancelled.
 */
Datum
mc_cancel_workflow(PG_FUNCTION_ARGS)
{
	char	   *reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));

	(void) workflow_id_arg(fcinfo);
	PG_RETURN_INT64(change_status(fcinfo, MC_WF_CANCELLED,
								  (1 << MC_WF_PENDING) | (1 << MC_WF_RUNNING) | (1 << MC_WF_PAUSED),
								  "cancelled", reason));
}
