/*-------------------------------------------------------------------------
 *
 * state.c
 *		The state manager: validated task transitions and what follows
 *		from them, workflow status changes, versions, history and rollback.
 *
 * The state machines are drawn in doc/state-machines.md.  Every change to
 * a workflow happens under the lock of its workflow_states row
 * (mc_workflow_lock), creates exactly one new version, and records the new
 * state of each task or workflow it touched in workflow_state_history, so
 * the state at any version can be rebuilt (mc_workflow_rollback).  The
 * move of a task from pending to ready is derived (all its dependencies
 * are satisfied) and is not recorded on its own.
 *
 * All functions here run inside mc_catalog_open/mc_catalog_close.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "agent.h"
#include "citus.h"
#include "citus_state.h"
#include "xact_workflows.h"
#include "jsonb_push.h"
#include "limit_slots.h"
#include "mycelium_errcodes.h"
#include "observe.h"
#include "priority.h"
#include "shmem.h"
#include "state.h"

const char *const mc_task_status_names[] = {
	"pending", "ready", "running", "completed", "failed", "skipped", "cancelled"
};

const char *const mc_workflow_status_names[] = {
	"pending", "running", "paused", "cancelling", "failing", "completed",
	"failed", "cancelled"
};

/*
 * Allowed explicit task transitions (update_task and the scheduler).
 * pending -> ready is derived and never requested; running -> ready puts a
 * task back for another attempt.  Terminal statuses have no way out but
 * rollback_workflow.
 */
static const bool task_transitions[MC_TASK_NSTATUS][MC_TASK_NSTATUS] = {
	/* to:            pend   ready  run    compl  fail   skip   cancel */
	[MC_TASK_PENDING] = {false, false, false, false, false, true, true},
	[MC_TASK_READY] = {false, false, true, true, true, true, true},
	[MC_TASK_RUNNING] = {false, true, false, true, true, false, true},
};

/*
 * mc_task_status_from_name
 *		The task status called name; an error if there is none.
 */
McTaskStatus
mc_task_status_from_name(const char *name)
{
	int			i;

	for (i = 0; i < MC_TASK_NSTATUS; i++)
		if (strcmp(name, mc_task_status_names[i]) == 0)
			return (McTaskStatus) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid task status \"%s\"", name),
			 errhint("The task statuses are pending, ready, running, completed, failed, skipped and cancelled.")));
	pg_unreachable();
}

/*
 * mc_workflow_status_from_name
 *		The workflow status called name (from the catalog, so always valid).
 */
McWorkflowStatus
mc_workflow_status_from_name(const char *name)
{
	int			i;

	for (i = 0; i < MC_WF_NSTATUS; i++)
		if (strcmp(name, mc_workflow_status_names[i]) == 0)
			return (McWorkflowStatus) i;
	elog(ERROR, "unknown workflow status \"%s\"", name);
	pg_unreachable();
}

/*
 * mc_task_status_is_terminal
 *		Whether a task in this status is finished for good.
 */
bool
mc_task_status_is_terminal(McTaskStatus status)
{
	return status >= MC_TASK_COMPLETED;
}

/*
 * mc_workflow_status_is_terminal
 *		Whether a workflow in this status is finished for good.
 */
bool
mc_workflow_status_is_terminal(McWorkflowStatus status)
{
	return status >= MC_WF_COMPLETED;
}

/*
 * mc_workflow_status_is_ending
 *		Whether a workflow in this status has ended or is ending: no task of
 *		it starts again, and nothing but the end of its running attempts
 *		changes it.  A workflow cancelled, or failed by a task, while
 *		scheduler workers run some of its attempts is cancelling or failing
 *		until those attempts have stopped, then cancelled or failed
 *		(workflow_end_if_stopped): a finished workflow has no running task.
 */
bool
mc_workflow_status_is_ending(McWorkflowStatus status)
{
	return status >= MC_WF_CANCELLING;
}

/*
 * mc_task_transition_allowed
 *		Whether a task may be moved from one status to another.
 */
bool
mc_task_transition_allowed(McTaskStatus from, McTaskStatus to)
{
	return task_transitions[from][to];
}

/*
 * mc_uuid_cmp
 *		Orders workflow ids: the order in which every lock of several
 *		workflows is taken.  A qsort and bsearch comparator.
 */
int
mc_uuid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(pg_uuid_t));
}

/*
 * mc_task_key_cmp
 *		Orders tasks by workflow id, then task number: the order in which a
 *		batch's task rows are locked and looked up.
 */
int
mc_task_key_cmp(const pg_uuid_t *wa, int32 na, const pg_uuid_t *wb, int32 nb)
{
	int			c = mc_uuid_cmp(wa, wb);

	if (c != 0)
		return c;
	return (na > nb) - (na < nb);
}

/*
 * uuid_text
 *		A workflow id as text, for messages.
 */
