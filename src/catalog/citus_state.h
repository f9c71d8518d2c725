/*-------------------------------------------------------------------------
 *
 * citus_state.h
 *		The state manager's statements that end or roll back many of a
 *		workflow's tasks at once, as they run on Citus
 *		(src/catalog/citus_state.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_CITUS_STATE_H
#define MC_CITUS_STATE_H

#include "catalog.h"
#include "state.h"

extern uint64 mc_citus_skip_descendants(McCatalogSession *session,
										McWorkflow *wf, Datum dependents,
										const char *event);
extern uint64 mc_citus_end_open_tasks(McCatalogSession *session,
									  McWorkflow *wf, const char *rest,
									  const char *event);
extern void mc_citus_rollback_tasks(McCatalogSession *session, McWorkflow *wf,
									int64 target, const char *event);

#endif							/* MC_CITUS_STATE_H */
