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
#include "mb/pg_wchar.h"
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
#include "utils/timestamp.h"

#include "api_json_schema.h"
#include "catalog.h"
#include "execute.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "session.h"
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
 *		Publishes in this worker's slot which attempt it is running (NULL:
 *		none), so that cancel_workflow can interrupt it, and when its
 *		timeout runs out, so that the watchdog (watchdog.c) can end it if
 *		it does not stop.
 */
static void
set_executing(McRunTask *task)
{
	McWorkerSlot *slot;
	TimestampTz deadline = 0;

	if (mc_shared == NULL || mc_worker_slot < 0)
		return;
	if (task != NULL && task->timeout > 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   (int64) Min(task->timeout * 1000.0,
														   (double) INT_MAX));
	slot = &mc_shared->workers[mc_worker_slot];
	SpinLockAcquire(&mc_shared->mutex);
	slot->executing = (task != NULL);
	slot->cancel_at = 0;
	slot->deadline = deadline;
	slot->terminating = false;
	if (task != NULL)
	{
		memcpy(&slot->workflow_id, &task->workflow_id, sizeof(pg_uuid_t));
		slot->task_no = task->task_no;
		slot->attempt = task->attempt;
		slot->timeout = task->timeout;
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
	{
		task->error_type = "output_schema";
		ereport(ERROR,
				(errcode(ERRCODE_MC_EXECUTION),
				 errmsg("result of task \"%s\" does not match the output schema of agent type \"%s\"",
						task->task_id, task->agent_type),
				 errdetail_internal("%s", violations)));
	}
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
 * check_result_size
 *		A result larger than mycelium.max_payload_size is not stored: an
 *		error inside the attempt, so the attempt fails (54000) and its
 *		writes are undone.
 */
static void
check_result_size(McRunTask *task, Jsonb *result)
{
	Size		size = VARSIZE_ANY(result);

	if (size > (Size) mc_max_payload_kb * 1024)
	{
		task->error_type = "payload_too_large";
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("result of task \"%s\" is too large", task->task_id),
				 errdetail("It takes %zu bytes; mycelium.max_payload_size is %d kB.",
						   size, mc_max_payload_kb)));
	}
}

/* how much of an error too large to store is kept in its place */
#define MC_ERROR_HEAD 1000

/*
 * error_text
 *		The message of a failed attempt: the error's message, with its
 *		detail when it has one.  One larger than mycelium.max_payload_size
 *		is not stored: a message saying so takes its place, with the
 *		error's first MC_ERROR_HEAD bytes.
 */
static char *
error_text(ErrorData *edata, McRunTask *task)
{
	char	   *text;
	Size		len;

	if (edata->detail != NULL)
		text = psprintf("%s (%s)", edata->message, edata->detail);
	else
		text = pstrdup(edata->message);
	len = strlen(text);
	if (len > (Size) mc_max_payload_kb * 1024)
	{
		int			head = pg_mbcliplen(text, (int) Min(len, (Size) INT_MAX), MC_ERROR_HEAD);

		text = psprintf("error of the attempt is too large (54000): it takes %zu bytes; mycelium.max_payload_size is %d kB; it began: %.*s",
						len, mc_max_payload_kb, head, text);
		task->error_type = "payload_too_large";
		task->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	}
	return text;
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
	TimestampTz start;

	if (task_timeout_id == MAX_TIMEOUTS)
		task_timeout_id = RegisterTimeout(USER_TIMEOUT, task_timeout_handler);

	task->outcome = MC_OUTCOME_NONE;
	task->timed_out = false;
	task->result = NULL;
	task->error = NULL;
	task->error_type = NULL;
	task->sqlerrcode = 0;
	start = GetCurrentTimestamp();

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Jsonb	   *result = call_executor(task, in_worker);

		check_result_size(task, result);
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
		task->sqlerrcode = edata->sqlerrcode;
		if (task->timed_out)
		{
			task->error = psprintf("task timed out after %g s", task->timeout);
			task->error_type = "timeout";
		}
		else
		{
			if (task->error_type == NULL && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
				task->error_type = "cancelled";
			task->error = error_text(edata, task);
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	task->execution_ms = (double) (GetCurrentTimestamp() - start) / 1000.0;

	/* nothing the attempt left in the worker's session reaches the next */
	if (in_worker)
		mc_session_reset();
}
