/*-------------------------------------------------------------------------
 *
 * api_grow.c
 *		add_tasks: a workflow that has not finished grows by new tasks (an
 *		agent spawning sub-agents, or the owner extending the plan).
 *
 * The new tasks are checked like the tasks of create_workflow (taskdef.c,
 * dag.c), with the workflow's existing task ids as known names: they may
 * depend on each other and on existing tasks, never the other way round,
 * so a cycle can only run through new tasks.  They are numbered after the
 * existing ones; a dependency on an existing task counts as met when that
 * task has completed (or failed with allow_failure) and is pending while
 * it is pending, ready or running.  A dependency on a task that was
 * skipped or cancelled is refused: the new task could never run.
 *
 * Locking.  The workflow's row is locked first, as for every change.  The
 * rows of the existing tasks named as dependencies gain the new tasks in
 * their dependents arrays; a worker holds the row of a task whose attempt
 * it is running until the outcome commits, and that worker will want the
 * workflow lock held here, so those rows are locked with SKIP LOCKED and a
 * row held elsewhere is an error rather than a wait (a deadlock).  An
 * executor adding tasks to its own workflow holds its own task's row
 * already, in the same transaction, and may make new tasks depend on it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "agent.h"
#include "api_workflow.h"
#include "catalog.h"
#include "dag.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_add_tasks);

/* an existing task named by the new ones, with what add_tasks needs of it */
typedef struct ExistingTask
{
	McDagExisting ref;
	McTaskStatus status;
	bool		allow_failure;
} ExistingTask;

/* the columns of find_existing's statement: the tasks new ones depend on */
enum
{
	EXISTING_TASK_ID = 1,
	EXISTING_TASK_NO,
	EXISTING_STATUS,
	EXISTING_ALLOW_FAILURE
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
 * existing_cmp
 *		Orders existing tasks by task number.
 */
static int
existing_cmp(const void *a, const void *b)
{
	int32		x = ((const ExistingTask *) a)->ref.task_no;
	int32		y = ((const ExistingTask *) b)->ref.task_no;

	return (x > y) - (x < y);
}

/*
 * find_by_no
 *		The existing task numbered task_no (existing is in task number
 *		order and holds it).
 */
static ExistingTask *
find_by_no(ExistingTask *existing, int nexisting, int32 task_no)
{
	ExistingTask key;
	ExistingTask *e;

	key.ref.task_no = task_no;
	e = bsearch(&key, existing, nexisting, sizeof(ExistingTask), existing_cmp);
	Assert(e != NULL);
	return e;
}

/*
 * grow_count
 *		Adds n to the workflow's task count, refusing to pass
 *		mycelium.max_tasks_per_workflow; returns the count before.
 */
static int32
grow_count(McWorkflow *wf, int n)
{
	static const Oid argtypes[] = {UUIDOID, INT4OID};
	Datum		values[2];
	bool		isnull;
	int32		before;

	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = Int32GetDatum(n);
	mc_catalog_run(MC_PLAN_GROW_COUNT,
				   "UPDATE mycelium.workflow_states SET task_count = task_count + $2 "
				   "WHERE workflow_id = $1 RETURNING task_count - $2",
				   2, argtypes, values, NULL, 1);
	before = DatumGetInt32(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull));
	if ((int64) before + n > mc_max_tasks_per_workflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many tasks in one workflow"),
				 errdetail("The workflow has %d tasks and %d were added; mycelium.max_tasks_per_workflow is %d.",
						   before, n, mc_max_tasks_per_workflow)));
	return before;
}

/*
 * find_existing
 *		The workflow's tasks whose ids the new tasks use, as their own ids
 *		or as dependencies, in task number order.
 */
