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
 * What the ctx takes from other rows is read by mc_ctx_sources for all the
 * rows of the statement that hands out the attempts, with one statement
 * per kind of row, each row once however many attempts share it: the
 * workflows' context and variables, the dependencies' results
 * (previous_results), and the handoff messages to each (workflow, agent).
 * Read by lateral joins per attempt instead, the same workflow row was
 * fetched for each of its attempts, and the ordered aggregates sorted each
 * attempt's few rows; together they were a third of the statement that
 * locks a batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/detoast.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "citus.h"
#include "ctx.h"
#include "jsonb_push.h"
#include "mycelium.h"
#include "state.h"

/*
 * CTX_PLAN, CTX_SQL
 *		The statements that read what a ctx takes from other rows join the
 *		rows' keys, unnested, with a workflow table t.  Citus cannot tell
 *		from such a join which shards to read, so it reads all of them, at
 *		every batch: there the statement also says that t's workflow_id is
 *		one of the keys' ($1), which Citus reads the shards of (one, for a
 *		batch of one workflow).  CTX_PLAN is the plan slot of the form to
 *		run, CTX_SQL its text: sql, on Citus that condition on t, then tail.
 */
#define CTX_PLAN(id) (mc_citus_present() ? id##_CITUS : id)
#define CTX_SQL(sql, t, tail) \
	(mc_citus_present() ? \
	 sql " WHERE " t ".workflow_id = ANY ($1::pg_catalog.uuid[])" tail : sql tail)

/* the columns of MC_CTX_COLUMNS, counted from the first */
enum
{
	CTX_WORKFLOW_ID,
	CTX_ATTEMPT,
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
	CTX_METADATA
};

StaticAssertDecl(CTX_METADATA + 1 == MC_CTX_NCOLUMNS,
				 "MC_CTX_NCOLUMNS must count the columns of MC_CTX_COLUMNS");

/* how push_datum adds a value: a string, or a jsonb value or, if NULL, ... */
typedef enum
{
	AS_TEXT,
	AS_JSONB_OR_NULL,			/* ... null */
	AS_JSONB_OR_OBJECT			/* ... {} */
} ColumnKind;

/* the columns of MC_CTX_INLINE_COLUMNS, counted from the first */
enum
{
	INLINE_CONTEXT,
	INLINE_VARIABLES,
	INLINE_HANDOFFS
};

StaticAssertDecl(INLINE_HANDOFFS + 1 == MC_CTX_INLINE_NCOLUMNS,
				 "MC_CTX_INLINE_NCOLUMNS must count the columns of MC_CTX_INLINE_COLUMNS");

/* the columns of the statement read_dependencies runs */
enum
{
	DEP_N = 1,
	DEP_TASK_ID,
	DEP_AGENT_ID,
	DEP_AGENT_TYPE,
	DEP_STATUS,
	DEP_RESULT,
	DEP_ERROR
};

/* the columns of the statement read_workflows runs */
enum
{
	WF_N = 1,
	WF_CONTEXT,
	WF_VARIABLES
};

/* the columns of the statement read_handoffs runs */
enum
{
	MSG_N = 1,
	MSG_MESSAGE
};

/* one dependency's row, found by workflow and task number */
typedef struct CtxDependency
{
	pg_uuid_t	workflow_id;
	int32		task_no;
	HeapTuple	row;			/* NULL: not found */
} CtxDependency;

/* a statement row's workflow, or (with agent_id) its workflow and agent */
typedef struct CtxKey
{
	pg_uuid_t	workflow_id;
	text	   *agent_id;		/* NULL: the workflow's key */
	text	   *agent_type;
	uint64		row;			/* the statement row it is of */
} CtxKey;

