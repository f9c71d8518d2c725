/*-------------------------------------------------------------------------
 *
 * api_template.h
 *		Workflow templates: what schedules need of them, and argument
 *		checks shared with the schedule functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_TEMPLATE_H
#define MC_API_TEMPLATE_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "catalog.h"

extern char *mc_text_arg(FunctionCallInfo fcinfo, int argno, const char *what);
extern void mc_check_name(const char *name, const char *what);
extern bool mc_template_exists(McCatalogSession *session, const char *name);
extern pg_uuid_t *mc_template_start(const char *name, Jsonb *variables,
									 Jsonb *metadata, pg_uuid_t *chosen_id,
									 TimestampTz start_at, int32 priority);

#endif							/* MC_API_TEMPLATE_H */