static ExistingTask *
find_existing(McWorkflow *wf, McTaskDef *tasks, int ntasks, int *nexisting)
{
	static const Oid argtypes[] = {UUIDOID, TEXTARRAYOID};
	Datum	   *names;
	Datum		values[2];
	ExistingTask *existing;
	int			nnames = 0;
	uint64		rows;
	uint64		r;
	int			i;
	int			d;

	for (i = 0; i < ntasks; i++)
		nnames += 1 + tasks[i].ndeps;
	names = palloc(sizeof(Datum) * Max(nnames, 1));
	nnames = 0;
	for (i = 0; i < ntasks; i++)
	{
		names[nnames++] = CStringGetTextDatum(tasks[i].task_id);
		for (d = 0; d < tasks[i].ndeps; d++)
			names[nnames++] = CStringGetTextDatum(tasks[i].dep_ids[d]);
	}
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = mc_catalog_array(names, nnames, TEXTOID);
	rows = mc_catalog_run(MC_PLAN_GROW_EXISTING,
						  "SELECT t.task_id, t.task_no, t.status::pg_catalog.text, t.allow_failure "
						  "FROM mycelium.task_ids i JOIN mycelium.task_states t "
						  "  ON t.workflow_id = i.workflow_id AND t.task_no = i.task_no "
						  "WHERE i.workflow_id = $1 AND i.task_id = ANY ($2) "
						  "ORDER BY t.task_no",
						  2, argtypes, values, NULL, 0);
	existing = palloc(sizeof(ExistingTask) * Max(rows, 1));
	for (r = 0; r < rows; r++)
	{
		bool		isnull;

		existing[r].ref.task_id = mc_catalog_text(r, EXISTING_TASK_ID);
		existing[r].ref.task_no = DatumGetInt32(mc_catalog_value(r, EXISTING_TASK_NO, &isnull));
		existing[r].status = mc_task_status_from_name(mc_catalog_text(r, EXISTING_STATUS));
		existing[r].allow_failure = DatumGetBool(mc_catalog_value(r, EXISTING_ALLOW_FAILURE, &isnull));
	}
	*nexisting = (int) rows;
	return existing;
}

/*
 * count_unmet
 *		For each new task, how many of its dependencies are not yet
 *		satisfied; refuses a dependency that never can be.  Collects the
 *		edges from existing tasks to new ones in *deps and *dependents.
 */
static int32 *
count_unmet(McTaskDef *tasks, int ntasks, int32 base, ExistingTask *existing,
			int nexisting, Datum **deps, Datum **dependents, int *nedges)
{
	int32	   *unmet = palloc0(sizeof(int32) * Max(ntasks, 1));
	int			n = 0;
	int			i;
	int			d;

	for (i = 0; i < ntasks; i++)
		n += tasks[i].ndeps;
	*deps = palloc(sizeof(Datum) * Max(n, 1));
	*dependents = palloc(sizeof(Datum) * Max(n, 1));
	*nedges = 0;

	for (i = 0; i < ntasks; i++)
	{
		McTaskDef  *t = &tasks[i];

		for (d = 0; d < t->ndeps; d++)
		{
			ExistingTask *e;

			if (t->deps[d] > base)
			{
				unmet[i]++;
				continue;
			}
			e = find_by_no(existing, nexisting, t->deps[d]);
			if (e->status == MC_TASK_SKIPPED || e->status == MC_TASK_CANCELLED ||
				(e->status == MC_TASK_FAILED && !e->allow_failure))
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" cannot depend on task \"%s\", which is %s",
								t->task_id, e->ref.task_id, mc_task_status_names[e->status]),
						 errdetail("A task whose dependency ended %s could never run.",
								   mc_task_status_names[e->status])));
			if (!(e->status == MC_TASK_COMPLETED ||
				  (e->status == MC_TASK_FAILED && e->allow_failure)))
				unmet[i]++;
			(*deps)[*nedges] = Int32GetDatum(e->ref.task_no);
			(*dependents)[*nedges] = Int32GetDatum(base + i + 1);
			(*nedges)++;
		}
	}
	return unmet;
}

/*
 * lock_dependencies
 *		Locks the rows of the existing tasks that gain dependents.  A row
 *		held by another transaction belongs to a worker recording (or
 *		about to record) that task's attempt: refused, not waited for.
 */
static void
lock_dependencies(McWorkflow *wf, ExistingTask *existing, int nexisting,
				  Datum *deps, int nedges)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID};
	Datum		values[2];
	bool	   *locked;
	uint64		rows;
	uint64		r;
	int			i;

	if (nedges == 0)
		return;
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = mc_catalog_array(deps, nedges, INT4OID);
	rows = mc_catalog_run(MC_PLAN_GROW_LOCK_DEPS,
						  "SELECT task_no FROM mycelium.task_states "
						  "WHERE workflow_id = $1 AND task_no = ANY ($2) "
						  "ORDER BY task_no FOR UPDATE SKIP LOCKED",
						  2, argtypes, values, NULL, 0);
	locked = palloc0(sizeof(bool) * Max(nexisting, 1));
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		ExistingTask *e = find_by_no(existing, nexisting,
									 DatumGetInt32(mc_catalog_value(r, MC_ONLY_COLUMN, &isnull)));

		locked[e - existing] = true;
	}
	for (i = 0; i < nedges; i++)
	{
		ExistingTask *e = find_by_no(existing, nexisting, DatumGetInt32(deps[i]));

		if (!locked[e - existing])
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("task \"%s\" is %s in a worker and cannot gain dependents now",
							e->ref.task_id, mc_task_status_names[e->status]),
					 errdetail("The worker holds the task until the outcome of its attempt is recorded."),
					 errhint("Add the tasks when it has finished, or from its own executor.")));
	}
}