struct McCtxSources
{
	uint64		nrows;			/* the statement's rows */
	/* MC_CTX_INLINE_COLUMNS' first column in the rows (0: not selected) */
	int			inline_col;
	/* for each row, its dependencies' task numbers */
	int32	  **nos;			/* sorted: the order of the ctx's lists */
	int		   *nnos;
	/* the dependencies, each once, by workflow_id, task_no, with their rows */
	TupleDesc	dep_tupdesc;
	CtxDependency *deps;
	int			ndeps;
	/* for each row, its workflow's row (NULL: none) */
	TupleDesc	wf_tupdesc;
	HeapTuple  *workflow;
	/* for each row, the messages to its agent: messages[first..first+n) */
	TupleDesc	msg_tupdesc;
	HeapTuple  *messages;
	uint64	   *first_message;
	int		   *nmessages;
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
 * text_cmp
 *		Byte order of two texts (the order of COLLATE "C").
 */
static int
text_cmp(text *x, text *y)
{
	int			lx = VARSIZE_ANY_EXHDR(x);
	int			ly = VARSIZE_ANY_EXHDR(y);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/*
 * key_cmp
 *		qsort comparator of CtxKey: by workflow, then agent id and type.
 */
static int
key_cmp(const void *a, const void *b)
{
	const CtxKey *x = a;
	const CtxKey *y = b;
	int			c = mc_uuid_cmp(&x->workflow_id, &y->workflow_id);

	if (c != 0 || x->agent_id == NULL)
		return c;
	c = text_cmp(x->agent_id, y->agent_id);
	return c != 0 ? c : text_cmp(x->agent_type, y->agent_type);
}

/*
 * number_keys
 *		Sorts the n keys of the statement's rows and numbers the distinct
 *		ones from 0: unique[row] is the number of each row's key.  Returns
 *		how many are distinct; they are left first in keys, in that order.
 */
static int
number_keys(CtxKey *keys, int n, int *unique)
{
	int			nunique = 0;
	int			i;

	qsort(keys, n, sizeof(CtxKey), key_cmp);
	for (i = 0; i < n; i++)
	{
		uint64		row = keys[i].row;

		if (nunique == 0 || key_cmp(&keys[i], &keys[nunique - 1]) != 0)
			keys[nunique++] = keys[i];
		unique[row] = nunique - 1;
	}
	return nunique;
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
	int32	   *elems;
	int			n;

	*nos = NULL;
	if (isnull)
		return 0;
	elems = mc_catalog_int4_elems(DatumGetArrayTypeP(d), &n);
	if (n == 0)
		return 0;
	*nos = palloc(sizeof(int32) * n);
	memcpy(*nos, elems, sizeof(int32) * n);
	qsort(*nos, n, sizeof(int32), int32_cmp);
	return n;
}

/*
 * dependency_keys
 *		The dependencies of the statement's rows, whose MC_CTX_COLUMNS
 *		start at column col, each once, in workflow and task order, into
 *		*keys (their rows not read yet); returns how many.  Keeps each
 *		row's in sources.
 */
static int
dependency_keys(McCtxSources *sources, int col, CtxDependency **keys)
{
	int			nkeys = 0;
	int			size = 0;
	int			nunique = 0;
	uint64		r;
	int			i;

	*keys = NULL;
	for (r = 0; r < sources->nrows; r++)
	{
		int32	   *deps;
		int			ndeps = dependency_numbers(r, col, &deps);
		bool		isnull;
		pg_uuid_t  *id;

		sources->nos[r] = deps;
		sources->nnos[r] = ndeps;
		if (ndeps == 0)
			continue;
		id = DatumGetUUIDP(mc_catalog_value(r, col + CTX_WORKFLOW_ID, &isnull));
		if (nkeys + ndeps > size)
		{
			size = Max(size * 2, nkeys + ndeps);
			*keys = *keys == NULL ? palloc(sizeof(CtxDependency) * size)
				: repalloc(*keys, sizeof(CtxDependency) * size);
		}
		for (i = 0; i < ndeps; i++)
		{
			(*keys)[nkeys].workflow_id = *id;
			(*keys)[nkeys].task_no = deps[i];
			(*keys)[nkeys].row = NULL;
			nkeys++;
		}
	}
	if (nkeys == 0)
		return 0;
	qsort(*keys, nkeys, sizeof(CtxDependency), dependency_cmp);
	for (i = 0; i < nkeys; i++)
	{
		if (nunique == 0 || dependency_cmp(&(*keys)[i], &(*keys)[nunique - 1]) != 0)
			(*keys)[nunique++] = (*keys)[i];
	}
	return nunique;
}

/*
 * read_dependencies
 *		Reads the rows of the n dependencies in keys (dependency_keys), and
 *		keeps them in sources.
 */
static void
read_dependencies(McCtxSources *sources, CtxDependency *keys, int n)
{
	static const Oid argtypes[] = {UUIDARRAYOID, INT4ARRAYOID};
	Datum	   *ids;
	Datum	   *nos;
	Datum		values[2];
	uint64		rows;
	uint64		r;
	int			i;

	sources->deps = keys;
	sources->ndeps = n;
	if (n == 0)
		return;
	ids = palloc(sizeof(Datum) * n);
	nos = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		ids[i] = UUIDPGetDatum(&keys[i].workflow_id);
		nos[i] = Int32GetDatum(keys[i].task_no);
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(nos, n, INT4OID);
	rows = mc_catalog_run(CTX_PLAN(MC_PLAN_CTX_DEPENDENCIES),
						  CTX_SQL("SELECT c.n, d.task_id, d.agent_id, d.agent_type, "
								  "  d.status::pg_catalog.text, d.result, d.error "
								  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
								  "  pg_catalog.unnest($2::pg_catalog.int4[])) "
								  "  WITH ORDINALITY AS c(workflow_id, task_no, n) "
								  "JOIN mycelium.task_states d ON d.workflow_id = c.workflow_id "
								  "  AND d.task_no = c.task_no", "d", ""),
						  2, argtypes, values, NULL, 0);
	sources->dep_tupdesc = SPI_tuptable->tupdesc;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;

		keys[DatumGetInt64(mc_catalog_value(r, DEP_N, &isnull)) - 1].row = SPI_tuptable->vals[r];
	}
}

/*
 * read_workflows
 *		Reads the workflow row of each of the statement's rows, whose
 *		workflow keys (in row order) are keys, into sources.
 */
static void
read_workflows(McCtxSources *sources, CtxKey *keys)
{
	static const Oid argtypes[] = {UUIDARRAYOID};
	int		   *unique = palloc(sizeof(int) * sources->nrows);
	int			n = number_keys(keys, (int) sources->nrows, unique);
	HeapTuple  *found = palloc0(sizeof(HeapTuple) * n);
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum		values[1];
	uint64		rows;
	uint64		r;
	int			i;

	for (i = 0; i < n; i++)
		ids[i] = UUIDPGetDatum(&keys[i].workflow_id);
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	rows = mc_catalog_run(CTX_PLAN(MC_PLAN_CTX_WORKFLOWS),
						  CTX_SQL("SELECT c.n, s.context, s.variables "
								  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[])) "
								  "  WITH ORDINALITY AS c(workflow_id, n) "
								  "JOIN mycelium.workflow_states s ON s.workflow_id = c.workflow_id", "s", ""),
						  1, argtypes, values, NULL, 0);
	sources->wf_tupdesc = SPI_tuptable->tupdesc;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;

		found[DatumGetInt64(mc_catalog_value(r, WF_N, &isnull)) - 1] = SPI_tuptable->vals[r];
	}
	for (r = 0; r < sources->nrows; r++)
		sources->workflow[r] = found[unique[r]];
}

