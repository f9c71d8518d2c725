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
 * The resolved graph: task numbers are 1-based positions (task i of the
 * definitions array is number i + 1).  dependents is the reverse of each
 * task's deps, in compressed form: the dependents of task number k are
 * dependents[dependents_start[k - 1] .. dependents_start[k] - 1].
 */
typedef struct McDag
{
	int			ntasks;
	int32	   *dependents_start;	/* ntasks + 1 entries */
	int32	   *dependents;
} McDag;

extern McDag *mc_dag_resolve(McTaskDef *tasks, int ntasks);

#endif							/* MC_DAG_H */