/*
 * link_dependents
 *		Appends the new tasks to the dependents arrays of the existing
 *		tasks they depend on, in one statement.
 */
static void
link_dependents(McWorkflow *wf, Datum *deps, Datum *dependents, int nedges)
{
	static const Oid argtypes[] = {UUIDOID, INT4ARRAYOID, INT4ARRAYOID};
	Datum		values[3];

	if (nedges == 0)
		return;
	values[0] = UUIDPGetDatum(&wf->id);
	values[1] = mc_catalog_array(deps, nedges, INT4OID);
	values[2] = mc_catalog_array(dependents, nedges, INT4OID);
	mc_catalog_run(MC_PLAN_GROW_DEPENDENTS,
				   "UPDATE mycelium.task_states t "
				   "SET dependents = COALESCE(t.dependents, '{}') OPERATOR(pg_catalog.||) a.nos "
				   "FROM (SELECT e.dep, pg_catalog.array_agg(e.dependent ORDER BY e.dependent) AS nos "
				   "  FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.int4[]), "
				   "    pg_catalog.unnest($3::pg_catalog.int4[])) AS e(dep, dependent) "
				   "  GROUP BY e.dep) a "
				   "WHERE t.workflow_id = $1 AND t.task_no = a.dep",
				   3, argtypes, values, NULL, 0);
}

/*
 * mc_add_tasks
 *		add_tasks(workflow_id, tasks): adds tasks to a workflow that has
 *		not finished, as a new version, which is returned.  Ready new tasks
 *		are the scheduler's when the caller commits.
 */
Datum
mc_add_tasks(PG_FUNCTION_ARGS)
{
	McCatalogSession session;
	MemoryContext cxt;
	MemoryContext old;
	McWorkflow	wf;
	McTaskDef  *tasks;
	int			ntasks;
	ExistingTask *existing;
	int			nexisting;
	McDagExisting *refs;
	McDag	   *dag;
	int32		base;
	int32	   *unmet;
	Datum	   *deps;
	Datum	   *dependents;
	int			nedges;
	int64		version;
	int			i;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "tasks");

	cxt = AllocSetContextCreate(CurrentMemoryContext, "mycelium add_tasks",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	tasks = mc_parse_tasks(PG_GETARG_JSONB_P(1), &ntasks);

	mc_catalog_open(&session);
	mc_workflow_lock(&session, PG_GETARG_UUID_P(0), &wf);
	if (mc_workflow_status_is_ending(wf.status))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s is already %s", uuid_str(&wf.id),
						mc_workflow_status_names[wf.status]),
				 errdetail("Tasks can be added only to a pending, running or paused workflow.")));
	if (ntasks == 0)
	{
		/* nothing to add: no new version */
		mc_catalog_close(&session);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RETURN_INT64(wf.version - 1);
	}

	base = grow_count(&wf, ntasks);
	existing = find_existing(&wf, tasks, ntasks, &nexisting);
	refs = palloc(sizeof(McDagExisting) * Max(nexisting, 1));
	for (i = 0; i < nexisting; i++)
		refs[i] = existing[i].ref;
	dag = mc_dag_resolve_onto(tasks, ntasks, base, refs, nexisting);
	mc_check_agent_types(tasks, ntasks, wf.owner);
	unmet = count_unmet(tasks, ntasks, base, existing, nexisting,
						&deps, &dependents, &nedges);
	lock_dependencies(&wf, existing, nexisting, deps, nedges);

	mc_insert_tasks(&wf.id, wf.owner, tasks, ntasks, dag, unmet, wf.priority);
	link_dependents(&wf, deps, dependents, nedges);
	mc_workflow_tasks_added(&session, &wf, base, ntasks);
	mc_workflow_save(&session, &wf);
	if (wf.status == MC_WF_RUNNING)
	{
		/* new tasks may be ready: for the scheduler, or external agents */
		mc_push_at_commit(&wf.id, InvalidOid, wf.priority);
		mc_notify_ready_workflow(&wf.id);
	}
	mc_catalog_close(&session);

	version = wf.version;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	PG_RETURN_INT64(version);
}
