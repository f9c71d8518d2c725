/*-------------------------------------------------------------------------
 *
 * signals.c
 *		Signal tasks: tasks that wait for a named signal instead of running
 *		on an executor, and mycelium.signal, which sends one.
 *
 * A signal task (a task definition with a field "signal", made by
 * mycelium.signal_task()) has the reserved agent type MC_SIGNAL_AGENT_TYPE,
 * for which no executor may be registered and which no external agent may
 * claim; its input is its signal: {name, deadline, on_deadline, default}.
 * It goes from pending to ready like any task, and while it is ready in a
 * running or paused workflow it waits: mycelium.signal(workflow_id, name,
 * payload) completes every task waiting for that name, with the payload as
 * its result, so its dependents find it in ctx.previous_results.
 *
 * Every signal is recorded in mycelium.workflow_signals.  One that comes
 * before its task waits (the task is pending, or its workflow has not
 * started) is kept there and delivered when the task starts waiting, the
 * oldest first, one signal to each task.  The launcher does that: every
 * statement that makes a task ready tells which agent types it made ready
 * (agent.c), and for this one a wake of the launcher is queued for the
 * commit (mc_signal_wake_at_commit).  At its next look the launcher locks
 * the workflows with waiting signal tasks it has not seen yet (run_after
 * NULL; found through the partial index task_states_signal_idx) and, per
 * task, delivers the oldest kept signal of its name or, if there is none,
 * sets run_after to when its deadline passes ('infinity': no deadline).
 * The launcher already sleeps until the earliest run_after of a ready task
 * (retry back-offs) and looks again after a restart, so the deadline of a
 * signal task, stored there, survives restarts like a back-off does; at
 * the deadline the task fails (error_type "deadline") or completes with
 * its default result.
 *
 * Every change is made under the workflow's row lock, as every other
 * change of a workflow is, so a signal and a deadline, or two signals,
 * cannot both finish one task: the second finds it finished.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "signals.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_signal);

/* the reserved agent type as a SQL literal */
#define SIGNAL_TYPE_SQL "'" MC_SIGNAL_AGENT_TYPE "'"

/* one signal task of a workflow, as read by read_signal_tasks */
typedef struct SignalTask
{
	McTask		task;
	char	   *name;			/* the signal it waits for */
	bool		armed;			/* run_after is set: the launcher saw it wait */
	bool		has_deadline;
	double		deadline;		/* seconds after it starts waiting */
	bool		complete_at_deadline;	/* else it fails */
	Jsonb	   *default_result; /* its result when it completes at the deadline */
} SignalTask;

/* the columns read_signal_tasks reads, from a task_states row t */
#define SIGNAL_TASK_SELECT \
	"SELECT " MC_TASK_COLUMNS("t") ", t.task_id, t.input->>'name' AS name, " \
	"  (t.input->>'deadline')::pg_catalog.float8 AS deadline, " \
	"  t.input->>'on_deadline' = 'complete' AS complete_at_deadline, " \
	"  t.input->'default' AS default_result, t.run_after IS NOT NULL AS armed " \
	"FROM mycelium.task_states t "

/* whether the launcher is to be woken when this transaction commits */
static bool wake_pending = false;
static bool wake_callback_registered = false;

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
 * column
 *		The number of the column called name in the last statement's result.
 */
static int
column(const char *name)
{
	int			col = SPI_fnumber(SPI_tuptable->tupdesc, name);

	if (col <= 0)
		elog(ERROR, "column \"%s\" is missing from the result", name);
	return col;
}

/*
 * mc_signal_refuse_agent_type
 *		Refuses to register, limit or claim the agent type of signal tasks:
 *		nothing but a signal or its deadline may finish them.
 */
void
mc_signal_refuse_agent_type(const char *agent_type)
{
	if (strcmp(agent_type, MC_SIGNAL_AGENT_TYPE) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("agent type \"%s\" is reserved for signal tasks", agent_type),
				 errdetail("Its tasks wait for mycelium.signal(); no executor or external agent runs them.")));
}

