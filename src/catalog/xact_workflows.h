/*-------------------------------------------------------------------------
 *
 * xact_workflows.h
 *		The workflows the current transaction created or locked
 *		(src/catalog/xact_workflows.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_XACT_WORKFLOWS_H
#define MC_XACT_WORKFLOWS_H

#include "utils/uuid.h"

extern void mc_xact_workflow_held(const pg_uuid_t *id);
extern bool mc_xact_workflow_is_held(const pg_uuid_t *id);

#endif							/* MC_XACT_WORKFLOWS_H */