static char *
uuid_text(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/* the columns of MC_WORKFLOW_COLUMNS, counted from the first */
enum
{
	WF_OWNER,
	WF_STATUS,
	WF_VERSION,
	WF_TASKS_OPEN,
	WF_TASKS_RUNNING,
	WF_ERROR,
	WF_MAX_PARALLEL_TASKS,
	WF_WORKFLOW_ID,
	WF_ERROR_TYPE,
	WF_PRIORITY
};

StaticAssertDecl(WF_PRIORITY + 1 == MC_WORKFLOW_NCOLUMNS,
				 "MC_WORKFLOW_NCOLUMNS must count the columns of MC_WORKFLOW_COLUMNS");

/*
 * read_workflow
 *		Fills wf from row row of the last statement's result, whose
 *		MC_WORKFLOW_COLUMNS start at column col, and notes that this
 *		transaction holds the workflow (xact_workflows.c).
 */
static void
read_workflow(uint64 row, int col, McWorkflow *wf)
{
	bool		isnull;

	memcpy(&wf->id, DatumGetUUIDP(mc_catalog_value(row, col + WF_WORKFLOW_ID, &isnull)),
		   sizeof(pg_uuid_t));
	wf->owner = DatumGetObjectId(mc_catalog_value(row, col + WF_OWNER, &isnull));
	wf->status = mc_workflow_status_from_name(mc_catalog_text(row, col + WF_STATUS));
	wf->version = DatumGetInt64(mc_catalog_value(row, col + WF_VERSION, &isnull)) + 1;
	wf->tasks_open = DatumGetInt32(mc_catalog_value(row, col + WF_TASKS_OPEN, &isnull));
	wf->tasks_running = DatumGetInt32(mc_catalog_value(row, col + WF_TASKS_RUNNING, &isnull));
	wf->error = mc_catalog_text(row, col + WF_ERROR);
	wf->max_parallel_tasks = DatumGetInt32(mc_catalog_value(row, col + WF_MAX_PARALLEL_TASKS, &isnull));
	wf->error_type = mc_catalog_text(row, col + WF_ERROR_TYPE);
	wf->priority = DatumGetInt32(mc_catalog_value(row, col + WF_PRIORITY, &isnull));
	wf->changed = false;
	wf->status_set = false;
	mc_xact_workflow_held(&wf->id);
}

/* the columns read_workflow reads, from the first */
#define WORKFLOW_SELECT "SELECT " MC_WORKFLOW_COLUMNS("mycelium.workflow_states") " "
#define WORKFLOW_COLUMNS WORKFLOW_SELECT "FROM mycelium.workflow_states "
#define WORKFLOW_LOCK_COLUMNS WORKFLOW_COLUMNS "WHERE workflow_id = $1 "

/*
 * Several workflows by id ($1, in id order), one index probe each: "=
 * ANY" would let the generic plan scan the whole table.
 */
#define WORKFLOWS_BY_ID \
	"SELECT " MC_WORKFLOW_COLUMNS("w") " FROM pg_catalog.unnest($1::pg_catalog.uuid[]) AS i(id) " \
	"JOIN mycelium.workflow_states w ON w.workflow_id = i.id " \
	"ORDER BY w.workflow_id "

/*
 * The local transaction in which this backend last locked a workflow's
 * row: such locks are held until the transaction ends.
 */
static LocalTransactionId workflows_locked_in = InvalidLocalTransactionId;

/*
 * mc_workflows_locked_in_xact
 *		Whether the current transaction has locked the row of a workflow.
 *		One that has must not wait for another workflow's row out of id
 *		order (see mc_claim_tasks): that is how deadlocks are made.
 */
bool
mc_workflows_locked_in_xact(void)
{
	return workflows_locked_in == MyProc->lxid;
}

/*
 * mc_workflow_read_locked
 *		Fills wf from row row of the last statement's result, whose
 *		MC_WORKFLOW_COLUMNS start at column col: a workflow that statement
 *		locked (FOR UPDATE) for the rest of the transaction.  For the
 *		statements that find the workflows they lock (claim_tasks).
 */
void
mc_workflow_read_locked(uint64 row, int col, McWorkflow *wf)
{
	workflows_locked_in = MyProc->lxid;
	read_workflow(row, col, wf);
}

/*
 * mc_workflow_visible
 *		Whether the catalog session's caller may see a workflow of owner.
 */
bool
mc_workflow_visible(McCatalogSession *session, Oid owner)
{
	return session->caller_is_admin || owner == session->caller;
}

/*
 * workflow_missing
 *		Reports a workflow that does not exist, or that the caller may not
 *		see: the two look the same, so existence is not revealed.
 */
static void
workflow_missing(pg_uuid_t *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_MC_STATE),
			 errmsg("workflow %s does not exist", uuid_text(id))));
}

/*
 * mc_workflow_lock
 *		Locks a workflow's row for the rest of the transaction and reads it.
 *		A workflow the caller may not see is reported as missing, so its
 *		existence is not revealed.  wf->version is set to the version the
 *		coming change will create.
 */
void
mc_workflow_lock(McCatalogSession *session, pg_uuid_t *id, McWorkflow *wf)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_LOCK,
					   WORKFLOW_LOCK_COLUMNS "FOR UPDATE",
					   1, argtypes, values, NULL, 1) == 0 ||
		!mc_workflow_visible(session, DatumGetObjectId(mc_catalog_value(0, 1 + WF_OWNER, &isnull))))
		workflow_missing(id);
	workflows_locked_in = MyProc->lxid;
	read_workflow(0, 1, wf);
}

/*
 * mc_workflow_visible_owner
 *		The owner of a workflow the caller may see, without locking it; a
 *		workflow the caller may not see is reported as missing, as
 *		mc_workflow_lock does.
 */
Oid
mc_workflow_visible_owner(McCatalogSession *session, pg_uuid_t *id)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	bool		isnull;
	Oid			owner;

	values[0] = UUIDPGetDatum(id);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_OWNER,
					   "SELECT owner FROM mycelium.workflow_states "
					   "WHERE workflow_id = $1",
					   1, argtypes, values, NULL, 1) == 0)
		workflow_missing(id);
	owner = DatumGetObjectId(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull));
	if (!mc_workflow_visible(session, owner))
		workflow_missing(id);
	return owner;
}

/*
 * workflows_lock_one_by_one
 *		mc_workflows_lock on Citus: one statement per workflow, in id order,
 *		since Citus refuses FOR UPDATE in a statement that reaches several
 *		shards (each statement here goes to its workflow's shard).
 */
static void
workflows_lock_one_by_one(McCatalogSession *session, pg_uuid_t *ids, int n,
						  bool skip_locked, McWorkflow **wfs, bool *locked)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	int			i;

	for (i = 0; i < n; i++)
	{
		values[0] = UUIDPGetDatum(&ids[i]);
		if (skip_locked)
			locked[i] = mc_catalog_run(MC_PLAN_CITUS_WORKFLOW_TRY_LOCK,
									   WORKFLOW_LOCK_COLUMNS "FOR UPDATE SKIP LOCKED",
									   1, argtypes, values, NULL, 1) == 1;
		else
			locked[i] = mc_catalog_run(MC_PLAN_WORKFLOW_LOCK,
									   WORKFLOW_LOCK_COLUMNS "FOR UPDATE",
									   1, argtypes, values, NULL, 1) == 1;
		if (locked[i])
		{
			workflows_locked_in = MyProc->lxid;
			read_workflow(0, 1, wfs[i]);
		}
	}
}

/*
 * mc_workflows_lock
 *		Locks the rows of n workflows, given in id order, in one statement
 *		and reads them: locked[i] says whether ids[i] was locked and read
 *		into wfs[i].  The rows are locked in id order, the order every lock
 *		of several workflows follows.  With skip_locked, rows another
 *		transaction holds are passed over instead of waited for.
 */
void
mc_workflows_lock(McCatalogSession *session, pg_uuid_t *ids, int n,
				  bool skip_locked, McWorkflow **wfs, bool *locked)
{
	static const Oid argtypes[] = {UUIDARRAYOID};
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	Datum		values[1];
	uint64		rows;
	uint64		r;
	int			i;
	int			k = 0;

	for (i = 0; i < n; i++)
	{
		elems[i] = UUIDPGetDatum(&ids[i]);
		locked[i] = false;
	}
	if (n == 0)
		return;
	if (mc_citus_present())
	{
		workflows_lock_one_by_one(session, ids, n, skip_locked, wfs, locked);
		return;
	}
	values[0] = mc_catalog_array(elems, n, UUIDOID);
	if (skip_locked)
		rows = mc_catalog_run(MC_PLAN_WORKFLOWS_TRY_LOCK,
							  WORKFLOWS_BY_ID "FOR UPDATE OF w SKIP LOCKED",
							  1, argtypes, values, NULL, 0);
	else
		rows = mc_catalog_run(MC_PLAN_WORKFLOWS_LOCK,
							  WORKFLOWS_BY_ID "FOR UPDATE OF w",
							  1, argtypes, values, NULL, 0);
	if (rows > 0)
		workflows_locked_in = MyProc->lxid;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(mc_catalog_value(r, 1 + WF_WORKFLOW_ID, &isnull));

		while (k < n && memcmp(&ids[k], id, sizeof(pg_uuid_t)) != 0)
			k++;
		Assert(k < n);
		read_workflow(r, 1, wfs[k]);
		locked[k] = true;
	}
}