/*
 * mc_signal_refuse_running
 *		Refuses to move a signal task to running (update_task): no worker
 *		or agent would run it, so it would never end.
 */
void
mc_signal_refuse_running(pg_uuid_t *workflow_id, const char *task_id)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = UUIDPGetDatum(workflow_id);
	values[1] = CStringGetTextDatum(task_id);
	if (mc_catalog_run(MC_PLAN_SIGNAL_TASK_KIND,
					   "SELECT 1 FROM mycelium.task_ids i JOIN mycelium.task_states t "
					   "  ON t.workflow_id = i.workflow_id AND t.task_no = i.task_no "
					   "WHERE i.workflow_id = $1 AND i.task_id = $2 "
					   "  AND t.agent_type = " SIGNAL_TYPE_SQL,
					   2, argtypes, values, NULL, 1) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("task \"%s\" waits for a signal and does not run", task_id),
				 errhint("Complete it with mycelium.signal(), or with update_task to completed or failed.")));
}

/*
 * at_xact_end
 *		Transaction callback: wakes the launcher when a transaction that
 *		made signal tasks ready commits.
 */
static void
at_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (wake_pending && mc_shared != NULL)
			mc_wake_launcher();
		wake_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		wake_pending = false;
}

/*
 * mc_signal_wake_at_commit
 *		Signal tasks became ready in this transaction: the launcher is to
 *		look at them (deliver their kept signals, start their deadlines)
 *		as soon as it commits, rather than at its next look.
 */
void
mc_signal_wake_at_commit(void)
{
	if (mc_shared == NULL)
		return;
	if (!wake_callback_registered)
	{
		RegisterXactCallback(at_xact_end, NULL);
		wake_callback_registered = true;
	}
	wake_pending = true;
}

/*
 * read_signal_tasks
 *		Reads a workflow's signal tasks into *tasks, in task order, and
 *		returns how many: with name, every one waiting for that signal,
 *		whatever its status; else the ready ones the launcher has to look
 *		at, those not armed yet or whose deadline passed by now.  The
 *		caller holds the workflow's lock.
 */
static int
read_signal_tasks(pg_uuid_t *workflow_id, const char *name, TimestampTz now,
				  SignalTask **tasks)
{
	static const Oid by_name_types[] = {UUIDOID, TEXTOID};
	static const Oid due_types[] = {UUIDOID, TIMESTAMPTZOID};
	Datum		values[2];
	uint64		n;
	uint64		r;

	values[0] = UUIDPGetDatum(workflow_id);
	if (name != NULL)
	{
		values[1] = CStringGetTextDatum(name);
		n = mc_catalog_run(MC_PLAN_SIGNAL_TASKS,
						   SIGNAL_TASK_SELECT
						   "WHERE t.workflow_id = $1 AND t.agent_type = " SIGNAL_TYPE_SQL " "
						   "  AND t.input->>'name' = $2 "
						   "ORDER BY t.task_no",
						   2, by_name_types, values, NULL, 0);
	}
	else
	{
		values[1] = TimestampTzGetDatum(now);
		n = mc_catalog_run(MC_PLAN_SIGNAL_DUE_TASKS,
						   SIGNAL_TASK_SELECT
						   "WHERE t.workflow_id = $1 AND t.status = 'ready' "
						   "  AND t.agent_type = " SIGNAL_TYPE_SQL " "
						   "  AND (t.run_after IS NULL OR t.run_after <= $2) "
						   "ORDER BY t.task_no",
						   2, due_types, values, NULL, 0);
	}

	*tasks = palloc0(sizeof(SignalTask) * Max(n, 1));
	for (r = 0; r < n; r++)
	{
		SignalTask *st = &(*tasks)[r];
		bool		isnull;
		Datum		d;

		mc_task_read(r, column("task_no"), &st->task);
		st->task.task_id = mc_catalog_text(r, column("task_id"));
		st->name = mc_catalog_text(r, column("name"));
		st->armed = DatumGetBool(mc_catalog_value(r, column("armed"), &isnull));
		d = mc_catalog_value(r, column("deadline"), &isnull);
		st->has_deadline = !isnull;
		st->deadline = isnull ? 0 : DatumGetFloat8(d);
		d = mc_catalog_value(r, column("complete_at_deadline"), &isnull);
		st->complete_at_deadline = !isnull && DatumGetBool(d);
		d = mc_catalog_value(r, column("default_result"), &isnull);
		st->default_result = isnull ? NULL :
			DatumGetJsonbP(SPI_datumTransfer(d, false, -1));
	}
	return (int) n;
}