/*
 * read_handoffs
 *		Reads the handoff messages to the agent of each of the statement's
 *		rows, whose (workflow, agent) keys (in row order) are keys, into
 *		sources: in the order they were sent.
 */
static void
read_handoffs(McCtxSources *sources, CtxKey *keys)
{
	static const Oid argtypes[] = {UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	int		   *unique = palloc(sizeof(int) * sources->nrows);
	int			n = number_keys(keys, (int) sources->nrows, unique);
	uint64	   *first = palloc0(sizeof(uint64) * n);
	int		   *count = palloc0(sizeof(int) * n);
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *agent_ids = palloc(sizeof(Datum) * n);
	Datum	   *agent_types = palloc(sizeof(Datum) * n);
	Datum		values[3];
	uint64		rows;
	uint64		r;
	int			i;

	for (i = 0; i < n; i++)
	{
		ids[i] = UUIDPGetDatum(&keys[i].workflow_id);
		agent_ids[i] = PointerGetDatum(keys[i].agent_id);
		agent_types[i] = PointerGetDatum(keys[i].agent_type);
	}
	values[0] = mc_catalog_array(ids, n, UUIDOID);
	values[1] = mc_catalog_array(agent_ids, n, TEXTOID);
	values[2] = mc_catalog_array(agent_types, n, TEXTOID);
	rows = mc_catalog_run(CTX_PLAN(MC_PLAN_CTX_HANDOFFS),
						  CTX_SQL("SELECT c.n, m.message "
								  "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.uuid[]), "
								  "  pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) "
								  "  WITH ORDINALITY AS c(workflow_id, agent_id, agent_type, n) "
								  "JOIN mycelium.handoffs m ON m.workflow_id = c.workflow_id "
								  "  AND m.target_agent_id = c.agent_id COLLATE \"C\" "
								  "  AND m.target_agent_type = c.agent_type COLLATE \"C\"",
								  "m", " ORDER BY c.n, m.seq"),
						  3, argtypes, values, NULL, 0);
	sources->msg_tupdesc = SPI_tuptable->tupdesc;
	sources->messages = SPI_tuptable->vals;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		int64		k = DatumGetInt64(mc_catalog_value(r, MSG_N, &isnull)) - 1;

		if (count[k]++ == 0)
			first[k] = r;
	}
	for (r = 0; r < sources->nrows; r++)
	{
		sources->first_message[r] = first[unique[r]];
		sources->nmessages[r] = count[unique[r]];
	}
}

