/*-------------------------------------------------------------------------
 *
 * dag.c
 *		Validation of a workflow's task graph, in time linear in the number
 *		of tasks plus the number of dependencies.
 *
 * mc_dag_resolve maps every dependency id to a task number (refusing
 * duplicate task ids, unknown, repeated and self dependencies), builds the
 * reverse edges the scheduler follows when a task finishes, and runs
 * Kahn's algorithm to prove the graph acyclic.  mc_dag_resolve_onto does
 * the same for tasks added to a running workflow (add_tasks), where
 * dependencies may also name tasks the workflow already has.  When it is not, one cycle
 * is found among the tasks Kahn's algorithm could not order and is named
 * in the error, in execution order: "a -> b -> c -> a" means b depends on
 * a, c on b and a on c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "dag.h"
#include "mycelium_errcodes.h"

/* task id -> task number, a simplehash table keyed by string */
typedef struct McIdEntry
{
	const char *key;
	int32		task_no;
	int32		mark;			/* last new task (index + 1) that named it */
	uint32		hash;
	char		status;
} McIdEntry;

#define SH_PREFIX		mc_idmap
#define SH_ELEMENT_TYPE McIdEntry
#define SH_KEY_TYPE		const char *
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b)	(strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)	((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* a cycle longer than this is shown by its first tasks and its length */
#define MC_CYCLE_SHOWN 10

/*
 * report_cycle
 *		Finds one cycle among the tasks left with unmet dependencies by
 *		Kahn's algorithm (each of them has a dependency among them, so
 *		walking dependencies from any of them must come back to a task
 *		already seen) and reports it.  Only new tasks can be on a cycle:
 *		the tasks a workflow already has never depend on new ones.
 */
static void
pg_attribute_noreturn()
report_cycle(McTaskDef *tasks, int ntasks, int32 base, const int32 *indegree)
{
	int32	   *seen_at;
	int32	   *path;
	int			len = 0;
	int			start;
	int			cur;
	int			cycle_len;
	StringInfoData buf;
	int			i;

	seen_at = palloc(sizeof(int32) * ntasks);
	for (i = 0; i < ntasks; i++)
		seen_at[i] = -1;
	path = palloc(sizeof(int32) * (ntasks + 1));

	/* start from the first task in definition order that is on or behind a cycle */
	for (cur = 0; indegree[cur] == 0; cur++)
		;
	while (seen_at[cur] < 0)
	{
		int			d;

		seen_at[cur] = len;
		path[len++] = cur;
		for (d = 0; d < tasks[cur].ndeps; d++)
		{
			int32		dep = tasks[cur].deps[d] - base - 1;

			if (dep >= 0 && indegree[dep] > 0)
				break;
		}
		Assert(d < tasks[cur].ndeps);
		cur = tasks[cur].deps[d] - base - 1;
	}

	/* path[start..len-1] walks the cycle against execution order */
	start = seen_at[cur];
	cycle_len = len - start;
	initStringInfo(&buf);
	appendStringInfoString(&buf, tasks[cur].task_id);
	for (i = len - 1; i >= start; i--)
	{
		if (cycle_len > MC_CYCLE_SHOWN && i == len - MC_CYCLE_SHOWN)
		{
			appendStringInfoString(&buf, " -> ...");
			i = start;
		}
		appendStringInfo(&buf, " -> %s", tasks[path[i]].task_id);
	}

	ereport(ERROR,
			(errcode(ERRCODE_MC_DEPENDENCY),
			 errmsg("dependency cycle: %s", buf.data),
			 errdetail_plural("The cycle has %d task.", "The cycle has %d tasks.",
							  cycle_len, cycle_len),
			 errhint("A task cannot depend on itself through other tasks; remove one of the dependencies in the cycle.")));
}

/*
 * mc_dag_resolve
 *		Checks the graph of a new workflow and returns it resolved; fills
 *		each task's deps with task numbers.  Errors are reported with
 *		SQLSTATE MY001.
 */
McDag *
mc_dag_resolve(McTaskDef *tasks, int ntasks)
{
	return mc_dag_resolve_onto(tasks, ntasks, 0, NULL, 0);
}

/*
 * mc_dag_resolve_onto
 *		Checks new tasks to be added to a workflow that has base tasks
 *		already, of which existing lists those the new tasks may name (by
 *		id, as dependencies or as clashing ids): the same checks as for a
 *		new workflow, with the existing tasks' ids taken as known.  The new
 *		tasks are numbered from base + 1.
 */
McDag *
mc_dag_resolve_onto(McTaskDef *tasks, int ntasks, int32 base,
					McDagExisting *existing, int nexisting)
{
	mc_idmap_hash *ids;
	McDag	   *dag;
	int32	   *indegree;
	int32	   *queue;
	int32	   *fill;
	int			head = 0;
	int			tail = 0;
	int			i;
	int			d;

	/* task ids: unique, among the new tasks and with the existing ones */
	ids = mc_idmap_create(CurrentMemoryContext, Max(ntasks + nexisting, 16), NULL);
	for (i = 0; i < nexisting; i++)
	{
		bool		found;
		McIdEntry  *e = mc_idmap_insert(ids, existing[i].task_id, &found);

		e->task_no = existing[i].task_no;
		e->mark = 0;
	}
	for (i = 0; i < ntasks; i++)
	{
		bool		found;
		McIdEntry  *e = mc_idmap_insert(ids, tasks[i].task_id, &found);

		if (found && e->task_no <= base)
			ereport(ERROR,
					(errcode(ERRCODE_MC_DEPENDENCY),
					 errmsg("duplicate task id \"%s\"", tasks[i].task_id),
					 errdetail("The new task at index %d has the id of a task the workflow already has; task ids must be unique within a workflow.",
							   i)));
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_MC_DEPENDENCY),
					 errmsg("duplicate task id \"%s\"", tasks[i].task_id),
					 errdetail("Tasks at index %d and %d have the same id; task ids must be unique within a workflow.",
							   e->task_no - base - 1, i)));
		e->task_no = base + i + 1;
		e->mark = 0;
	}

	/*
	 * dependencies: known, not self, not repeated (found with a per-task
	 * mark in one pass); count in-degrees among the new tasks
	 */
	dag = palloc(sizeof(McDag));
	dag->ntasks = ntasks;
	dag->base = base;
	dag->dependents_start = palloc0(sizeof(int32) * (ntasks + 1));
	indegree = palloc0(sizeof(int32) * Max(ntasks, 1));
	for (i = 0; i < ntasks; i++)
	{
		McTaskDef  *t = &tasks[i];

		for (d = 0; d < t->ndeps; d++)
		{
			McIdEntry  *e = mc_idmap_lookup(ids, t->dep_ids[d]);

			if (e == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" depends on unknown task \"%s\"",
								t->task_id, t->dep_ids[d]),
						 errhint("Every dependency must be the task_id of a task in the same workflow.")));
			if (e->task_no == base + i + 1)
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" depends on itself", t->task_id)));
			if (e->mark == i + 1)
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" lists dependency \"%s\" more than once",
								t->task_id, t->dep_ids[d])));
			e->mark = i + 1;
			t->deps[d] = e->task_no;
			if (e->task_no > base)
			{
				dag->dependents_start[e->task_no - base]++;
				indegree[i]++;
			}
		}
	}

	/* reverse edges among the new tasks, in compressed rows */
	for (i = 1; i <= ntasks; i++)
		dag->dependents_start[i] += dag->dependents_start[i - 1];
	dag->dependents = palloc(sizeof(int32) * Max(dag->dependents_start[ntasks], 1));
	fill = palloc0(sizeof(int32) * Max(ntasks, 1));
	for (i = 0; i < ntasks; i++)
	{
		for (d = 0; d < tasks[i].ndeps; d++)
		{
			int32		dep = tasks[i].deps[d] - base - 1;

			if (dep >= 0)
				dag->dependents[dag->dependents_start[dep] + fill[dep]++] = base + i + 1;
		}
	}

	/* Kahn's algorithm */
	queue = palloc(sizeof(int32) * Max(ntasks, 1));
	for (i = 0; i < ntasks; i++)
		if (indegree[i] == 0)
			queue[tail++] = i;
	while (head < tail)
	{
		int			t = queue[head++];

		for (d = dag->dependents_start[t]; d < dag->dependents_start[t + 1]; d++)
		{
			int			next = dag->dependents[d] - base - 1;

			if (--indegree[next] == 0)
				queue[tail++] = next;
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (tail < ntasks)
		report_cycle(tasks, ntasks, base, indegree);

	pfree(queue);
	pfree(fill);
	pfree(indegree);
	mc_idmap_destroy(ids);
	return dag;
}
