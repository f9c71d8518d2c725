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
 * The dependencies' results (previous_results) are read by one statement
 * for all the rows of the statement that hands out the attempts, each
 * dependency once however many of the attempts depend on it, rather than
 * by a lateral aggregate per attempt: ordered aggregates sort each
 * attempt's few rows, and that sort's set-up cost as much as the rest of
 * the statement that locks a batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "ctx.h"
#include "jsonb_push.h"
#include "state.h"

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
	CTX_HANDOFFS
};

StaticAssertDecl(CTX_HANDOFFS + 1 == MC_CTX_NCOLUMNS,
				 "MC_CTX_NCOLUMNS must count the columns of MC_CTX_COLUMNS");

/* how push_datum adds a value: a string, or a jsonb value or, if NULL, ... */
typedef enum
{
	AS_TEXT,
	AS_JSONB_OR_NULL,			/* ... null */
	AS_JSONB_OR_ARRAY,			/* ... [] */
	AS_JSONB_OR_OBJECT			/* ... {} */
} ColumnKind;

/* the columns of the statement mc_ctx_dependencies runs */
enum
{
	DEP_WORKFLOW_ID = 1,
	DEP_TASK_NO,
	DEP_TASK_ID,
	DEP_AGENT_ID,
	DEP_AGENT_TYPE,
	DEP_STATUS,
	DEP_RESULT,
	DEP_ERROR
};

/* one dependency's row, found by workflow and task number */
typedef struct CtxDependency
{
	pg_uuid_t	workflow_id;
	int32		task_no;
	HeapTuple	row;
} CtxDependency;

struct McCtxDependencies
{
	TupleDesc	tupdesc;
	CtxDependency *deps;		/* by workflow_id, task_no */
	int			ndeps;
	/* for each row of the statement, its dependencies' task numbers */
	int32	  **nos;			/* sorted: the order of the ctx's lists */
	int		   *nnos;
	uint64		nrows;
};

/*
 * dependency_cmp
 *		qsort and bsearch comparator of CtxDependency by workflow, then task
 *		number.
 */
static int
dependency_cmp(const void *a, const void *b)
{
	const CtxDependency *x = a;
	const CtxDependency *y = b;

	return mc_task_key_cmp(&x->workflow_id, x->task_no, &y->workflow_id, y->task_no);
}

/*
 * int32_cmp
 *		qsort comparator of int32.
 */