/*
 * record_signal
 *		Records a signal sent to a workflow: delivered now to the tasks
 *		named in delivered_to, or (delivered_to NULL) kept for a task that
 *		does not wait yet.  Signals are numbered per workflow, under its
 *		lock, in the order they came.
 *
 * The row is made from the workflow's own row, with every time named, so
 * that on Citus the statement is an INSERT ... SELECT from the workflow's
 * shard group that Citus pushes down to it, where the roles arrive by name
 * (see mc_citus_catalog_open in citus.c): a statement whose workflow_id is
 * a parameter, or one with the volatile default of sent_at, Citus runs
 * through the coordinator, which copies the row to the shard in binary,
 * with the coordinator's OIDs of the roles.
 */
static void
record_signal(McCatalogSession *session, McWorkflow *wf, const char *name,
			  Jsonb *payload, Datum delivered_to)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID, JSONBOID, REGROLEOID,
	TEXTARRAYOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(name);
	values[2] = JsonbPGetDatum(payload);
	values[3] = ObjectIdGetDatum(session->caller);
	values[4] = delivered_to;
	if (delivered_to == (Datum) 0)
		nulls[4] = 'n';
	mc_catalog_run(MC_PLAN_SIGNAL_INSERT,
				   "INSERT INTO mycelium.workflow_signals "
				   "(workflow_id, signal_no, owner, name, payload, sent_by, sent_at, delivered_at, "
				   " delivered_to) "
				   "SELECT w.workflow_id, COALESCE(pg_catalog.max(s.signal_no), 0) + 1, w.owner, "
				   "  $2, $3, $4, pg_catalog.clock_timestamp(), "
				   "  CASE WHEN $5::pg_catalog.text[] IS NOT NULL THEN pg_catalog.clock_timestamp() END, $5 "
				   "FROM mycelium.workflow_states w "
				   "LEFT JOIN mycelium.workflow_signals s ON s.workflow_id = w.workflow_id "
				   "WHERE w.workflow_id = $1 "
				   "GROUP BY w.workflow_id, w.owner",
				   5, argtypes, values, nulls, 0);
}

/*
 * kept_signals
 *		How many signals of this name the workflow keeps undelivered.
 */
static int64
kept_signals(McWorkflow *wf, const char *name)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(name);
	mc_catalog_run(MC_PLAN_SIGNAL_KEPT_COUNT,
				   "SELECT pg_catalog.count(*) AS kept FROM mycelium.workflow_signals "
				   "WHERE workflow_id = $1 AND name = $2 AND delivered_at IS NULL",
				   2, argtypes, values, NULL, 1);
	return DatumGetInt64(mc_catalog_value(0, column("kept"), &isnull));
}

/*
 * complete_with_signal
 *		Completes a waiting signal task with a signal's payload, at the
 *		workflow's next version, recorded as changed by its sender.
 */
static void
complete_with_signal(McCatalogSession *session, McWorkflow *wf, SignalTask *st,
					 Jsonb *payload, const char *event)
{
	mc_task_transition(session, wf, &st->task, MC_TASK_COMPLETED, payload,
					   NULL, event);
	mc_workflow_count_change(wf);
}

/*
 * deliver_kept
 *		A signal task has just started waiting: completes it with the
 *		oldest signal of its name the workflow keeps, and marks that one
 *		delivered.  Returns false if there is none.
 */