/*
 * due_starts_one_by_one
 *		mc_workflows_lock_due_starts on Citus: the due workflows' ids first,
 *		without locks (a statement across shards), then each row locked by
 *		a statement of its own that checks the condition again.
 */
static int
due_starts_one_by_one(TimestampTz now, int max, McWorkflow *wfs)
{
	static const Oid id_argtypes[] = {TIMESTAMPTZOID, INT4OID};
	static const Oid lock_argtypes[] = {UUIDOID, TIMESTAMPTZOID};
	Datum		values[2];
	pg_uuid_t  *ids;
	uint64		rows;
	uint64		r;
	int			n = 0;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(max);
	rows = mc_catalog_run(MC_PLAN_CITUS_DUE_START_IDS,
						  "SELECT workflow_id FROM mycelium.workflow_states "
						  "WHERE status = 'pending' AND start_at <= $1 "
						  "ORDER BY workflow_id LIMIT $2",
						  2, id_argtypes, values, NULL, 0);
	ids = palloc(sizeof(pg_uuid_t) * Max(rows, 1));
	for (r = 0; r < rows; r++)
	{
		bool		isnull;

		ids[r] = *DatumGetUUIDP(mc_catalog_value(r, MC_ONLY_COLUMN, &isnull));
	}
	for (r = 0; r < rows; r++)
	{
		values[0] = UUIDPGetDatum(&ids[r]);
		values[1] = TimestampTzGetDatum(now);
		if (mc_catalog_run(MC_PLAN_CITUS_DUE_START_LOCK,
						   WORKFLOW_LOCK_COLUMNS
						   "AND status = 'pending' AND start_at <= $2 "
						   "FOR UPDATE SKIP LOCKED",
						   2, lock_argtypes, values, NULL, 1) == 1)
		{
			workflows_locked_in = MyProc->lxid;
			read_workflow(0, 1, &wfs[n++]);
		}
	}
	return n;
}

/*
 * mc_workflows_lock_due_starts
 *		Locks and reads into wfs up to max pending workflows whose delayed
 *		start (start_at) is due at now, in id order, passing over rows
 *		another transaction holds (they are looked at again at the next
 *		tick); returns how many.  The condition is checked again on the
 *		locked row, so a start moved later meanwhile is not taken.
 */
int
mc_workflows_lock_due_starts(McCatalogSession *session, TimestampTz now,
							 int max, McWorkflow *wfs)
{
	static const Oid argtypes[] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	uint64		rows;
	uint64		r;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(max);
	if (mc_citus_present())
		return due_starts_one_by_one(now, max, wfs);
	rows = mc_catalog_run(MC_PLAN_DUE_STARTS,
						  WORKFLOW_COLUMNS "WHERE status = 'pending' AND start_at <= $1 "
						  "ORDER BY workflow_id LIMIT $2 FOR UPDATE SKIP LOCKED",
						  2, argtypes, values, NULL, 0);
	if (rows > 0)
		workflows_locked_in = MyProc->lxid;
	for (r = 0; r < rows; r++)
		read_workflow(r, 1, &wfs[r]);
	return (int) rows;
}

/*
 * mc_workflows_lock_all
 *		Locks and reads the rows of n workflows, given in id order, into
 *		wfs; one the caller may not see is reported as missing, as by
 *		mc_workflow_lock.
 */