static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * dependency_numbers
 *		The task numbers in the dependencies column of SPI row row, sorted
 *		(the order of the ctx's lists), into *nos; returns how many.
 */
static int
dependency_numbers(uint64 row, int col, int32 **nos)
{
	bool		isnull;
	Datum		d = mc_catalog_value(row, col + CTX_DEPENDENCIES, &isnull);
	ArrayType  *a;
	int			n;

	*nos = NULL;
	if (isnull)
		return 0;
	a = DatumGetArrayTypeP(d);
	if (ARR_ELEMTYPE(a) != INT4OID || ARR_HASNULL(a) || ARR_NDIM(a) > 1)
		elog(ERROR, "malformed dependencies array");
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (n == 0)
		return 0;
	*nos = palloc(sizeof(int32) * n);
	memcpy(*nos, ARR_DATA_PTR(a), sizeof(int32) * n);
	qsort(*nos, n, sizeof(int32), int32_cmp);
	return n;
}

/*
 * mc_ctx_dependencies
 *		Reads the dependencies of the attempts in the rows of the last
 *		statement, whose MC_CTX_COLUMNS start at column col, with one
 *		statement, each dependency once.  The last statement's result is
 *		left as it was, to be read on by mc_ctx_from_row.
 */
McCtxDependencies *
mc_ctx_dependencies(uint64 rows, int col)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID};
	McCtxDependencies *result = palloc0(sizeof(McCtxDependencies));
	CtxDependency *keys = NULL;
	int			nkeys = 0;
	int			size = 0;
	int			nunique = 0;
	Datum	   *ids;
	Datum	   *nos;
	Datum		values[2];
	McCatalogResult kept;
	uint64		n;
	uint64		r;
	int			i;

	result->nrows = rows;
	result->nos = palloc(sizeof(int32 *) * Max(rows, 1));
	result->nnos = palloc(sizeof(int) * Max(rows, 1));
	for (r = 0; r < rows; r++)
	{
		int32	   *deps;
		int			ndeps = dependency_numbers(r, col, &deps);
		bool		isnull;
		pg_uuid_t  *id;

		result->nos[r] = deps;
		result->nnos[r] = ndeps;
		if (ndeps == 0)
			continue;
		id = DatumGetUUIDP(mc_catalog_value(r, col + CTX_WORKFLOW_ID, &isnull));
		if (nkeys + ndeps > size)
		{
			size = Max(size * 2, nkeys + ndeps);
			keys = keys == NULL ? palloc(sizeof(CtxDependency) * size)
				: repalloc(keys, sizeof(CtxDependency) * size);
		}
		for (i = 0; i < ndeps; i++)
		{
			keys[nkeys].workflow_id = *id;
			keys[nkeys].task_no = deps[i];
			nkeys++;
		}
	}
	if (nkeys == 0)
		return result;

	qsort(keys, nkeys, sizeof(CtxDependency), dependency_cmp);
	ids = palloc(sizeof(Datum) * nkeys);
	nos = palloc(sizeof(Datum) * nkeys);
	for (i = 0; i < nkeys; i++)
	{
		if (nunique > 0 && dependency_cmp(&keys[i], &keys[nunique - 1]) == 0)
			continue;
		keys[nunique] = keys[i];
		ids[nunique] = UUIDPGetDatum(&keys[nunique].workflow_id);
		nos[nunique] = Int32GetDatum(keys[nunique].task_no);
		nunique++;
	}
	values[0] = mc_catalog_array(ids, nunique, UUIDOID);
	values[1] = mc_catalog_array(nos, nunique, INT4OID);

	mc_catalog_result_keep(&kept);
	n = mc_catalog_run(MC_PLAN_CTX_DEPENDENCIES,
					   "SELECT d.workflow_id, d.task_no, d.task_id, d.agent_id, d.agent_type, "
					   "  d.status::pg_catalog.text, d.result, d.error "
					   "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
					   "  pg_catalog.unnest($2::pg_catalog.int4[])) AS c(workflow_id, task_no) "
					   "JOIN mycelium.task_states d ON d.workflow_id = c.workflow_id "
					   "  AND d.task_no = c.task_no",
					   2, argtypes, values, NULL, 0);
	result->tupdesc = SPI_tuptable->tupdesc;
	result->deps = palloc(sizeof(CtxDependency) * Max(n, 1));
	for (r = 0; r < n; r++)
	{
		CtxDependency *dep = &result->deps[r];
		bool		isnull;

		dep->workflow_id = *DatumGetUUIDP(mc_catalog_value(r, DEP_WORKFLOW_ID, &isnull));
		dep->task_no = DatumGetInt32(mc_catalog_value(r, DEP_TASK_NO, &isnull));
		dep->row = SPI_tuptable->vals[r];
	}
	result->ndeps = (int) n;
	qsort(result->deps, result->ndeps, sizeof(CtxDependency), dependency_cmp);
	mc_catalog_result_restore(&kept);
	return result;
}

/*
 * push_datum
 *		Adds a text or jsonb value under key, as kind says.
 */
