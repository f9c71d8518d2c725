/*-------------------------------------------------------------------------
 *
 * api_json_schema.h
 *		JSON Schema validation and JSON syntax checking for the rest of the
 *		extension (executors' output schemas, handoff messages).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_API_JSON_SCHEMA_H
#define MC_API_JSON_SCHEMA_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* one way an instance breaks a schema */
typedef struct McSchemaViolation
{
	char	   *pointer;		/* JSON pointer of the value ("" is the root) */
	char	   *keyword_location;	/* the keyword broken, through "$ref" */
	char	   *message;		/* what is wrong, in message style */
} McSchemaViolation;

/* where and why a text is not JSON */
typedef struct McJsonSyntaxError
{
	int			line;			/* from 1 */
	int			column;			/* from 1 */
	int			position;		/* bytes before the error */
	char	   *message;
	bool		too_deep;		/* nested deeper than the parser goes */
} McJsonSyntaxError;

extern List *mc_json_schema_check(Jsonb *schema, Jsonb *instance,
								  int max_errors, bool *truncated);
extern char *mc_json_schema_violations(Jsonb *schema, Jsonb *instance);
extern void mc_json_schema_compile_check(Jsonb *schema);
extern bool mc_json_syntax_check(const char *text, size_t len,
								 McJsonSyntaxError *err);

#endif							/* MC_API_JSON_SCHEMA_H */