void
mc_workflows_lock_all(McCatalogSession *session, pg_uuid_t *ids, int n,
					  McWorkflow *wfs)
{
	McWorkflow **wfps;
	bool	   *locked;
	int			i;

	if (n == 1)
	{
		mc_workflow_lock(session, &ids[0], &wfs[0]);
		return;
	}
	wfps = palloc(sizeof(McWorkflow *) * Max(n, 1));
	locked = palloc(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
		wfps[i] = &wfs[i];
	mc_workflows_lock(session, ids, n, false, wfps, locked);
	for (i = 0; i < n; i++)
	{
		if (!locked[i] || !mc_workflow_visible(session, wfs[i].owner))
			workflow_missing(&ids[i]);
	}
}

/*
 * mc_error_detail
 *		The error_detail of an error: {error_type, message, sqlstate,
 *		attempt}, without sqlstate when there is none and without attempt
 *		for a workflow's (attempt < 1).  NULL for no error.
 */
Jsonb *
mc_error_detail(const McError *error, int32 attempt)
{
	JsonbParseState *state = NULL;

	if (error == NULL || error->message == NULL)
		return NULL;
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "error_type");
	mc_jsonb_push_cstring(&state, WJB_VALUE, error->type ? error->type : "exception");
	mc_jsonb_push_key(&state, "message");
	mc_jsonb_push_cstring(&state, WJB_VALUE, error->message);
	if (error->sqlerrcode != 0)
	{
		mc_jsonb_push_key(&state, "sqlstate");
		mc_jsonb_push_cstring(&state, WJB_VALUE, unpack_sql_state(error->sqlerrcode));
	}
	if (attempt >= 1)
	{
		mc_jsonb_push_key(&state, "attempt");
		mc_jsonb_push_int(&state, attempt);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * mc_error_ended
 *		What mc_history_record takes for an attempt that ended with error
 *		(NULL: none) after ms milliseconds (< 0: not known, or no attempt
 *		ended): a copy of the error with that time.
 */
McError
mc_error_ended(const McError *error, double ms)
{
	McError		ended;

	if (error != NULL)
		ended = *error;
	else
		memset(&ended, 0, sizeof(ended));
	ended.execution_ms = ms;
	return ended;
}

/*
 * mc_history_record
 *		Records the new state of a task (task_no >= 1) or of the workflow
 *		(task_no 0) at the workflow's new version, with the error that
 *		ended its attempt (or the workflow) and how long that attempt ran.
 */
void
mc_history_record(McCatalogSession *session, McWorkflow *wf, int32 task_no,
				  const char *status, int32 attempt, Jsonb *result,
				  const McError *error, const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, INT4OID, REGROLEOID,
		TEXTOID, INT4OID, JSONBOID, TEXTOID, TEXTOID, REGROLEOID, JSONBOID,
		FLOAT8OID};
	Datum		values[12];
	char		nulls[12];
	Jsonb	   *detail = mc_error_detail(error, task_no == 0 ? 0 : attempt);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(wf->version);
	values[2] = Int32GetDatum(task_no);
	values[3] = ObjectIdGetDatum(wf->owner);
	values[4] = CStringGetTextDatum(status);
	values[5] = Int32GetDatum(attempt);
	if (task_no == 0)
		nulls[5] = 'n';
	values[6] = PointerGetDatum(result);
	if (result == NULL)
		nulls[6] = 'n';
	values[7] = detail ? CStringGetTextDatum(error->message) : (Datum) 0;
	if (detail == NULL)
		nulls[7] = 'n';
	values[8] = CStringGetTextDatum(event);
	values[9] = ObjectIdGetDatum(session->caller);
	values[10] = PointerGetDatum(detail);
	if (detail == NULL)
		nulls[10] = 'n';
	values[11] = Float8GetDatum(error ? error->execution_ms : -1);
	if (error == NULL || error->execution_ms < 0)
		nulls[11] = 'n';

	mc_catalog_run(MC_PLAN_HISTORY_INSERT,
				   "INSERT INTO mycelium.workflow_state_history "
				   "(workflow_id, version, task_no, owner, status, attempt, result, error, event, "
				   " changed_by, error_detail, execution_time) "
				   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
				   12, argtypes, values, nulls, 0);
	wf->changed = true;
}

/*
 * workflow_error
 *		The workflow's error, as mc_history_record takes it (NULL: none).
 */
static McError *
workflow_error(McWorkflow *wf)
{
	McError    *error;

	if (wf->error == NULL)
		return NULL;
	error = palloc0(sizeof(McError));
	error->type = wf->error_type;
	error->message = wf->error;
	error->execution_ms = -1;
	return error;
}

/*
 * mc_workflow_set_status
 *		Moves the workflow to a new status at its new version, with a
 *		history record; saved by mc_workflow_save.
 */
void
mc_workflow_set_status(McCatalogSession *session, McWorkflow *wf,
					   McWorkflowStatus status, const char *event)
{
	McWorkflowStatus from = wf->status;

	wf->status = status;
	wf->status_set = true;
	mc_history_record(session, wf, 0, mc_workflow_status_names[status], 0,
					  NULL, workflow_error(wf), event);
	if (status == MC_WF_RUNNING)
	{
		if (from != MC_WF_RUNNING)
			mc_tasks_ready_since(&wf->id, from == MC_WF_PAUSED);
		mc_notify_ready_workflow(&wf->id);
	}
	if (mc_workflow_status_is_terminal(status))
		mc_notify_workflow_end(&wf->id, mc_workflow_status_names[status]);
	else
		mc_notify_workflows_changed();
}

/*
 * mc_workflow_count_change
 *		Counts one change of wf, just recorded at wf->version (a task's
 *		transition or retry, a status set): the next change takes the
 *		next version.  These counting functions are the only code that
 *		moves a workflow's version and task counters; the workflow's row
 *		is written from them once, at mc_workflow_save(s).
 */
void
mc_workflow_count_change(McWorkflow *wf)
{
	wf->version++;
	wf->changed = true;
}

/*
 * mc_workflow_count_started
 *		Counts n attempts of wf's tasks started by one claim statement
 *		(mc_claim_run), at n versions from wf->version.
 */
void
mc_workflow_count_started(McWorkflow *wf, int n)
{
	wf->version += n;
	wf->tasks_running += n;
	wf->changed = true;
}

/*
 * mc_workflow_count_completed
 *		Counts n running tasks of wf completed by one record statement
 *		(attempts.c), at n versions from wf->version.
 */
void
mc_workflow_count_completed(McWorkflow *wf, int n)
{
	wf->version += n;
	wf->tasks_open -= n;
	wf->tasks_running = Max(wf->tasks_running - n, 0);
	wf->changed = true;
}

/*
 * mc_workflow_count_done
 *		Ends a change in which no task finished, so none can complete the
 *		workflow: wf->version becomes the last version used, ready for
 *		mc_workflows_save (mc_workflow_settle's counterpart).
 */
void
mc_workflow_count_done(McWorkflow *wf)
{
	wf->version--;
}

/*
 * mc_workflow_tasks_added
 *		Counts n tasks just added to wf (add_tasks), numbered above base,
 *		and records their history: each new task with its first status,
 *		and the workflow.
 */
void
mc_workflow_tasks_added(McCatalogSession *session, McWorkflow *wf, int32 base,
						int n)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, INT4OID, REGROLEOID, REGROLEOID};
	Datum		values[5];

	wf->tasks_open += n;
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(wf->version);
	values[2] = Int32GetDatum(base);
	values[3] = ObjectIdGetDatum(wf->owner);
	values[4] = ObjectIdGetDatum(session->caller);
	/* changed_at given: Citus pushes it down only without volatile defaults */
	mc_catalog_run(MC_PLAN_GROW_HISTORY,
				   "INSERT INTO mycelium.workflow_state_history "
				   "(workflow_id, version, task_no, owner, status, attempt, event, changed_by, "
				   " changed_at) "
				   "SELECT workflow_id, $2, task_no, $4, status::pg_catalog.text, 0, 'added', $5, "
				   "  pg_catalog.clock_timestamp() "
				   "FROM mycelium.task_states WHERE workflow_id = $1 AND task_no > $3",
				   5, argtypes, values, NULL, 0);
	mc_workflow_set_status(session, wf, wf->status,
						   n == 1 ? "added 1 task" : psprintf("added %d tasks", n));
}

/*
 * mc_workflow_settle
 *		Ends a change made at versions up to wf->version - 1: a workflow
 *		whose tasks are all finished completes (at wf->version), and
 *		wf->version becomes the last version used, ready for
 *		mc_workflows_save.
 */
void
mc_workflow_settle(McCatalogSession *session, McWorkflow *wf)
{
	if (wf->tasks_open == 0 && !mc_workflow_status_is_ending(wf->status))
	{
		mc_workflow_set_status(session, wf, MC_WF_COMPLETED, "completed");
		mc_workflow_count_change(wf);
	}
	mc_workflow_count_done(wf);
}

/*
 * save_counters
 *		mc_workflows_save for workflows whose status was not set since
 *		they were read (nor their error, which changes with it): version
 *		and counters alone.  The agents' calls and the scheduler's steps
 *		save so, and the statement is cheaper than the full one: no
 *		row trigger on status (the live notifications, 89_live.sql) looks
 *		at it, and it has fewer columns to compute.
 */
static void
save_counters(McWorkflow **wfs, int n)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT8ARRAYOID, INT4ARRAYOID,
		INT4ARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *versions = palloc(sizeof(Datum) * n);
	Datum	   *open = palloc(sizeof(Datum) * n);
	Datum	   *running = palloc(sizeof(Datum) * n);
	Datum		values[4];
	int			i;

	for (i = 0; i < n; i++)
	{
		ids[i] = UUIDPGetDatum(&wfs[i]->id);
		versions[i] = Int64GetDatum(wfs[i]->version);
		open[i] = Int32GetDatum(wfs[i]->tasks_open);
		running[i] = Int32GetDatum(wfs[i]->tasks_running);
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(versions, n, INT8OID);
	values[2] = mc_catalog_array(open, n, INT4OID);
	values[3] = mc_catalog_array(running, n, INT4OID);
	mc_catalog_run(MC_PLAN_WORKFLOW_SAVE_COUNTERS,
				   MC_WORKFLOW_SAVE_COUNTERS("FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
											 "  pg_catalog.unnest($2::pg_catalog.int8[]), "
											 "  pg_catalog.unnest($3::pg_catalog.int4[]), "
											 "  pg_catalog.unnest($4::pg_catalog.int4[])) "
											 "  AS v(id, version, open, running)",
											 "v.id", "v.version", "v.open", "v.running"),
				   4, argtypes, values, NULL, 0);
}

