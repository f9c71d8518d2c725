/*-------------------------------------------------------------------------
 *
 * ctx.c
 *		Building the execution context (ctx) of an attempt (SPEC 2).
 *
 * The ctx is built in C from the columns a statement selects
 * (MC_CTX_COLUMNS in ctx.h) rather than by nested jsonb_build_object calls
 * in the statement: those look up the type of every argument on every
 * call and build the nested objects only to take them apart again, and
 * they were a tenth of the scheduler's work per task.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "ctx.h"
#include "jsonb_push.h"

/* the columns of MC_CTX_COLUMNS, counted from the first */
enum
{
	CTX_WORKFLOW_ID,
	CTX_ATTEMPT,
	CTX_CONTEXT,
	CTX_VARIABLES,
	CTX_TASK_ID,
	CTX_AGENT_ID,
	CTX_AGENT_TYPE,
	CTX_DEPENDENCIES,
	CTX_MAX_ATTEMPTS,
	CTX_INITIAL_DELAY,
	CTX_MAX_DELAY,
	CTX_EXPONENTIAL_BASE,
	CTX_TIMEOUT,
	CTX_ALLOW_FAILURE,
	CTX_INPUT,
	CTX_METADATA,
	CTX_PREVIOUS_RESULTS,
	CTX_HANDOFFS
};

StaticAssertDecl(CTX_HANDOFFS + 1 == MC_CTX_NCOLUMNS,
				 "MC_CTX_NCOLUMNS must count the columns of MC_CTX_COLUMNS");

/* how push_column adds a column: a string, or a jsonb value or, if NULL, ... */
typedef enum
{
	AS_TEXT,
	AS_JSONB_OR_NULL,			/* ... null */
	AS_JSONB_OR_ARRAY,			/* ... [] */
	AS_JSONB_OR_OBJECT			/* ... {} */
} ColumnKind;

/*
 * push_column
 *		Adds column col of SPI row row under key, as kind says.
 */

static void
push_column(JsonbParseState **state, const char *key, uint64 row, int col,
			ColumnKind kind)
{
	bool		isnull;
	Datum		d = mc_catalog_value(row, col, &isnull);

	mc_jsonb_push_key(state, key);
	if (!isnull && kind == AS_TEXT)
	{
		text	   *t = DatumGetTextPP(d);

		mc_jsonb_push_string(state, WJB_VALUE, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	else if (!isnull)
		mc_jsonb_push_jsonb(state, DatumGetJsonbP(d));
	else if (kind == AS_JSONB_OR_ARRAY)
	{
		(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	else if (kind == AS_JSONB_OR_OBJECT)
	{
		(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	else
		mc_jsonb_push_null(state);
}

/*
 * push_float_column
 *		Adds float8 column col of SPI row row under key (NULL as null).
 */
static void
push_float_column(JsonbParseState **state, const char *key, uint64 row, int col)
{
	bool		isnull;
	Datum		d = mc_catalog_value(row, col, &isnull);

	mc_jsonb_push_key(state, key);
	if (isnull)
		mc_jsonb_push_null(state);
	else
		mc_jsonb_push_float(state, DatumGetFloat8(d));
}

/*
 * push_int_column
 *		Adds int4 column col of SPI row row, never NULL, under key.
 */
static void
push_int_column(JsonbParseState **state, const char *key, uint64 row, int col)
{
	bool		isnull;

	mc_jsonb_push_key(state, key);
	mc_jsonb_push_int(state, DatumGetInt32(mc_catalog_value(row, col, &isnull)));
}

/*
 * mc_ctx_from_row
 *		The ctx of the attempt in SPI result row row, whose MC_CTX_COLUMNS
 *		start at column col (columns count from 1), in the current memory
 *		context:
 *
 *		{workflow_id, attempt, workflow_context, variables,
 *		 task: {task_id, agent_id, agent_type, dependencies,
 *				retry_policy: {max_attempts, initial_delay, max_delay,
 *							   exponential_base},
 *				timeout, allow_failure, input, metadata},
 *		 previous_results, handoffs}
 */
Jsonb *
mc_ctx_from_row(uint64 row, int col)
{
	JsonbParseState *state = NULL;
	JsonbValue *v;
	bool		isnull;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "workflow_id");
	mc_jsonb_push_cstring(&state, WJB_VALUE,
						  DatumGetCString(DirectFunctionCall1(uuid_out,
															  mc_catalog_value(row, col + CTX_WORKFLOW_ID, &isnull))));
	push_int_column(&state, "attempt", row, col + CTX_ATTEMPT);
	push_column(&state, "workflow_context", row, col + CTX_CONTEXT, AS_JSONB_OR_NULL);
	push_column(&state, "variables", row, col + CTX_VARIABLES, AS_JSONB_OR_NULL);

	mc_jsonb_push_key(&state, "task");
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_column(&state, "task_id", row, col + CTX_TASK_ID, AS_TEXT);
	push_column(&state, "agent_id", row, col + CTX_AGENT_ID, AS_TEXT);
	push_column(&state, "agent_type", row, col + CTX_AGENT_TYPE, AS_TEXT);
	push_column(&state, "dependencies", row, col + CTX_DEPENDENCIES, AS_JSONB_OR_ARRAY);
	mc_jsonb_push_key(&state, "retry_policy");
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_int_column(&state, "max_attempts", row, col + CTX_MAX_ATTEMPTS);
	push_float_column(&state, "initial_delay", row, col + CTX_INITIAL_DELAY);
	push_float_column(&state, "max_delay", row, col + CTX_MAX_DELAY);
	push_float_column(&state, "exponential_base", row, col + CTX_EXPONENTIAL_BASE);
	(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	push_float_column(&state, "timeout", row, col + CTX_TIMEOUT);
	mc_jsonb_push_key(&state, "allow_failure");
	mc_jsonb_push_bool(&state, DatumGetBool(mc_catalog_value(row, col + CTX_ALLOW_FAILURE, &isnull)));
	push_column(&state, "input", row, col + CTX_INPUT, AS_JSONB_OR_NULL);
	push_column(&state, "metadata", row, col + CTX_METADATA, AS_JSONB_OR_OBJECT);
	(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	push_column(&state, "previous_results", row, col + CTX_PREVIOUS_RESULTS, AS_JSONB_OR_ARRAY);
	push_column(&state, "handoffs", row, col + CTX_HANDOFFS, AS_JSONB_OR_ARRAY);
	v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(v);
}