static void
push_datum(JsonbParseState **state, const char *key, Datum d, bool isnull,
		   ColumnKind kind)
{
	mc_jsonb_push_key(state, key);
	if (!isnull && kind == AS_TEXT)
		mc_jsonb_push_text(state, WJB_VALUE, DatumGetTextPP(d));
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
 * push_column
 *		Adds column col of SPI row row under key, as kind says.
 */
static void
push_column(JsonbParseState **state, const char *key, uint64 row, int col,
			ColumnKind kind)
{
	bool		isnull;
	Datum		d = mc_catalog_value(row, col, &isnull);

	push_datum(state, key, d, isnull, kind);
}

/*
 * push_dependency_column
 *		Adds column col of a dependency's row under key, as kind says.
 */
static void
push_dependency_column(JsonbParseState **state, McCtxDependencies *deps,
					   CtxDependency *dep, const char *key, int col, ColumnKind kind)
{
	bool		isnull;
	Datum		d = SPI_getbinval(dep->row, deps->tupdesc, col, &isnull);

	push_datum(state, key, d, isnull, kind);
}

/*
 * find_dependencies
 *		The rows of the dependencies of the attempt in SPI row row, in task
 *		order (that of the ctx's lists), into *mine; returns how many.
 */
static int
find_dependencies(uint64 row, int col, McCtxDependencies *deps,
				  CtxDependency ***mine)
{
	int32	   *nos;
	int			n;
	bool		isnull;
	pg_uuid_t  *id;
	int			i;

	Assert(row < deps->nrows);
	nos = deps->nos[row];
	n = deps->nnos[row];
	*mine = NULL;
	if (n == 0)
		return 0;
	*mine = palloc(sizeof(CtxDependency *) * n);
	id = DatumGetUUIDP(mc_catalog_value(row, col + CTX_WORKFLOW_ID, &isnull));
	for (i = 0; i < n; i++)
	{
		CtxDependency key;
		CtxDependency *found = NULL;

		key.workflow_id = *id;
		key.task_no = nos[i];
		if (deps->ndeps > 0)
			found = bsearch(&key, deps->deps, deps->ndeps, sizeof(CtxDependency),
							dependency_cmp);
		if (found == NULL)
			elog(ERROR, "dependency %d of a task of workflow %s not found", nos[i],
				 DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id))));
		(*mine)[i] = found;
	}
	return n;
}

/*
 * push_dependencies
 *		Adds the list of the dependencies' task ids under "dependencies" or,
 *		with results, the list of their {task_id, agent_id, agent_type,
 *		status, result, error} under "previous_results".
 */
static void
push_dependencies(JsonbParseState **state, McCtxDependencies *deps,
				  CtxDependency **mine, int n, bool results)
{
	int			i;

	mc_jsonb_push_key(state, results ? "previous_results" : "dependencies");
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		if (results)
		{
			(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			push_dependency_column(state, deps, mine[i], "task_id", DEP_TASK_ID, AS_TEXT);
			push_dependency_column(state, deps, mine[i], "agent_id", DEP_AGENT_ID, AS_TEXT);
			push_dependency_column(state, deps, mine[i], "agent_type", DEP_AGENT_TYPE, AS_TEXT);
			push_dependency_column(state, deps, mine[i], "status", DEP_STATUS, AS_TEXT);
			push_dependency_column(state, deps, mine[i], "result", DEP_RESULT, AS_JSONB_OR_NULL);
			push_dependency_column(state, deps, mine[i], "error", DEP_ERROR, AS_TEXT);
			(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
			continue;
		}
		mc_jsonb_push_text(state, WJB_ELEM,
						   DatumGetTextPP(SPI_getbinval(mine[i]->row, deps->tupdesc,
														DEP_TASK_ID, &isnull)));
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
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
 *		start at column col (columns count from 1), with its dependencies
 *		from deps (mc_ctx_dependencies of the same rows), in the current
 *		memory context:
 *
 *		{workflow_id, attempt, workflow_context, variables,
 *		 task: {task_id, agent_id, agent_type, dependencies,
 *				retry_policy: {max_attempts, initial_delay, max_delay,
 *							   exponential_base},
 *				timeout, allow_failure, input, metadata},
 *		 previous_results, handoffs}
 */
Jsonb *
mc_ctx_from_row(uint64 row, int col, McCtxDependencies *deps)
{
	JsonbParseState *state = NULL;
	JsonbValue *v;
	bool		isnull;
	CtxDependency **mine;
	int			nmine = find_dependencies(row, col, deps, &mine);

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
	push_dependencies(&state, deps, mine, nmine, false);
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

	push_dependencies(&state, deps, mine, nmine, true);
	push_column(&state, "handoffs", row, col + CTX_HANDOFFS, AS_JSONB_OR_ARRAY);
	v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(v);
}