/*
 * workflow_save_one
 *		mc_workflows_save for one workflow on Citus, by its id and with
 *		scalar parameters: Citus refuses a statement that reaches several
 *		shards through unnest, and a cast of a column to the enum type
 *		(the status here is a parameter, cast on the coordinator).
 */
static void
workflow_save_one(McWorkflow *wf)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, TEXTOID, INT4OID,
		INT4OID, TEXTOID, JSONBOID};
	Datum		values[7];
	char		nulls[7];

	Assert(wf->changed);
	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(wf->version);
	values[2] = CStringGetTextDatum(mc_workflow_status_names[wf->status]);
	values[3] = Int32GetDatum(wf->tasks_open);
	values[4] = Int32GetDatum(wf->tasks_running);
	values[5] = wf->error ? CStringGetTextDatum(wf->error) : (Datum) 0;
	nulls[5] = wf->error ? ' ' : 'n';
	/* built here: Citus refuses a function that is not immutable in a CASE */
	if (wf->error)
	{
		McError		e = {wf->error_type, wf->error, 0, -1};

		values[6] = JsonbPGetDatum(mc_error_detail(&e, 0));
	}
	nulls[6] = nulls[5];
	mc_catalog_run(MC_PLAN_CITUS_WORKFLOW_SAVE,
				   "UPDATE mycelium.workflow_states w SET version = $2, "
				   "status = $3::mycelium.workflow_status, tasks_open = $4, "
				   "tasks_running = $5, error = $6, "
				   "error_detail = $7, updated_at = pg_catalog.clock_timestamp(), "
				   "started_at = CASE WHEN $3 = 'running' THEN "
				   "  COALESCE(w.started_at, pg_catalog.clock_timestamp()) ELSE w.started_at END, "
				   "finished_at = CASE WHEN $3 IN ('completed', 'failed', 'cancelled') THEN "
				   "  COALESCE(w.finished_at, pg_catalog.clock_timestamp()) END "
				   "WHERE w.workflow_id = $1",
				   7, argtypes, values, nulls, 0);
}

/*
 * workflow_end_if_stopped
 *		A cancelling or failing workflow whose last running attempt has
 *		stopped is cancelled or failed now, at the next version (the
 *		caller's change used versions up to wf->version), with the error it
 *		was given when it began to end.  Called as every change is saved,
 *		so whichever path records that attempt (a worker's step, recovery
 *		of a terminated worker, update_task) ends the workflow.
 */
static void
workflow_end_if_stopped(McCatalogSession *session, McWorkflow *wf)
{
	McWorkflowStatus to;

	if (wf->tasks_running > 0)
		return;
	if (wf->status == MC_WF_CANCELLING)
		to = MC_WF_CANCELLED;
	else if (wf->status == MC_WF_FAILING)
		to = MC_WF_FAILED;
	else
		return;
	wf->version++;
	mc_workflow_set_status(session, wf, to, mc_workflow_status_names[to]);
}

/*
 * mc_workflows_save
 *		Writes the rows of n changed workflows in one statement: version
 *		(the last one used), status, counters, error and timestamps; only
 *		version and counters (save_counters) when none had its status set.
 */
void
mc_workflows_save(McCatalogSession *session, McWorkflow **wfs, int n)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *versions = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *statuses = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *open = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *running = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *errors = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *types = palloc(sizeof(Datum) * Max(n, 1));
	Datum		values[7];
	int			i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		workflow_end_if_stopped(session, wfs[i]);
	if (mc_citus_present())
	{
		for (i = 0; i < n; i++)
			workflow_save_one(wfs[i]);
		return;
	}
	for (i = 0; i < n && !wfs[i]->status_set; i++)
		;
	if (i == n)
	{
		save_counters(wfs, n);
		return;
	}
	for (i = 0; i < n; i++)
	{
		McWorkflow *wf = wfs[i];

		Assert(wf->changed);
		ids[i] = UUIDPGetDatum(&wf->id);
		versions[i] = Int64GetDatum(wf->version);
		statuses[i] = CStringGetTextDatum(mc_workflow_status_names[wf->status]);
		open[i] = Int32GetDatum(wf->tasks_open);
		running[i] = Int32GetDatum(wf->tasks_running);
		errors[i] = wf->error ? CStringGetTextDatum(wf->error) : (Datum) 0;
		types[i] = CStringGetTextDatum(wf->error_type ? wf->error_type : "exception");
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(versions, n, INT8OID);
	values[2] = mc_catalog_array(statuses, n, TEXTOID);
	values[3] = mc_catalog_array(open, n, INT4OID);
	values[4] = mc_catalog_array(running, n, INT4OID);
	values[5] = mc_catalog_array(errors, n, TEXTOID);
	values[6] = mc_catalog_array(types, n, TEXTOID);
	mc_catalog_run(MC_PLAN_WORKFLOW_SAVE,
				   "UPDATE mycelium.workflow_states w SET version = v.version, "
				   "status = v.status::mycelium.workflow_status, tasks_open = v.open, "
				   "tasks_running = v.running, error = v.error, "
				   "error_detail = CASE WHEN v.error IS NOT NULL THEN pg_catalog.jsonb_build_object("
				   "  'error_type', v.error_type, 'message', v.error) END, "
				   "updated_at = pg_catalog.clock_timestamp(), "
				   "started_at = CASE WHEN v.status = 'running' THEN "
				   "  COALESCE(w.started_at, pg_catalog.clock_timestamp()) ELSE w.started_at END, "
				   "finished_at = CASE WHEN v.status IN ('completed', 'failed', 'cancelled') THEN "
				   "  COALESCE(w.finished_at, pg_catalog.clock_timestamp()) END "
				   "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
				   "  pg_catalog.unnest($2::pg_catalog.int8[]), pg_catalog.unnest($3::pg_catalog.text[]), "
				   "  pg_catalog.unnest($4::pg_catalog.int4[]), pg_catalog.unnest($5::pg_catalog.int4[]), "
				   "  pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.text[])) "
				   "  AS v(id, version, status, open, running, error, error_type) "
				   "WHERE w.workflow_id = v.id",
				   7, argtypes, values, NULL, 0);
}

/*
 * mc_workflow_save
 *		Writes one workflow's row (mc_workflows_save).
 */
void
mc_workflow_save(McCatalogSession *session, McWorkflow *wf)
{
	mc_workflows_save(session, &wf, 1);
}

