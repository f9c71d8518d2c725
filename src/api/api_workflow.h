/*-------------------------------------------------------------------------
 *
 * api_workflow.h
 *		Defining workflows: the validation and storage behind
 *		create_workflow, shared with templates and add_tasks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_WORKFLOW_H
#define MC_API_WORKFLOW_H

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "dag.h"
#include "taskdef.h"

/* largest max_parallel_tasks */
#define MC_MAX_PARALLEL 10000

extern Jsonb *mc_object_arg(FunctionCallInfo fcinfo, int argno, const char *what);
extern void mc_check_max_parallel(int32 max_parallel);
extern void mc_check_agent_types(McTaskDef *tasks, int ntasks, Oid owner);
extern void mc_insert_tasks(pg_uuid_t *id, Oid owner, McTaskDef *tasks,
							int ntasks, McDag *dag, const int32 *unmet,
							int32 priority);
extern pg_uuid_t *mc_workflow_create(Jsonb *tasks, Jsonb *context,
									 Jsonb *variables, int32 max_parallel,
									 text *name, Jsonb *metadata,
									 pg_uuid_t *chosen_id, int32 priority,
									 bool *created);

#endif							/* MC_API_WORKFLOW_H */