static bool
deliver_kept(McCatalogSession *session, McWorkflow *wf, SignalTask *st)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	static const Oid mark_types[] = {UUIDOID, INT8OID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		signal_no;
	Jsonb	   *payload;
	Oid			sent_by;
	Oid			caller = session->caller;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = CStringGetTextDatum(st->name);
	if (mc_catalog_run(MC_PLAN_SIGNAL_KEPT_OLDEST,
					   "SELECT s.signal_no, s.payload, s.sent_by "
					   "FROM mycelium.workflow_signals s "
					   "WHERE s.workflow_id = $1 AND s.name = $2 AND s.delivered_at IS NULL "
					   "ORDER BY s.signal_no LIMIT 1",
					   2, argtypes, values, NULL, 1) == 0)
		return false;
	signal_no = DatumGetInt64(mc_catalog_value(0, column("signal_no"), &isnull));
	payload = DatumGetJsonbP(SPI_datumTransfer(mc_catalog_value(0, column("payload"), &isnull),
											   false, -1));
	/* a regrole: on Citus it comes as its name, this node's OID of it */
	sent_by = DatumGetObjectId(mc_catalog_value(0, column("sent_by"), &isnull));

	values[1] = Int64GetDatum(signal_no);
	values[2] = CStringGetTextDatum(st->task.task_id);
	mc_catalog_run(MC_PLAN_SIGNAL_MARK_DELIVERED,
				   "UPDATE mycelium.workflow_signals "
				   "SET delivered_at = pg_catalog.clock_timestamp(), delivered_to = ARRAY[$3] "
				   "WHERE workflow_id = $1 AND signal_no = $2",
				   3, mark_types, values, NULL, 0);

	/* the change is the sender's, as if the signal had come now */
	session->caller = sent_by;
	complete_with_signal(session, wf, st, payload,
						 psprintf("signal \"%s\" (kept since it was sent)", st->name));
	session->caller = caller;
	return true;
}

/*
 * arm
 *		A signal task has started waiting and no signal was kept for it:
 *		its deadline starts now (run_after; 'infinity' when it has none,
 *		which also tells the launcher it has seen the task).  The sum is
 *		MC_SQL_PLUS_SECONDS, which Citus takes in an UPDATE's CASE.
 */
static void
arm(McWorkflow *wf, SignalTask *st)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID, FLOAT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(st->task.task_no);
	values[2] = Float8GetDatum(st->deadline);
	if (!st->has_deadline)
		nulls[2] = 'n';
	mc_catalog_run(MC_PLAN_SIGNAL_ARM,
				   "UPDATE mycelium.task_states SET run_after = "
				   "  CASE WHEN $3::pg_catalog.float8 IS NULL THEN 'infinity'::pg_catalog.timestamptz "
				   "  ELSE " MC_SQL_PLUS_SECONDS("pg_catalog.clock_timestamp()", "$3") " END "
				   "WHERE workflow_id = $1 AND task_no = $2",
				   3, argtypes, values, nulls, 0);
}

/*
 * pass_deadline
 *		No signal came before a signal task's deadline: it fails (error_type
 *		"deadline"), or completes with its default result.
 */
static void
pass_deadline(McCatalogSession *session, McWorkflow *wf, SignalTask *st)
{
	if (st->complete_at_deadline)
		mc_task_transition(session, wf, &st->task, MC_TASK_COMPLETED,
						   st->default_result, NULL,
						   psprintf("deadline passed without signal \"%s\": default result", st->name));
	else
	{
		McError		error;

		error.type = "deadline";
		error.message = psprintf("no signal \"%s\" came within the deadline of %g s",
								 st->name, st->deadline);
		error.sqlerrcode = 0;
		error.execution_ms = -1;
		mc_task_transition(session, wf, &st->task, MC_TASK_FAILED, NULL, &error,
						   psprintf("deadline passed without signal \"%s\"", st->name));
	}
	mc_workflow_count_change(wf);
}

/*
 * look_at_workflow
 *		The launcher's look at one running workflow it has locked: each
 *		signal task that started waiting takes a kept signal or starts its
 *		deadline, and each whose deadline passed fails or completes.
 */