/*
 * mc_workflow_saved
 *		The workflow's row was written by the statement that changed it
 *		(MC_WORKFLOW_SAVE_COUNTERS, with the version and counters counted
 *		into wf first): nothing is left to save.
 */
void
mc_workflow_saved(McWorkflow *wf)
{
	Assert(!wf->status_set);
	wf->changed = false;
}

/*
 * mc_task_raise_if_busy
 *		Called for a task that could not be locked by id: if it exists, a
 *		worker finishing it holds its row until it commits, and that is
 *		reported (the caller may hold the workflow lock the worker waits
 *		for, so waiting is no option).  Returns if there is no such task.
 */
void
mc_task_raise_if_busy(McWorkflow *wf, const char *task_id)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(task_id);
	if (mc_catalog_run(MC_PLAN_TASK_EXISTS,
					   "SELECT 1 FROM mycelium.task_ids "
					   "WHERE workflow_id = $1 AND task_id = $2",
					   2, argtypes, values, NULL, 1) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("task \"%s\" is being finished by a worker", task_id),
				 errhint("Try again in a moment.")));
}

/*
 * mc_task_read
 *		Fills task (all but its task_id) from row row of the last
 *		statement's result, whose MC_TASK_COLUMNS start at column col.
 */
void
mc_task_read(uint64 row, int col, McTask *task)
{
	bool		isnull;
	Datum		d;

	task->task_no = DatumGetInt32(mc_catalog_value(row, col, &isnull));
	task->status = mc_task_status_from_name(mc_catalog_text(row, col + 1));
	task->attempt = DatumGetInt32(mc_catalog_value(row, col + 2, &isnull));
	task->allow_failure = DatumGetBool(mc_catalog_value(row, col + 3, &isnull));
	d = mc_catalog_value(row, col + 4, &isnull);
	task->dependents = isnull ? (Datum) 0 : SPI_datumTransfer(d, false, -1);
}

/*
 * mc_task_get
 *		Locks and reads a task by id; false if the workflow has no such
 *		task.  A task whose row a worker holds (it is recording the task's
 *		outcome) is an error rather than a wait: the worker may be waiting
 *		for the workflow lock the caller holds.
 */
bool
mc_task_get(McWorkflow *wf, const char *task_id, McTask *task)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(task_id);
	if (mc_catalog_run(MC_PLAN_TASK_GET,
					   "SELECT " MC_TASK_COLUMNS("t") " "
					   "FROM mycelium.task_ids i JOIN mycelium.task_states t "
					   "  ON t.workflow_id = i.workflow_id AND t.task_no = i.task_no "
					   "WHERE i.workflow_id = $1 AND i.task_id = $2 "
					   "FOR UPDATE OF t SKIP LOCKED",
					   2, argtypes, values, NULL, 1) == 0)
	{
		mc_task_raise_if_busy(wf, task_id);
		return false;
	}
	task->task_id = pstrdup(task_id);
	mc_task_read(0, MC_TASK_FIRST_COLUMN, task);
	return true;
}

/*
 * release_dependents
 *		A task finished so that its dependents may go on: each dependent has
 *		one unmet dependency fewer and is ready when it has none left.
 */
static void
release_dependents(McWorkflow *wf, McTask *task)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID};
	Datum		values[2];
	uint64		n;
	uint64		i;

	if (task->dependents == (Datum) 0)
		return;
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = task->dependents;
	n = mc_catalog_run(MC_PLAN_RELEASE_DEPENDENTS,
					   "UPDATE mycelium.task_states t SET deps_pending = deps_pending - 1, "
					   "status = CASE WHEN deps_pending = 1 AND status = 'pending' "
					   "  THEN 'ready'::mycelium.task_status ELSE status END, "
					   "ready_rank = CASE WHEN deps_pending = 1 AND status = 'pending' "
					   "  THEN " MC_READY_RANK("t") " ELSE ready_rank END, "
					   "ready_at = CASE WHEN deps_pending = 1 AND status = 'pending' "
					   "  THEN pg_catalog.clock_timestamp() ELSE ready_at END "
					   "WHERE workflow_id = $1 AND task_no = ANY ($2) "
					   "RETURNING " MC_EXTERNAL_READY_TYPE("t"),
					   2, argtypes, values, NULL, 0);
	for (i = 0; i < n; i++)
		mc_notify_ready_row(i, MC_ONLY_COLUMN);
}

/*
 * skip_descendants
 *		A task was skipped or cancelled, so nothing that depends on it,
 *		directly or not, can run: those tasks are skipped.
 */
static void
skip_descendants(McCatalogSession *session, McWorkflow *wf, McTask *task,
				 const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID, INT8OID,
		REGROLEOID, TEXTOID, REGROLEOID};
	Datum		values[6];
	uint64		n;

	if (task->dependents == (Datum) 0)
		return;
	if (mc_citus_present())
	{
		wf->tasks_open -= (int32) mc_citus_skip_descendants(session, wf,
															task->dependents, event);
		return;
	}
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = task->dependents;
	values[2] = Int64GetDatum(wf->version);
	values[3] = ObjectIdGetDatum(wf->owner);
	values[4] = CStringGetTextDatum(event);
	values[5] = ObjectIdGetDatum(session->caller);
	n = mc_catalog_run(MC_PLAN_SKIP_DESCENDANTS,
					   MC_SKIP_DESCENDANTS("t.task_no, t.attempt")
					   "INSERT INTO mycelium.workflow_state_history "
					   "(workflow_id, version, task_no, owner, status, attempt, event, changed_by) "
					   "SELECT $1, $3, s.task_no, $4, 'skipped', s.attempt, $5, $6 FROM s",
					   6, argtypes, values, NULL, 0);
	wf->tasks_open -= (int32) n;
}

/*
 * mc_workflow_finish
 *		Ends the workflow with status (cancelled or failed): every task of
 *		it that is not finished ends too, running ones cancelled, the
 *		others with status rest.  A running task whose worker holds its
 *		row (its attempt runs, or its outcome is being recorded) is left to
 *		that worker, interrupted when this transaction commits; until the
 *		last such attempt has stopped the workflow is cancelling or failing
 *		instead (workflow_end_if_stopped ends it).
 */
