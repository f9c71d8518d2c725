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

#include "utils/uuid.h"

extern int64 mc_workflow_start(pg_uuid_t *id);

#endif							/* MC_API_CONTROL_H */
