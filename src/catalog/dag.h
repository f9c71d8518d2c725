/*-------------------------------------------------------------------------
 *
 * dag.h
 *		Validation of a workflow's task graph.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_DAG_H
#define MC_DAG_H

#include "taskdef.h"

/*
 * The resolved graph: task numbers are 1-based and follow the tasks the
 * workflow already has (task i of the definitions array is number
 * base + i + 1; base is 0 for a new workflow).  dependents is the reverse
 * of each new task's deps among the new tasks, in compressed form: the
 * dependents of task index i are
 * dependents[dependents_start[i] .. dependents_start[i + 1] - 1].
 */
typedef struct McDag
{
	int			ntasks;
	int32		base;			/* tasks the workflow had before these */
	int32	   *dependents_start;	/* ntasks + 1 entries */
	int32	   *dependents;
} McDag;

/* a task the workflow already has, that new tasks may depend on */
typedef struct McDagExisting
{
	const char *task_id;
	int32		task_no;
} McDagExisting;

extern McDag *mc_dag_resolve(McTaskDef *tasks, int ntasks);
extern McDag *mc_dag_resolve_onto(McTaskDef *tasks, int ntasks, int32 base,
								  McDagExisting *existing, int nexisting);

#endif							/* MC_DAG_H */