void
mc_workflow_finish(McCatalogSession *session, McWorkflow *wf,
				   McWorkflowStatus status, McTaskStatus rest,
				   const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT8OID, REGROLEOID, TEXTOID,
		REGROLEOID, TEXTOID};
	Datum		values[6];
	uint64		n;
	int32		running;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(wf->version);
	values[2] = ObjectIdGetDatum(wf->owner);
	values[3] = CStringGetTextDatum(event);
	values[4] = ObjectIdGetDatum(session->caller);
	values[5] = CStringGetTextDatum(mc_task_status_names[rest]);
	if (mc_citus_present())
		n = mc_citus_end_open_tasks(session, wf, mc_task_status_names[rest], event);
	else
		n = mc_catalog_run_set(MC_PLAN_FAIL_OPEN_TASKS,
							   MC_END_OPEN_TASKS("$6", "t.task_no, t.status, t.attempt")
							   ", h AS ("
							   "  INSERT INTO mycelium.workflow_state_history "
							   "  (workflow_id, version, task_no, owner, status, attempt, event, changed_by, "
							   "   execution_time) "
							   "  SELECT $1, $2, s.task_no, $3, s.status::pg_catalog.text, s.attempt, $4, $5, "
							   "    s.ms FROM s"
							   ") "
							   "SELECT s.old_status = 'running' FROM s",
							   6, argtypes, values, NULL, 0);
	running = (int32) mc_catalog_count_true(n);
	wf->tasks_open -= (int32) n;
	wf->tasks_running = Max(wf->tasks_running - running, 0);
	mc_interrupt_at_commit(&wf->id);

	/*
	 * Attempts that workers run end when they stop (workflow_end_if_stopped).
	 * How many are left is counted from the rows, so that the workflow
	 * cannot wait for an attempt its counter alone believes in.
	 */
	if (wf->tasks_running > 0)
	{
		bool		isnull;

		mc_catalog_run(MC_PLAN_STILL_RUNNING,
					   "SELECT pg_catalog.count(*)::pg_catalog.int4 FROM mycelium.task_states "
					   "WHERE workflow_id = $1 AND status = 'running'",
					   1, argtypes, values, NULL, 0);
		wf->tasks_running = DatumGetInt32(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull));
	}
	if (wf->tasks_running > 0)
		status = status == MC_WF_CANCELLED ? MC_WF_CANCELLING : MC_WF_FAILING;
	mc_workflow_set_status(session, wf, status, event);
}

/* the columns of mc_task_retry's statement */
enum
{
	RETRIED_EXTERNAL_TYPE = 1,	/* its agent type if agents claim it now */
	RETRIED_MS					/* the attempt's time, if it ended one */
};

/*
 * mc_task_retry
 *		A running task is ready again, not before delay seconds from now:
 *		its attempt failed with error and it has attempts left, or (started
 *		false) a worker claimed it but handed it back unstarted, and that
 *		attempt is not counted.
 */
void
mc_task_retry(McCatalogSession *session, McWorkflow *wf, McTask *task,
			  double delay, bool started, const McError *error, const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID, FLOAT8OID, TEXTOID, INT4OID,
		JSONBOID, FLOAT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Jsonb	   *detail = mc_error_detail(error, task->attempt);
	McError		ended;
	bool		isnull;
	Datum		ms;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(task->task_no);
	values[2] = Float8GetDatum(delay);
	values[3] = detail ? CStringGetTextDatum(error->message) : (Datum) 0;
	if (detail == NULL)
		nulls[3] = 'n';
	values[4] = Int32GetDatum(started ? 0 : 1);
	values[5] = PointerGetDatum(detail);
	if (detail == NULL)
		nulls[5] = 'n';
	values[6] = Float8GetDatum(error ? error->execution_ms : -1);
	if (error == NULL || error->execution_ms < 0)
		nulls[6] = 'n';
	/* a started attempt not measured ran from its claim until now */
	mc_catalog_run(MC_PLAN_TASK_RETRY,
				   "UPDATE mycelium.task_states t SET status = 'ready', error = $4, "
				   "error_detail = $6, execution_time = COALESCE($7, "
				   "  CASE WHEN $5 = 0 THEN " MC_ATTEMPT_MS("t") " END, t.execution_time), "
				   "attempt = t.attempt - $5, "
				   "result = NULL, worker_id = NULL, lease_until = NULL, "
				   "run_after = CASE WHEN $3 > 0 THEN "
				   MC_SQL_PLUS_SECONDS("pg_catalog.clock_timestamp()", "$3") " END, "
				   "ready_rank = CASE WHEN $5 = 1 AND t.ready_rank IS NOT NULL THEN t.ready_rank "
				   "  ELSE " MC_SQL_PLUS_SECONDS(MC_READY_RANK("t"), "GREATEST($3, 0)") " END, "
				   "ready_at = "
				   MC_SQL_PLUS_SECONDS("pg_catalog.clock_timestamp()", "GREATEST($3, 0)") " "
				   "WHERE workflow_id = $1 AND task_no = $2 "
				   "RETURNING CASE WHEN $3 <= 0 THEN " MC_EXTERNAL_READY_TYPE("t") " END, "
				   "  CASE WHEN $7 IS NOT NULL OR ($5 = 0 AND t.started_at IS NOT NULL) "
				   "    THEN t.execution_time END",
				   7, argtypes, values, nulls, 0);
	ms = mc_catalog_value(0, RETRIED_MS, &isnull);
	ended = mc_error_ended(error, isnull ? -1 : DatumGetFloat8(ms));
	/* ready at once; after a back-off, the launcher notifies */
	mc_notify_ready_row(0, RETRIED_EXTERNAL_TYPE);
	if (!started)
		task->attempt--;
	mc_history_record(session, wf, task->task_no, "ready", task->attempt,
					  NULL, &ended, event);
	task->status = MC_TASK_READY;
	wf->tasks_running = Max(wf->tasks_running - 1, 0);
}

/* the columns of mc_task_transition's statement */
enum
{
	MOVED_ATTEMPT = 1,
	MOVED_MS					/* the attempt's time, if it ended one */
};

/*
 * mc_task_transition
 *		Moves a task to a new status and applies what follows: its
 *		dependents are released or skipped, a failure without allow_failure
 *		fails the workflow, and a workflow whose tasks are all finished
 *		completes.  The caller holds the workflow lock, has checked the
 *		transition, and saves the workflow afterwards (mc_workflow_save).
 */
