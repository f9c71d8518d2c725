/*-------------------------------------------------------------------------
 *
 * api_json_schema.h
 *		JSON Schema validation for the rest of the extension (executors'
 *		output schemas).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_JSON_SCHEMA_H
#define MC_API_JSON_SCHEMA_H

#include "utils/jsonb.h"

extern char *mc_json_schema_violations(Jsonb *schema, Jsonb *instance);

#endif							/* MC_API_JSON_SCHEMA_H */
