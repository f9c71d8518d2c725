/*-------------------------------------------------------------------------
 *
 * dag.c
 *		Validation of a workflow's task graph, in time linear in the number
 *		of tasks plus the number of dependencies.
 *
 * mc_dag_resolve maps every dependency id to a task number (refusing
 * duplicate task ids, unknown, repeated and self dependencies), builds the
 * reverse edges the scheduler follows when a task finishes, and runs
 * Kahn's algorithm to prove the graph acyclic.  When it is not, one cycle
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
 *		already seen) and reports it.
 */
static void
pg_attribute_noreturn()
report_cycle(McTaskDef *tasks, int ntasks, const int32 *indegree)
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
			if (indegree[tasks[cur].deps[d] - 1] > 0)
				break;
		}
		Assert(d < tasks[cur].ndeps);
		cur = tasks[cur].deps[d] - 1;
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
	mc_idmap_hash *ids;
	McDag	   *dag;
	int32	   *indegree;
	int32	   *queue;
	int32	   *fill;
	int			head = 0;
	int			tail = 0;
	int			i;
	int			d;

	/* task ids: unique */
	ids = mc_idmap_create(CurrentMemoryContext, Max(ntasks, 16), NULL);
	for (i = 0; i < ntasks; i++)
	{
		bool		found;
		McIdEntry  *e = mc_idmap_insert(ids, tasks[i].task_id, &found);

		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_MC_DEPENDENCY),
					 errmsg("duplicate task id \"%s\"", tasks[i].task_id),
					 errdetail("Tasks at index %d and %d have the same id; task ids must be unique within a workflow.",
							   e->task_no - 1, i)));
		e->task_no = i + 1;
	}

	/* dependencies: known, not self, not repeated; count in-degrees */
	dag = palloc(sizeof(McDag));
	dag->ntasks = ntasks;
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
			if (e->task_no == i + 1)
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" depends on itself", t->task_id)));
			t->deps[d] = e->task_no;
			dag->dependents_start[e->task_no]++;
		}
		indegree[i] = t->ndeps;
	}

	/* repeated dependencies, found with a per-task mark in one pass */
	fill = palloc0(sizeof(int32) * Max(ntasks, 1));
	for (i = 0; i < ntasks; i++)
	{
		for (d = 0; d < tasks[i].ndeps; d++)
		{
			int32		dep = tasks[i].deps[d] - 1;

			if (fill[dep] == i + 1)
				ereport(ERROR,
						(errcode(ERRCODE_MC_DEPENDENCY),
						 errmsg("task \"%s\" lists dependency \"%s\" more than once",
								tasks[i].task_id, tasks[i].dep_ids[d])));
			fill[dep] = i + 1;
		}
	}

	/* reverse edges, in compressed rows */
	for (i = 1; i <= ntasks; i++)
		dag->dependents_start[i] += dag->dependents_start[i - 1];
	dag->dependents = palloc(sizeof(int32) * Max(dag->dependents_start[ntasks], 1));
	memset(fill, 0, sizeof(int32) * Max(ntasks, 1));
	for (i = 0; i < ntasks; i++)
	{
		for (d = 0; d < tasks[i].ndeps; d++)
		{
			int32		dep = tasks[i].deps[d] - 1;

			dag->dependents[dag->dependents_start[dep] + fill[dep]++] = i + 1;
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
			int			next = dag->dependents[d] - 1;

			if (--indegree[next] == 0)
				queue[tail++] = next;
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (tail < ntasks)
		report_cycle(tasks, ntasks, indegree);

	pfree(queue);
	pfree(fill);
	pfree(indegree);
	mc_idmap_destroy(ids);
	return dag;
}