void
mc_task_transition(McCatalogSession *session, McWorkflow *wf, McTask *task,
				   McTaskStatus to, Jsonb *result, const McError *error,
				   const char *event)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID, TEXTOID, INT4OID,
		JSONBOID, TEXTOID, BOOLOID, JSONBOID, FLOAT8OID, BOOLOID};
	Datum		values[10];
	char		nulls[10];
	McTaskStatus from = task->status;
	bool		isnull;
	Jsonb	   *detail = mc_error_detail(error, task->attempt);
	McError		ended;
	Datum		ms;

	Assert(mc_task_transition_allowed(from, to));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(task->task_no);
	values[2] = CStringGetTextDatum(mc_task_status_names[to]);
	values[3] = Int32GetDatum(to == MC_TASK_RUNNING ? 1 : 0);
	values[4] = PointerGetDatum(result);
	if (result == NULL)
		nulls[4] = 'n';
	values[5] = detail ? CStringGetTextDatum(error->message) : (Datum) 0;
	if (detail == NULL)
		nulls[5] = 'n';
	values[6] = BoolGetDatum(mc_task_status_is_terminal(to));
	values[7] = PointerGetDatum(detail);
	if (detail == NULL)
		nulls[7] = 'n';
	values[8] = Float8GetDatum(error ? error->execution_ms : -1);
	if (error == NULL || error->execution_ms < 0)
		nulls[8] = 'n';
	/* an attempt that ends here unmeasured ran from its claim until now */
	values[9] = BoolGetDatum(from == MC_TASK_RUNNING && to != MC_TASK_RUNNING);
	/* started without a claim: agent-type limits count it (limit_slots.c) */
	if (to == MC_TASK_RUNNING)
		mc_limit_slots_note_started();
	mc_catalog_run(MC_PLAN_TASK_SET,
				   "UPDATE mycelium.task_states t SET status = $3::mycelium.task_status, "
				   "attempt = attempt + $4, result = $5, error = $6, error_detail = $8, "
				   "execution_time = COALESCE($9, CASE WHEN $10 THEN " MC_ATTEMPT_MS("t") " END, "
				   "  execution_time), run_after = NULL, "
				   "worker_id = NULL, lease_until = NULL, "
				   "ready_rank = CASE WHEN $3 = 'ready' THEN " MC_READY_RANK("t") " ELSE ready_rank END, "
				   "ready_at = CASE WHEN $3 = 'ready' THEN pg_catalog.clock_timestamp() END, "
				   "started_at = CASE WHEN $3 = 'running' THEN pg_catalog.clock_timestamp() ELSE started_at END, "
				   "finished_at = CASE WHEN $7 THEN pg_catalog.clock_timestamp() END "
				   "WHERE workflow_id = $1 AND task_no = $2 "
				   "RETURNING attempt, CASE WHEN $9 IS NOT NULL OR ($10 AND started_at IS NOT NULL) "
				   "  THEN execution_time END",
				   10, argtypes, values, nulls, 1);
	task->attempt = DatumGetInt32(mc_catalog_value(0, MOVED_ATTEMPT, &isnull));
	ms = mc_catalog_value(0, MOVED_MS, &isnull);
	ended = mc_error_ended(error, isnull ? -1 : DatumGetFloat8(ms));
	task->status = to;

	mc_history_record(session, wf, task->task_no, mc_task_status_names[to],
					  task->attempt, result, &ended, event);

	if (mc_task_status_is_terminal(to))
		wf->tasks_open--;
	wf->tasks_running += (to == MC_TASK_RUNNING) - (from == MC_TASK_RUNNING);

	if (to == MC_TASK_COMPLETED || (to == MC_TASK_FAILED && task->allow_failure))
		release_dependents(wf, task);
	else if (to == MC_TASK_SKIPPED || to == MC_TASK_CANCELLED)
		skip_descendants(session, wf, task,
						 psprintf("skipped: dependency \"%s\" was %s",
								  task->task_id, mc_task_status_names[to]));
	else if (to == MC_TASK_FAILED && !mc_workflow_status_is_ending(wf->status))
	{
		wf->error = psprintf("task \"%s\" failed%s%s", task->task_id,
							 detail ? ": " : "", detail ? error->message : "");
		wf->error_type = "task_failed";
		mc_workflow_finish(session, wf, MC_WF_FAILED, MC_TASK_SKIPPED,
						   psprintf("workflow failed: task \"%s\" failed",
									task->task_id));
		return;
	}

	if (wf->tasks_open == 0 && !mc_workflow_status_is_ending(wf->status))
		mc_workflow_set_status(session, wf, MC_WF_COMPLETED, "completed");
}

/* the columns of mc_workflow_rollback's statements */
enum
{
	COUNTED_OPEN = 1,			/* the count of the tasks as they are now */
	COUNTED_RUNNING
};
enum
{
	AT_TARGET_STATUS = 1,		/* the workflow's own status at the target */
	AT_TARGET_ERROR,
	AT_TARGET_ERROR_TYPE
};

/*
 * mc_workflow_rollback
 *		Returns every task and the workflow to their state at version
 *		target, as the new version.  Tasks that were pending, ready or
 *		running then are pending or ready now (by their dependencies' state
 *		at target), with the attempt count they had; a workflow that was
 *		running then is paused now, so nothing runs again until
 *		resume_workflow.  The caller holds the workflow lock and has
 *		checked that no task is running.
 */
void
mc_workflow_rollback(McCatalogSession *session, McWorkflow *wf, int64 target)
{
	static const Oid task_argtypes[] = {UUIDOID, INT8OID, INT8OID,
		REGROLEOID, TEXTOID, REGROLEOID};
	static const Oid wf_argtypes[] = {UUIDOID, INT8OID};
	Datum		values[6];
	char	   *event = psprintf("rollback to version " INT64_FORMAT, target);
	McWorkflowStatus status;
	bool		isnull;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int64GetDatum(target);
	values[2] = Int64GetDatum(wf->version);
	values[3] = ObjectIdGetDatum(wf->owner);
	values[4] = CStringGetTextDatum(event);
	values[5] = ObjectIdGetDatum(session->caller);
	if (mc_citus_present())
		mc_citus_rollback_tasks(session, wf, target, event);
	else
		mc_catalog_run_set(MC_PLAN_ROLLBACK_TASKS,
						   MC_ROLLBACK_TASKS
						   " INSERT INTO mycelium.workflow_state_history "
						   "(workflow_id, version, task_no, owner, status, attempt, result, error, event, changed_by, "
						   " error_detail, execution_time) "
						   "SELECT $1, $3, task_no, $4, new_status, attempt, result, error, $5, $6, "
						   "  error_detail, execution_time "
						   "FROM upd WHERE visible",
						   6, task_argtypes, values, NULL, 0);

	/* counters, from the tasks as they are now */
	mc_catalog_run(MC_PLAN_COUNT_TASKS,
				   "SELECT pg_catalog.count(*) FILTER (WHERE status IN ('pending', 'ready', 'running'))::pg_catalog.int4, "
				   "pg_catalog.count(*) FILTER (WHERE status = 'running')::pg_catalog.int4 "
				   "FROM mycelium.task_states WHERE workflow_id = $1",
				   1, wf_argtypes, values, NULL, 0);
	wf->tasks_open = DatumGetInt32(mc_catalog_value(0, COUNTED_OPEN, &isnull));
	wf->tasks_running = DatumGetInt32(mc_catalog_value(0, COUNTED_RUNNING, &isnull));

	/* the workflow's own status at target */
	mc_catalog_run(MC_PLAN_ROLLBACK_WORKFLOW_STATE,
				   "SELECT status, error, error_detail->>'error_type' FROM mycelium.workflow_state_history "
				   "WHERE workflow_id = $1 AND task_no = 0 AND version <= $2 "
				   "ORDER BY version DESC LIMIT 1",
				   2, wf_argtypes, values, NULL, 1);
	status = mc_workflow_status_from_name(mc_catalog_text(0, AT_TARGET_STATUS));
	wf->error = mc_catalog_text(0, AT_TARGET_ERROR);
	wf->error_type = mc_catalog_text(0, AT_TARGET_ERROR_TYPE);
	if (status == MC_WF_RUNNING)
		status = MC_WF_PAUSED;
	mc_workflow_set_status(session, wf, status, event);
}
