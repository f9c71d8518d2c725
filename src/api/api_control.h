/*-------------------------------------------------------------------------
 *
 * api_control.h
 *		Running workflows: what other parts of the extension call to
 *		start one (templates and schedules start their workflows).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_CONTROL_H
#define MC_API_CONTROL_H

#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "catalog.h"

extern int64 mc_workflow_start(pg_uuid_t *id);
extern int64 mc_workflow_start_at(pg_uuid_t *id, TimestampTz start_at);
extern int	mc_start_due_workflows(McCatalogSession *session, TimestampTz now, int max);

#endif							/* MC_API_CONTROL_H */