static void
look_at_workflow(McCatalogSession *session, McWorkflow *wf, TimestampTz now)
{
	SignalTask *tasks;
	int			n = read_signal_tasks(&wf->id, NULL, now, &tasks);
	int			i;

	for (i = 0; i < n && wf->status == MC_WF_RUNNING; i++)
	{
		SignalTask *st = &tasks[i];

		if (!st->armed)
		{
			if (!deliver_kept(session, wf, st))
				arm(wf, st);
		}
		else
			pass_deadline(session, wf, st);
	}
	if (wf->changed)
	{
		mc_workflow_settle(session, wf);
		mc_workflow_save(session, wf);
		/* the tasks it released are the scheduler's to run */
		if (wf->status == MC_WF_RUNNING)
			mc_push_at_commit(&wf->id, InvalidOid, wf->priority);
	}
}

/*
 * mc_signal_tick
 *		The launcher's look at signal tasks: up to max running workflows
 *		with signal tasks that started waiting since the last look or whose
 *		deadline passed by now, each locked (passing over those another
 *		transaction holds: the next look takes them) and looked at.
 *		Returns how many workflows it found, so that the launcher looks
 *		again soon when there were max.  Paused workflows wait: a deadline
 *		that passed while the workflow was paused passes when it resumes.
 */
int
mc_signal_tick(McCatalogSession *session, TimestampTz now, int max)
{
	static const Oid argtypes[] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	pg_uuid_t  *ids;
	McWorkflow *wfs;
	McWorkflow **wfps;
	bool	   *locked;
	uint64		n;
	uint64		i;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(max);
	n = mc_catalog_run(MC_PLAN_SIGNAL_WORKFLOWS,
					   "SELECT x.workflow_id FROM ("
					   "  SELECT t.workflow_id FROM mycelium.task_states t "
					   "  WHERE t.agent_type = " SIGNAL_TYPE_SQL " AND t.status = 'ready' "
					   "    AND t.run_after IS NULL "
					   "    AND (SELECT w.status FROM mycelium.workflow_states w "
					   "         WHERE w.workflow_id = t.workflow_id) = 'running' "
					   "  UNION "
					   "  SELECT t.workflow_id FROM mycelium.task_states t "
					   "  WHERE t.status = 'ready' AND t.run_after IS NOT NULL "
					   "    AND t.run_after <= $1 AND t.agent_type = " SIGNAL_TYPE_SQL " "
					   "    AND (SELECT w.status FROM mycelium.workflow_states w "
					   "         WHERE w.workflow_id = t.workflow_id) = 'running') x "
					   "ORDER BY x.workflow_id LIMIT $2",
					   2, argtypes, values, NULL, 0);
	if (n == 0)
		return 0;
	ids = palloc(sizeof(pg_uuid_t) * n);
	wfs = palloc0(sizeof(McWorkflow) * n);
	wfps = palloc(sizeof(McWorkflow *) * n);
	locked = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		memcpy(&ids[i], DatumGetUUIDP(mc_catalog_value(i, column("workflow_id"), &isnull)),
			   sizeof(pg_uuid_t));
		wfps[i] = &wfs[i];
	}
	mc_workflows_lock(session, ids, (int) n, true, wfps, locked);
	for (i = 0; i < n; i++)
	{
		/* checked again on the locked row: it may have changed meanwhile */
		if (locked[i] && wfs[i].status == MC_WF_RUNNING)
			look_at_workflow(session, &wfs[i], now);
	}
	return (int) n;
}

/*
 * mc_signal
 *		signal(workflow_id, name, payload): completes the workflow's tasks
 *		waiting for signal name, with payload as their result, and returns
 *		how many it completed; or, when none waits yet but one will, keeps
 *		the signal for it and returns 0.  Only the workflow's owner or an
 *		administrator may signal (to another role the workflow does not
 *		exist).  Refused, changing nothing, when the workflow is finished,
 *		has no task waiting for that signal, or has no task left to take
 *		it (all are finished, or the signals kept already serve them all).
 */
