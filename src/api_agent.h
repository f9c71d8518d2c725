/*-------------------------------------------------------------------------
 *
 * api_agent.h
 *		Argument and message helpers of the external agents' API
 *		(api_agent.c), shared with release_task (api_release.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_AGENT_H
#define MC_API_AGENT_H

#include "fmgr.h"
#include "utils/uuid.h"

extern char *mc_worker_id_arg(FunctionCallInfo fcinfo, int argno);
extern char *mc_uuid_string(pg_uuid_t *id);

#endif							/* MC_API_AGENT_H */