/*
 * mc_ctx_sources
 *		Reads what the ctx of the attempts in the rows of the last
 *		statement, whose MC_CTX_COLUMNS start at column col, takes from
 *		other rows: three statements at most, each row read once.  The last
 *		statement's result is left as it was, to be read on by
 *		mc_ctx_from_row.
 */
McCtxSources *
mc_ctx_sources(uint64 rows, int col)
{
	McCtxSources *sources = palloc0(sizeof(McCtxSources));
	CtxKey	   *workflows;
	CtxKey	   *agents;
	CtxDependency *deps;
	int			ndeps;
	McCatalogResult kept;
	uint64		r;

	sources->nrows = rows;
	if (rows == 0)
		return sources;
	sources->nos = palloc(sizeof(int32 *) * rows);
	sources->nnos = palloc(sizeof(int) * rows);
	sources->workflow = palloc(sizeof(HeapTuple) * rows);
	sources->first_message = palloc(sizeof(uint64) * rows);
	sources->nmessages = palloc(sizeof(int) * rows);

	/* the keys, read from the statement's rows while they are current */
	workflows = palloc(sizeof(CtxKey) * rows);
	agents = palloc(sizeof(CtxKey) * rows);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(mc_catalog_value(r, col + CTX_WORKFLOW_ID, &isnull));

		workflows[r].workflow_id = *id;
		workflows[r].agent_id = NULL;
		workflows[r].agent_type = NULL;
		workflows[r].row = r;
		agents[r].workflow_id = *id;
		agents[r].agent_id = DatumGetTextPP(mc_catalog_value(r, col + CTX_AGENT_ID, &isnull));
		agents[r].agent_type = DatumGetTextPP(mc_catalog_value(r, col + CTX_AGENT_TYPE, &isnull));
		agents[r].row = r;
	}
	ndeps = dependency_keys(sources, col, &deps);

	mc_catalog_result_keep(&kept);
	read_workflows(sources, workflows);
	read_handoffs(sources, agents);
	read_dependencies(sources, deps, ndeps);
	mc_catalog_result_restore(&kept);
	return sources;
}

/*
 * mc_ctx_sources_inline
 *		mc_ctx_sources for a statement whose rows select
 *		MC_CTX_INLINE_COLUMNS right after their MC_CTX_COLUMNS (which start
 *		at column col): only the dependencies' rows are read, by a
 *		statement of their own, and none when no attempt has dependencies.
 */
McCtxSources *
mc_ctx_sources_inline(uint64 rows, int col)
{
	McCtxSources *sources = palloc0(sizeof(McCtxSources));
	CtxDependency *deps;
	int			ndeps;
	McCatalogResult kept;

	sources->nrows = rows;
	sources->inline_col = col + MC_CTX_NCOLUMNS;
	if (rows == 0)
		return sources;
	sources->nos = palloc(sizeof(int32 *) * rows);
	sources->nnos = palloc(sizeof(int) * rows);
	ndeps = dependency_keys(sources, col, &deps);
	if (ndeps == 0)
		return sources;
	mc_catalog_result_keep(&kept);
	read_dependencies(sources, deps, ndeps);
	mc_catalog_result_restore(&kept);
	return sources;
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
		mc_jsonb_push_jsonb(state, WJB_VALUE, DatumGetJsonbP(d));
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
 * push_source_column
 *		Adds column col of tuple, a row read by mc_ctx_sources (of
 *		descriptor tupdesc), under key, as kind says.
 */
static void
push_source_column(JsonbParseState **state, const char *key, HeapTuple tuple,
				   TupleDesc tupdesc, int col, ColumnKind kind)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, tupdesc, col, &isnull);

	push_datum(state, key, d, isnull, kind);
}

