/*-------------------------------------------------------------------------
 *
 * api_agent.h
 *		Argument and message helpers of the external agents' API
 *		(api_agent.c), and how its calls hold the tasks they name, shared
 *		with release_task (api_release.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_AGENT_H
#define MC_API_AGENT_H

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "state.h"

/* a task an agent's call names, and what the call finds of it */
typedef struct McAgentTask
{
	pg_uuid_t	workflow_id;
	McWorkflow *wf;				/* its workflow, locked */
	McTask		task;
	char	   *agent_type;
	Jsonb	   *output_schema;	/* the agent type's, or NULL */
	Jsonb	   *result;			/* for a completion: the result given */
	McTaskStatus outcome;		/* for a completion: the task's new status */
} McAgentTask;

extern bool mc_synchronous_claims;

extern Datum *mc_array_arg(FunctionCallInfo fcinfo, int argno, const char *name,
						   Oid elemtype, int *n, bool **nulls);
extern char *mc_worker_id_arg(FunctionCallInfo fcinfo, int argno);
extern char *mc_uuid_string(pg_uuid_t *id);
extern McWorkflow *mc_hold_agent_tasks(McCatalogSession *session,
									   const char *worker_id,
									   McAgentTask *ats, int n, int *nwfs,
									   const char *hint);

#endif							/* MC_API_AGENT_H */