Datum
mc_signal(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	McWorkflow	wf;
	char	   *name;
	char	   *problem;
	Jsonb	   *payload;
	SignalTask *tasks;
	Datum	   *waiting;
	int			ntasks;
	int			nwaiting = 0;
	int			nopen = 0;
	int64		kept;
	bool		wf_waits;
	int			i;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "name");
	mc_require_arg(fcinfo, 2, "payload");
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	problem = mc_name_problem(name, strlen(name));
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid signal name \"%s\"", mc_name_for_message(name)),
				 errdetail_internal("%s", problem)));
	payload = PG_GETARG_JSONB_P(2);
	mc_check_payload_size(payload, "signal payload");

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	if (mc_workflow_status_is_ending(wf.status))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is already %s", uuid_str(&wf.id),
						mc_workflow_status_names[wf.status]),
				 errdetail("A finished workflow takes no signal.")));

	ntasks = read_signal_tasks(&wf.id, name, 0, &tasks);
	if (ntasks == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s has no task waiting for signal \"%s\"",
						uuid_str(&wf.id), name),
				 errhint("A task waits for a signal when it is made with mycelium.signal_task().")));

	/*
	 * The signal is taken only if a task is left to take it: one not
	 * finished, and not served by the signals kept already.
	 */
	for (i = 0; i < ntasks; i++)
	{
		if (!mc_task_status_is_terminal(tasks[i].task.status))
			nopen++;
	}
	if (nopen == 0)
	{
		StringInfoData detail;

		initStringInfo(&detail);
		for (i = 0; i < ntasks; i++)
			appendStringInfo(&detail, "%sTask \"%s\" is %s.", i > 0 ? " " : "",
							 tasks[i].task.task_id,
							 mc_task_status_names[tasks[i].task.status]);
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("no task of workflow %s waits for signal \"%s\" any more",
						uuid_str(&wf.id), name),
				 errdetail_internal("%s", detail.data)));
	}
	kept = kept_signals(&wf, name);
	if (kept >= nopen)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("signal \"%s\" of workflow %s is already kept for its task",
						name, uuid_str(&wf.id)),
				 errdetail("Tasks that will wait for it: %d; signals of that name kept for them: " INT64_FORMAT ".",
						   nopen, kept),
				 errhint("A signal sent before its task waits is kept and delivered when the task starts waiting.")));

	/* a ready task waits while its workflow runs or is paused */
	wf_waits = wf.status == MC_WF_RUNNING || wf.status == MC_WF_PAUSED;

	/*
	 * A task that started waiting a moment ago, which the launcher has not
	 * looked at yet, takes a signal kept for it first: signals are
	 * delivered in the order they came.
	 */
	for (i = 0; i < ntasks && kept > 0 && wf_waits; i++)
	{
		if (tasks[i].task.status == MC_TASK_READY && !tasks[i].armed &&
			deliver_kept(&session, &wf, &tasks[i]))
			kept--;
	}

	waiting = palloc(sizeof(Datum) * ntasks);
	for (i = 0; i < ntasks; i++)
	{
		if (wf_waits && tasks[i].task.status == MC_TASK_READY)
			waiting[nwaiting++] = CStringGetTextDatum(tasks[i].task.task_id);
	}
	if (nwaiting > 0)
	{
		char	   *event = psprintf("signal \"%s\"", name);

		record_signal(&session, &wf, name, payload,
					  mc_catalog_array(waiting, nwaiting, TEXTOID));
		for (i = 0; i < ntasks; i++)
		{
			if (tasks[i].task.status == MC_TASK_READY)
				complete_with_signal(&session, &wf, &tasks[i], payload, event);
		}
	}
	else
		record_signal(&session, &wf, name, payload, (Datum) 0);

	if (wf.changed)
	{
		mc_workflow_settle(&session, &wf);
		mc_workflow_save(&session, &wf);
		/* the tasks it released are the scheduler's to run */
		if (wf.status == MC_WF_RUNNING)
			mc_push_at_commit(&wf.id, InvalidOid, wf.priority);
	}
	mc_catalog_close(&session);
	PG_RETURN_INT32(nwaiting);
}