/*
 * push_handoffs
 *		Adds the list of the handoff messages to the agent of SPI row row
 *		under "handoffs".
 */
static void
push_handoffs(JsonbParseState **state, McCtxSources *sources, uint64 row)
{
	uint64		first;
	int			i;

	mc_jsonb_push_key(state, "handoffs");
	if (sources->inline_col > 0)
	{
		bool		isnull;
		Datum		d = mc_catalog_value(row, sources->inline_col + INLINE_HANDOFFS, &isnull);

		/* the messages' array as selected (NULL: none) */
		if (!isnull)
		{
			mc_jsonb_push_jsonb(state, WJB_VALUE, DatumGetJsonbP(d));
			return;
		}
		(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
		return;
	}
	first = sources->first_message[row];
	(void) pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < sources->nmessages[row]; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(sources->messages[first + i], sources->msg_tupdesc,
									  MSG_MESSAGE, &isnull);

		if (isnull)
			mc_jsonb_push_null(state);
		else
			mc_jsonb_push_jsonb(state, WJB_ELEM, DatumGetJsonbP(d));
	}
	(void) pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * find_dependencies
 *		The rows of the dependencies of the attempt in SPI row row, in task
 *		order (that of the ctx's lists), into *mine; returns how many.
 */
static int
find_dependencies(uint64 row, int col, McCtxSources *sources,
				  CtxDependency ***mine)
{
	int32	   *nos;
	int			n;
	bool		isnull;
	pg_uuid_t  *id;
	int			i;

	Assert(row < sources->nrows);
	nos = sources->nos[row];
	n = sources->nnos[row];
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
		if (sources->ndeps > 0)
			found = bsearch(&key, sources->deps, sources->ndeps, sizeof(CtxDependency),
							dependency_cmp);
		if (found == NULL || found->row == NULL)
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
push_dependencies(JsonbParseState **state, McCtxSources *sources,
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
			push_source_column(state, "task_id", mine[i]->row, sources->dep_tupdesc, DEP_TASK_ID, AS_TEXT);
			push_source_column(state, "agent_id", mine[i]->row, sources->dep_tupdesc, DEP_AGENT_ID, AS_TEXT);
			push_source_column(state, "agent_type", mine[i]->row, sources->dep_tupdesc, DEP_AGENT_TYPE, AS_TEXT);
			push_source_column(state, "status", mine[i]->row, sources->dep_tupdesc, DEP_STATUS, AS_TEXT);
			push_source_column(state, "result", mine[i]->row, sources->dep_tupdesc, DEP_RESULT, AS_JSONB_OR_NULL);
			push_source_column(state, "error", mine[i]->row, sources->dep_tupdesc, DEP_ERROR, AS_TEXT);
			(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
			continue;
		}
		mc_jsonb_push_text(state, WJB_ELEM,
						   DatumGetTextPP(SPI_getbinval(mine[i]->row, sources->dep_tupdesc,
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
 * datum_size
 *		The size of a varlena datum as it will be built into the ctx
 *		(detoasted), 0 for NULL.
 */
static Size
datum_size(Datum d, bool isnull)
{
	return isnull ? 0 : toast_raw_datum_size(d);
}

/*
 * workflow_part
 *		The context (what: WF_CONTEXT) or variables (WF_VARIABLES) of the
 *		workflow of the attempt in SPI row row, from where sources has it.
 */
static Datum
workflow_part(McCtxSources *sources, uint64 row, int what, bool *isnull)
{
	if (sources->inline_col > 0)
		return mc_catalog_value(row, sources->inline_col +
								(what == WF_CONTEXT ? INLINE_CONTEXT : INLINE_VARIABLES),
								isnull);
	return SPI_getbinval(sources->workflow[row], sources->wf_tupdesc, what, isnull);
}

/*
 * ctx_parts_size
 *		What the variable parts of the ctx of the attempt in SPI row row
 *		take, summed before it is built: its input and metadata, its
 *		workflow's context and variables, its dependencies' results and
 *		errors, and its handoff messages.  A ctx beyond mycelium.max_ctx_size
 *		is not built: jsonb holds at most 256 MB, and building one near that
 *		takes several times as much memory.
 */
static Size
ctx_parts_size(uint64 row, int col, McCtxSources *sources, CtxDependency **mine,
			   int nmine)
{
	Size		size = 0;
	bool		isnull;
	Datum		d;
	int			i;

	d = mc_catalog_value(row, col + CTX_INPUT, &isnull);
	size += datum_size(d, isnull);
	d = mc_catalog_value(row, col + CTX_METADATA, &isnull);
	size += datum_size(d, isnull);
	d = workflow_part(sources, row, WF_CONTEXT, &isnull);
	size += datum_size(d, isnull);
	d = workflow_part(sources, row, WF_VARIABLES, &isnull);
	size += datum_size(d, isnull);
	for (i = 0; i < nmine; i++)
	{
		d = SPI_getbinval(mine[i]->row, sources->dep_tupdesc, DEP_RESULT, &isnull);
		size += datum_size(d, isnull);
		d = SPI_getbinval(mine[i]->row, sources->dep_tupdesc, DEP_ERROR, &isnull);
		size += datum_size(d, isnull);
	}
	if (sources->inline_col > 0)
	{
		d = mc_catalog_value(row, sources->inline_col + INLINE_HANDOFFS, &isnull);
		return size + datum_size(d, isnull);
	}
	for (i = 0; i < sources->nmessages[row]; i++)
	{
		d = SPI_getbinval(sources->messages[sources->first_message[row] + i],
						  sources->msg_tupdesc, MSG_MESSAGE, &isnull);
		size += datum_size(d, isnull);
	}
	return size;
}

/*
 * mc_ctx_from_row
 *		The ctx of the attempt in SPI result row row, whose MC_CTX_COLUMNS
 *		start at column col (columns count from 1), with what it takes from
 *		other rows from sources (mc_ctx_sources of the same rows), in the
 *		current memory context:
 *
 *		{workflow_id, attempt, workflow_context, variables,
 *		 task: {task_id, agent_id, agent_type, dependencies,
 *				retry_policy: {max_attempts, initial_delay, max_delay,
 *							   exponential_base},
 *				timeout, allow_failure, input, metadata},
 *		 previous_results, handoffs}
 *
 *		A ctx whose parts exceed mycelium.max_ctx_size is not built: with
 *		too_large, NULL is returned and *too_large says why (the scheduler
 *		fails the attempt); without, that is an error (54000).
 */
Jsonb *
mc_ctx_from_row(uint64 row, int col, McCtxSources *sources, char **too_large)
{
	JsonbParseState *state = NULL;
	JsonbValue *v;
	bool		isnull;
	CtxDependency **mine;
	int			nmine = find_dependencies(row, col, sources, &mine);
	Size		size;
	Datum		d;

	Assert(row < sources->nrows);
	if (sources->inline_col == 0 && sources->workflow[row] == NULL)
		elog(ERROR, "the workflow of a task to run was not found");

	size = ctx_parts_size(row, col, sources, mine, nmine);
	if (size > (Size) mc_max_ctx_kb * 1024)
	{
		char	   *message = psprintf("execution context (ctx) of task \"%s\" is too large: its parts take %zu bytes; mycelium.max_ctx_size is %d kB",
									   TextDatumGetCString(mc_catalog_value(row, col + CTX_TASK_ID, &isnull)),
									   size, mc_max_ctx_kb);

		if (too_large != NULL)
		{
			*too_large = message;
			return NULL;
		}
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg_internal("%s", message),
				 errhint("Its input, metadata, workflow context and variables, dependencies' results and handoff messages are all part of it.")));
	}

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "workflow_id");
	mc_jsonb_push_cstring(&state, WJB_VALUE,
						  DatumGetCString(DirectFunctionCall1(uuid_out,
															  mc_catalog_value(row, col + CTX_WORKFLOW_ID, &isnull))));
	push_int_column(&state, "attempt", row, col + CTX_ATTEMPT);
	d = workflow_part(sources, row, WF_CONTEXT, &isnull);
	push_datum(&state, "workflow_context", d, isnull, AS_JSONB_OR_NULL);
	d = workflow_part(sources, row, WF_VARIABLES, &isnull);
	push_datum(&state, "variables", d, isnull, AS_JSONB_OR_NULL);

	mc_jsonb_push_key(&state, "task");
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_column(&state, "task_id", row, col + CTX_TASK_ID, AS_TEXT);
	push_column(&state, "agent_id", row, col + CTX_AGENT_ID, AS_TEXT);
	push_column(&state, "agent_type", row, col + CTX_AGENT_TYPE, AS_TEXT);
	push_dependencies(&state, sources, mine, nmine, false);
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

	push_dependencies(&state, sources, mine, nmine, true);
	push_handoffs(&state, sources, row);
	v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(v);
}
