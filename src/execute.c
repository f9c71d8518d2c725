/*-------------------------------------------------------------------------
 *
 * execute.c
 *		Running one attempt of a task whose executor is a SQL function.
 *
 * The attempt runs in its own subtransaction, so its writes and the
 * task's completion commit together (the dispatcher records completion in
 * the same transaction) and a failure undoes exactly the attempt's writes.
 * The function runs as the workflow's owner inside a security-restricted
 * operation (it cannot SET ROLE or SET SESSION AUTHORIZATION its way back
 * to the worker's own role), with search_path set to "$user", public.
 *
 * The dispatcher holds the task's row lock from before the attempt starts
 * until its outcome commits (mc_dispatch_lock_batch), so nobody can change
 * the task in between: an attempt that returns has completed, whatever
 * happens to its workflow meanwhile.
 *
 * A result that breaks the agent type's output schema fails the attempt.
 * The check is part of the attempt: the task's timeout and cancel_workflow
 * reach it as they reach the function (a schema can take long to check).
 *
 * A per-task timeout and cancel_workflow both interrupt the function
 * through the query-cancel mechanism; in a worker, cancel interrupts are
 * held off everywhere but inside the function call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"

#include "api_json_schema.h"
#include "catalog.h"
#include "execute.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"

static TimeoutId task_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t task_timed_out = false;

/*
 * task_timeout_handler
 *		The task's timeout expired: interrupt it like a query cancel.
 */
static void
task_timeout_handler(void)
{
	task_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * set_executing
 *		Publishes in this worker's slot which task it is running, so that
 *		cancel_workflow can interrupt it (NULL: none).
 */
static void
set_executing(McRunTask *task)
{
	McWorkerSlot *slot;

	if (mc_shared == NULL || mc_worker_slot < 0)
		return;
	slot = &mc_shared->workers[mc_worker_slot];
	SpinLockAcquire(&mc_shared->mutex);
	slot->executing = (task != NULL);
	if (task != NULL)
	{
		memcpy(&slot->workflow_id, &task->workflow_id, sizeof(pg_uuid_t));
		slot->task_no = task->task_no;
	}
	SpinLockRelease(&mc_shared->mutex);
}

/*
 * check_output_schema
 *		A result that breaks its agent type's output schema is an error
 *		inside the attempt, so the attempt fails (and its writes are undone)
 *		like any other.
 */
static void
check_output_schema(McRunTask *task, Jsonb *result)
{
	char	   *violations;

	if (task->output_schema == NULL)
		return;
	violations = mc_json_schema_violations(task->output_schema, result);
	if (violations != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("result of task \"%s\" does not match the output schema of agent type \"%s\"",
						task->task_id, task->agent_type),
				 errdetail_internal("%s", violations)));
}

/*
 * call_executor
 *		Calls the executor function as the owner and returns its result as
 *		jsonb (JSON null for SQL NULL), checked against the output schema.
 *		Runs inside the subtransaction.
 */
static Jsonb *
call_executor(McRunTask *task, bool in_worker)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 1);
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	Datum		result;
	Jsonb	   *jb;

	if (!OidIsValid(task->executor))
		ereport(ERROR,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("agent type of task \"%s\" has no executor function", task->task_id),
				 errhint("The agent type was unregistered or re-registered for external agents.")));
	/* the registration may have changed since the workflow was defined */
	if (!mc_executor_may_run_as(task->registered_by, task->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent type \"%s\" is registered by role \"%s\", whose executor may not run as role \"%s\"",
						task->agent_type, mc_role_name(task->registered_by),
						mc_role_name(task->owner)),
				 errdetail("Tasks run as the workflow's owner, so they run only executors registered by the owner or by a role with its privileges.")));
	if (pg_proc_aclcheck(task->executor, task->owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", format_procedure(task->executor)),
				 errdetail("Executors run as the workflow's owner, who must be allowed to execute them.")));

	fmgr_info(task->executor, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(task->ctx);
	fcinfo->args[0].isnull = false;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(task->owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "\"$user\", public",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	task_timed_out = false;
	if (task->timeout > 0)
		enable_timeout_after(task_timeout_id, (int) Min(task->timeout * 1000.0, (double) INT_MAX));
	set_executing(task);
	if (in_worker)
		RESUME_CANCEL_INTERRUPTS();

	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null")));
	else
		jb = DatumGetJsonbP(result);
	/* still within the timeout and with cancels let through */
	check_output_schema(task, jb);

	if (in_worker)
		HOLD_CANCEL_INTERRUPTS();
	set_executing(NULL);
	if (task->timeout > 0)
		disable_timeout(task_timeout_id, false);

	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return jb;
}

/*
 * error_text
 *		The message of a failed attempt: the error's message, with its
 *		detail when it has one.
 */
static char *
error_text(ErrorData *edata)
{
	if (edata->detail != NULL)
		return psprintf("%s (%s)", edata->message, edata->detail);
	return pstrdup(edata->message);
}

/*
 * mc_execute_task
 *		Runs one attempt of a claimed task and sets its outcome.  Must be
 *		called inside a catalog session (mc_catalog_open) in the
 *		transaction that will record the outcome.  Allocations that outlive
 *		the attempt are made in the caller's memory context.
 */
void
mc_execute_task(McRunTask *task, bool in_worker)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	uint32		holdoff = QueryCancelHoldoffCount;

	if (task_timeout_id == MAX_TIMEOUTS)
		task_timeout_id = RegisterTimeout(USER_TIMEOUT, task_timeout_handler);

	task->outcome = MC_OUTCOME_NONE;
	task->timed_out = false;
	task->result = NULL;
	task->error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Jsonb	   *result = call_executor(task, in_worker);

		MemoryContextSwitchTo(cxt);
		task->result = DatumGetJsonbPCopy(JsonbPGetDatum(result));
		ReleaseCurrentSubTransaction();
		task->outcome = MC_OUTCOME_COMPLETED;
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		disable_timeout(task_timeout_id, false);
		set_executing(NULL);
		QueryCancelHoldoffCount = holdoff;
		task->timed_out = task_timed_out;
		if (in_worker || task_timed_out)
			QueryCancelPending = false;
		task_timed_out = false;

		task->outcome = MC_OUTCOME_FAILED;
		if (task->timed_out)
			task->error = psprintf("task timed out after %g s", task->timeout);
		else
			task->error = error_text(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}
