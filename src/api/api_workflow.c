/*-------------------------------------------------------------------------
 *
 * api_workflow.c
 *		SQL-callable functions that define and read workflows:
 *		create_workflow and get_workflow.
 *
 * A workflow may be given its id by the caller, which makes creating it
 * idempotent: the same id and definition again return the workflow
 * created the first time (compared by a hash of the definition kept in
 * workflow_states.definition_hash), and a different definition is refused.
 *
 * create_workflow checks everything (fields, graph, agent types, limits,
 * the owner's ability to run tasks) before it stores anything, then stores
 * the workflow and all its tasks with a few set-based statements: the
 * task rows are built in C as an array of mycelium.task_states and
 * inserted through unnest, in chunks, so 100,000 tasks take one pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/pg_prng.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "api_workflow.h"
#include "catalog.h"
#include "citus.h"
#include "dag.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "observe.h"
#include "priority.h"
#include "signals.h"
#include "state.h"
#include "taskdef.h"
#include "xact_workflows.h"

PG_FUNCTION_INFO_V1(mc_create_workflow);
PG_FUNCTION_INFO_V1(mc_get_workflow);

/* task rows inserted per statement */
#define MC_INSERT_CHUNK 10000


/* the columns of mycelium.task_states that create_workflow fills */
typedef enum TaskColumn
{
	TC_WORKFLOW_ID, TC_TASK_NO, TC_TASK_ID, TC_AGENT_ID, TC_AGENT_TYPE,
	TC_OWNER, TC_STATUS, TC_ATTEMPT, TC_DEPS_PENDING, TC_DEPENDENCIES,
	TC_DEPENDENTS, TC_MAX_ATTEMPTS, TC_INITIAL_DELAY, TC_MAX_DELAY,
	TC_EXPONENTIAL_BASE, TC_TIMEOUT, TC_ALLOW_FAILURE, TC_INPUT, TC_METADATA,
	TC_PRIORITY, TC_OWN_PRIORITY, TC_READY_RANK, TC_READY_AT,
	TC_NUM
} TaskColumn;

static const char *const task_column_names[TC_NUM] = {
	"workflow_id", "task_no", "task_id", "agent_id", "agent_type",
	"owner", "status", "attempt", "deps_pending", "dependencies",
	"dependents", "max_attempts", "initial_delay", "max_delay",
	"exponential_base", "timeout", "allow_failure", "input", "metadata",
	"priority", "own_priority", "ready_rank", "ready_at"
};

/* the columns of mc_check_agent_types' statement, one row per agent type */
enum
{
	TYPE_AGENT_TYPE = 1,
	TYPE_KNOWN,					/* registered (or the signal type) */
	TYPE_REGISTRAR				/* who registered its executor function */
};

/* the columns of check_existing_workflow's statement */
enum
{
	EXISTING_OWNER = 1,
	EXISTING_DEFINITION_HASH
};

/*
 * check_owner_can_run
 *		Tasks run as the workflow's owner, and a background worker can only
 *		connect as a role that may log in.
 */
static void
check_owner_can_run(Oid owner)
{
	HeapTuple	tup;
	bool		canlogin;
	char	   *name;

	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", owner);
	canlogin = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	name = pstrdup(NameStr(((Form_pg_authid) GETSTRUCT(tup))->rolname));
	ReleaseSysCache(tup);

	if (!canlogin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot own workflows because it cannot log in", name),
				 errdetail("Workflow tasks run as the role that created the workflow, in a background worker that logs in as that role."),
				 errhint("Create the workflow as a role with LOGIN, or ALTER ROLE \"%s\" LOGIN.", name)));
}

/*
 * mc_object_arg
 *		A jsonb argument that must be a JSON object of bounded size (NULL
 *		for SQL NULL).
 */
Jsonb *
mc_object_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Jsonb	   *value;

	if (PG_ARGISNULL(argno))
		return NULL;
	value = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what)));
	mc_check_payload_size(value, what);
	return value;
}

/*
 * mc_check_agent_types
 *		Every task's agent type must be registered, and one whose executor
 *		is a function must have been registered by a role that may run it
 *		as the workflow's owner (mc_executor_may_run_as): tasks run as the
 *		owner, so another role's registration would run that role's choice
 *		of code with the owner's rights.  The first offending task in
 *		definition order is named.  Runs inside the catalog session.
 */
void
mc_check_agent_types(McTaskDef *tasks, int ntasks, Oid owner)
{
	static const Oid argtypes[] = {TEXTARRAYOID};
	Datum	   *names;
	Datum		values[1];
	uint64		ntypes;
	uint64		r;
	char	  **bad;
	bool	   *registered;
	Oid		   *registrars;
	int			nbad = 0;
	int			i;
	int			b;

	if (ntasks == 0)
		return;
	names = palloc(sizeof(Datum) * ntasks);
	for (i = 0; i < ntasks; i++)
		names[i] = CStringGetTextDatum(tasks[i].agent_type);
	values[0] = mc_catalog_array(names, ntasks, TEXTOID);
	ntypes = mc_catalog_run(MC_PLAN_AGENT_TYPES_MISSING,
							"SELECT a.agent_type, "
							"  e.agent_type IS NOT NULL OR a.agent_type = '" MC_SIGNAL_AGENT_TYPE "', "
							"  CASE WHEN e.executor IS NOT NULL THEN e.registered_by::pg_catalog.oid END "
							"FROM (SELECT DISTINCT x FROM pg_catalog.unnest($1) AS x) AS a(agent_type) "
							"LEFT JOIN mycelium.executors e ON e.agent_type = a.agent_type",
							1, argtypes, values, NULL, 0);

	bad = palloc(sizeof(char *) * Max(ntypes, 1));
	registered = palloc(sizeof(bool) * Max(ntypes, 1));
	registrars = palloc(sizeof(Oid) * Max(ntypes, 1));
	for (r = 0; r < ntypes; r++)
	{
		bool		isnull;
		bool		known = DatumGetBool(mc_catalog_value(r, TYPE_KNOWN, &isnull));
		Datum		registrar = mc_catalog_value(r, TYPE_REGISTRAR, &isnull);

		if (known && (isnull || mc_executor_may_run_as(DatumGetObjectId(registrar), owner)))
			continue;
		bad[nbad] = mc_catalog_text(r, TYPE_AGENT_TYPE);
		registered[nbad] = known;
		registrars[nbad] = isnull ? InvalidOid : DatumGetObjectId(registrar);
		nbad++;
	}
	if (nbad == 0)
		return;

	for (i = 0;; i++)
	{
		for (b = 0; b < nbad; b++)
			if (strcmp(tasks[i].agent_type, bad[b]) == 0)
				break;
		if (b < nbad)
			break;
	}
	if (!registered[b])
		ereport(ERROR,
				(errcode(ERRCODE_MC_ORCHESTRATION),
				 errmsg("agent type \"%s\" is not registered", bad[b]),
				 errdetail("Task \"%s\" uses it.", tasks[i].task_id),
				 errhint("Register it with mycelium.register_executor().")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("agent type \"%s\" is registered by role \"%s\", whose executor may not run as role \"%s\"",
					bad[b], mc_role_name(registrars[b]), mc_role_name(owner)),
			 errdetail("Task \"%s\" uses it. Tasks run as the workflow's owner, so they run only executors registered by the owner or by a role with its privileges.",
					   tasks[i].task_id),
			 errhint("Register an agent type of your own for this function.")));
}

/*
 * int4_array
 *		An int4[] of n task numbers, or (Datum) 0 for none.
 */
static Datum
int4_array(const int32 *elems, int n)
{
	Datum	   *d;
	int			i;

	if (n == 0)
		return (Datum) 0;
	d = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		d[i] = Int32GetDatum(elems[i]);
	return mc_catalog_array(d, n, INT4OID);
}

/*
 * task_row
 *		The task_states row of a task, as a composite datum; unmet is the
 *		number of its dependencies not yet satisfied.  A task ready at once
 *		ranks from now, at its priority (its own, or the workflow's,
 *		priority); now is when the rows are made.
 */
static Datum
task_row(TupleDesc desc, const int *attno, Datum *values, bool *nulls,
		 pg_uuid_t *id, Oid owner, Datum pending, Datum ready,
		 McTaskDef *task, McDag *dag, int32 unmet, int32 priority,
		 TimestampTz now)
{
	int			no = dag->base + task->index + 1;
	int32		effective = task->has_priority ? task->priority : priority;
	int			first = dag->dependents_start[task->index];
	int			ndependents = dag->dependents_start[task->index + 1] - first;
	HeapTuple	tup;

#define SET(col, value) \
	(values[attno[col]] = (value), nulls[attno[col]] = false)
#define SET_OR_NULL(col, value) \
	(values[attno[col]] = (value), nulls[attno[col]] = (values[attno[col]] == (Datum) 0))

	SET(TC_WORKFLOW_ID, UUIDPGetDatum(id));
	SET(TC_TASK_NO, Int32GetDatum(no));
	SET(TC_TASK_ID, CStringGetTextDatum(task->task_id));
	SET(TC_AGENT_ID, CStringGetTextDatum(task->agent_id));
	SET(TC_AGENT_TYPE, CStringGetTextDatum(task->agent_type));
	SET(TC_OWNER, ObjectIdGetDatum(owner));
	SET(TC_STATUS, unmet == 0 ? ready : pending);
	SET(TC_ATTEMPT, Int32GetDatum(0));
	SET(TC_DEPS_PENDING, Int32GetDatum(unmet));
	SET_OR_NULL(TC_DEPENDENCIES, int4_array(task->deps, task->ndeps));
	SET_OR_NULL(TC_DEPENDENTS, int4_array(dag->dependents + first, ndependents));
	SET(TC_MAX_ATTEMPTS, Int32GetDatum(task->max_attempts));
	SET(TC_INITIAL_DELAY, Float8GetDatum(task->initial_delay));
	SET(TC_MAX_DELAY, Float8GetDatum(task->max_delay));
	SET(TC_EXPONENTIAL_BASE, Float8GetDatum(task->exponential_base));
	SET(TC_TIMEOUT, Float8GetDatum(task->timeout));
	nulls[attno[TC_TIMEOUT]] = (task->timeout == 0);
	SET(TC_ALLOW_FAILURE, BoolGetDatum(task->allow_failure));
	SET_OR_NULL(TC_INPUT, PointerGetDatum(task->input));
	SET_OR_NULL(TC_METADATA, PointerGetDatum(task->metadata));
	SET(TC_PRIORITY, Int32GetDatum(effective));
	if (task->has_priority)
		SET(TC_OWN_PRIORITY, Int32GetDatum(task->priority));
	if (unmet == 0)
		SET(TC_READY_RANK,
			TimestampTzGetDatum(now - (TimestampTz) effective * mc_priority_aging_s * USECS_PER_SEC));
	/* ready since now: agent_type_stats counts it once its workflow runs */
	SET(TC_READY_AT, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	nulls[attno[TC_READY_AT]] = (unmet != 0);
#undef SET
#undef SET_OR_NULL

	tup = heap_form_tuple(desc, values, nulls);
	return heap_copy_tuple_as_datum(tup, desc);
}

/*
 * mc_insert_tasks
 *		Stores the tasks of a new workflow, or new tasks of a workflow
 *		(numbered after dag->base), MC_INSERT_CHUNK rows per statement,
 *		each chunk built in a memory context reset after it.  unmet[i] is
 *		how many dependencies of task i are not yet satisfied (NULL: all of
 *		them).  priority is the workflow's, for the tasks without their own.
 *		Runs inside the catalog session.
 */
void
mc_insert_tasks(pg_uuid_t *id, Oid owner, McTaskDef *tasks, int ntasks,
				McDag *dag, const int32 *unmet, int32 priority)
{
	TimestampTz now = GetCurrentTimestamp();
	Oid			rowtype = get_rel_type_id(mc_catalog_relid("task_states"));
	Oid			arraytype = get_array_type(rowtype);
	TupleDesc	desc = lookup_rowtype_tupdesc_copy(rowtype, -1);
	int			attno[TC_NUM];
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	Oid			status_type;
	Datum		pending;
	Datum		ready;
	MemoryContext chunk_cxt;
	int			start;
	int			i;

	for (i = 0; i < TC_NUM; i++)
	{
		attno[i] = SPI_fnumber(desc, task_column_names[i]) - 1;
		if (attno[i] < 0)
			elog(ERROR, "column \"%s\" of mycelium.task_states is missing",
				 task_column_names[i]);
	}
	status_type = TupleDescAttr(desc, attno[TC_STATUS])->atttypid;
	pending = DirectFunctionCall2(enum_in, CStringGetDatum("pending"),
								  ObjectIdGetDatum(status_type));
	ready = DirectFunctionCall2(enum_in, CStringGetDatum("ready"),
								ObjectIdGetDatum(status_type));
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "mycelium task rows",
									  ALLOCSET_DEFAULT_SIZES);
	for (start = 0; start < ntasks; start += MC_INSERT_CHUNK)
	{
		int			n = Min(MC_INSERT_CHUNK, ntasks - start);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum	   *rows = palloc(sizeof(Datum) * n);
		Datum		arg;
		int			rc;

		for (i = 0; i < n; i++)
		{
			memset(nulls, true, sizeof(bool) * desc->natts);
			rows[i] = task_row(desc, attno, values, nulls, id, owner,
							   pending, ready, &tasks[start + i], dag,
							   unmet ? unmet[start + i] : tasks[start + i].ndeps,
							   priority, now);
		}
		arg = mc_catalog_array(rows, n, rowtype);
		if (mc_citus_present())
			rc = mc_citus_insert_tasks(id, desc, arraytype, arg);
		else
			rc = SPI_execute_with_args("WITH t AS ("
									   "  INSERT INTO mycelium.task_states "
									   "  SELECT * FROM pg_catalog.unnest($1) "
									   "  RETURNING workflow_id, task_id, task_no) "
									   "INSERT INTO mycelium.task_ids (workflow_id, task_id, task_no) "
									   "SELECT workflow_id, task_id, task_no FROM t",
									   1, &arraytype, &arg, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not insert tasks: %s", SPI_result_code_string(rc));
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
}

/*
 * hash_part
 *		Adds one part of a definition to its hash: its length, then its
 *		bytes, so that no two sequences of parts hash the same text.
 */
static void
hash_part(pg_cryptohash_ctx *ctx, const char *data, size_t len)
{
	uint64		n = len;

	if (pg_cryptohash_update(ctx, (const uint8 *) &n, sizeof(n)) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not compute the definition hash: %s",
			 pg_cryptohash_error(ctx));
}

/*
 * hash_jsonb_part
 *		Adds a jsonb value to a definition's hash in its canonical text:
 *		keys in jsonb's order, no insignificant white space, duplicate keys
 *		folded (jsonb_out's form).
 */
static void
hash_jsonb_part(pg_cryptohash_ctx *ctx, Jsonb *value)
{
	char	   *text = JsonbToCString(NULL, &value->root, VARSIZE(value));

	hash_part(ctx, text, strlen(text));
	pfree(text);
}

/*
 * definition_hash
 *		The SHA-256 hash create_workflow compares to tell whether a
 *		workflow_id given again comes with the same definition: of tasks,
 *		context, variables and metadata in jsonb's canonical text, the name
 *		(empty when NULL, preceded by whether it is) and max_parallel_tasks.
 *		Key order and white space do not matter; anything else does (a
 *		field left to its default differs from one given its default).
 */
static bytea *
definition_hash(Jsonb *tasks, Jsonb *context, Jsonb *variables,
				Jsonb *metadata, text *name, int32 max_parallel)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	char		has_name = (name != NULL);
	char		number[16];

	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute the definition hash: %s",
			 pg_cryptohash_error(ctx));
	hash_jsonb_part(ctx, tasks);
	hash_jsonb_part(ctx, context);
	hash_jsonb_part(ctx, variables);
	hash_jsonb_part(ctx, metadata);
	hash_part(ctx, &has_name, 1);
	if (name != NULL)
		hash_part(ctx, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	else
		hash_part(ctx, "", 0);
	snprintf(number, sizeof(number), "%d", max_parallel);
	hash_part(ctx, number, strlen(number));
	if (pg_cryptohash_final(ctx, (uint8 *) VARDATA(result),
							PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute the definition hash: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	return result;
}

/*
 * insert_workflow
 *		Stores the workflow's own row and its first history record; returns
 *		false, storing nothing, when a workflow with this id exists already
 *		(a caller-chosen id given again, or one a concurrent call with the
 *		same id has just committed: the insert waits for it).
 */
static bool
insert_workflow(McCatalogSession *session, pg_uuid_t *id, text *name,
				Jsonb *context, Jsonb *variables, Jsonb *metadata,
				bytea *hash, int32 max_parallel, int ntasks, int32 priority)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID, REGROLEOID, JSONBOID,
		JSONBOID, INT4OID, INT4OID, JSONBOID, BYTEAOID, INT4OID};
	Datum		values[10];
	char		nulls[10];
	McWorkflow	wf;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = PointerGetDatum(name);
	if (name == NULL)
		nulls[1] = 'n';
	values[2] = ObjectIdGetDatum(session->caller);
	values[3] = JsonbPGetDatum(context);
	values[4] = JsonbPGetDatum(variables);
	values[5] = Int32GetDatum(max_parallel);
	values[6] = Int32GetDatum(ntasks);
	values[7] = JsonbPGetDatum(metadata);
	values[8] = PointerGetDatum(hash);
	if (hash == NULL)
		nulls[8] = 'n';
	values[9] = Int32GetDatum(priority);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_INSERT,
					   "INSERT INTO mycelium.workflow_states "
					   "(workflow_id, name, owner, context, variables, "
					   " max_parallel_tasks, task_count, tasks_open, metadata, "
					   " definition_hash, priority) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) "
					   "ON CONFLICT (workflow_id) DO NOTHING",
					   10, argtypes, values, nulls, 0) == 0)
		return false;

	mc_xact_workflow_held(id);
	memset(&wf, 0, sizeof(wf));
	memcpy(&wf.id, id, sizeof(pg_uuid_t));
	wf.owner = session->caller;
	wf.version = 1;
	mc_history_record(session, &wf, 0, "pending", 0, NULL, NULL, "created");
	mc_notify_workflows_changed();
	return true;
}

/*
 * check_existing_workflow
 *		A workflow with the caller-chosen id exists already: it is the
 *		caller's workflow of the same definition (hash), and creating it
 *		again is a no-op, or the call is refused.  Returns false when the
 *		workflow has gone since the insert saw it (a concurrent delete), for
 *		the caller to try the insert again.  Runs inside the catalog
 *		session.
 */
static bool
check_existing_workflow(McCatalogSession *session, pg_uuid_t *id, bytea *hash)
{
	static const Oid argtypes[] = {UUIDOID};
	Datum		values[1];
	bool		isnull;
	Datum		owner;
	Datum		stored;
	char	   *idtext;

	values[0] = UUIDPGetDatum(id);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_EXISTING,
					   "SELECT owner, definition_hash FROM mycelium.workflow_states "
					   "WHERE workflow_id = $1",
					   1, argtypes, values, NULL, 1) == 0)
		return false;
	idtext = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
	owner = mc_catalog_value(0, EXISTING_OWNER, &isnull);
	if (DatumGetObjectId(owner) != session->caller)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("workflow id %s is already in use", idtext),
				 errdetail("Another role's workflow has this id."),
				 errhint("Choose another workflow_id, or leave it out to get a new one.")));
	stored = mc_catalog_value(0, EXISTING_DEFINITION_HASH, &isnull);
	if (isnull || !DatumGetBool(DirectFunctionCall2(byteaeq, stored,
													PointerGetDatum(hash))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("workflow %s already exists with a different definition", idtext),
				 errdetail(isnull ? "It was created without a caller-chosen workflow_id."
						   : "Creating a workflow again with its workflow_id returns it only when tasks, context, variables, metadata, name and max_parallel_tasks are the same."),
				 errhint("Choose another workflow_id for a different workflow.")));
	return true;
}

/*
 * empty_object
 *		The jsonb value {}.
 */
static Jsonb *
empty_object(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

/*
 * new_workflow_id
 *		A random (version 4) UUID.
 */
static pg_uuid_t *
new_workflow_id(void)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	if (!pg_strong_random(id->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	id->data[6] = (id->data[6] & 0x0f) | 0x40;
	id->data[8] = (id->data[8] & 0x3f) | 0x80;
	return id;
}

/*
 * mc_workflow_create
 *		Validates a workflow definition (tasks, context, variables and
 *		metadata as jsonb; name may be NULL) and stores it as a pending
 *		workflow owned by the current user; returns its id.  Nothing is
 *		stored if any check fails.
 *
 * With a caller-chosen id (chosen_id not NULL) creation is idempotent: if
 * the caller has a workflow of that id and the same definition (compared
 * by definition_hash) it is returned, unchanged, and *created set to
 * false; another definition or another role's workflow is an error.
 *
 * The workflow's priority is not part of the definition, nor of its hash:
 * it says when the tasks run, not what they do, and set_workflow_priority
 * changes it afterwards, so a creation repeated with another priority
 * returns the workflow as it is (its priority unchanged).  A task's own
 * priority is part of the tasks, and so of the hash.
 */
pg_uuid_t *
mc_workflow_create(Jsonb *tasks_arg, Jsonb *context, Jsonb *variables,
				   int32 max_parallel, text *name, Jsonb *metadata,
				   pg_uuid_t *chosen_id, int32 priority, bool *created)
{
	McCatalogSession session;
	MemoryContext cxt;
	MemoryContext old;
	McTaskDef  *tasks;
	int			ntasks;
	McDag	   *dag;
	pg_uuid_t  *id;
	pg_uuid_t  *result;
	bytea	   *hash = NULL;
	bool		inserted;

	mc_check_max_parallel(max_parallel);
	mc_check_priority(priority, "priority");
	if (name != NULL)
	{
		char	   *problem;

		problem = mc_name_problem(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		if (problem != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid workflow name"),
					 errdetail_internal("%s", problem)));
	}
	check_owner_can_run(GetUserId());

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"mycelium create_workflow",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	if (context == NULL)
		context = empty_object();
	if (variables == NULL)
		variables = empty_object();
	if (metadata == NULL)
		metadata = empty_object();

	tasks = mc_parse_tasks(tasks_arg, &ntasks);
	dag = mc_dag_resolve(tasks, ntasks);
	if (chosen_id != NULL)
	{
		id = chosen_id;
		hash = definition_hash(tasks_arg, context, variables, metadata, name,
							   max_parallel);
	}
	else
		id = new_workflow_id();

	mc_catalog_open(&session);
	mc_check_agent_types(tasks, ntasks, session.caller);
	for (;;)
	{
		inserted = insert_workflow(&session, id, name, context, variables,
								   metadata, hash, max_parallel, ntasks,
								   priority);
		if (inserted || check_existing_workflow(&session, id, hash))
			break;
		CHECK_FOR_INTERRUPTS();
	}
	if (inserted)
		mc_insert_tasks(id, session.caller, tasks, ntasks, dag, NULL, priority);
	mc_catalog_close(&session);

	MemoryContextSwitchTo(old);
	result = palloc(sizeof(pg_uuid_t));
	memcpy(result, id, sizeof(pg_uuid_t));
	MemoryContextDelete(cxt);
	if (created != NULL)
		*created = inserted;
	return result;
}

/*
 * mc_check_max_parallel
 *		max_parallel_tasks must lie between 1 and MC_MAX_PARALLEL.
 */
void
mc_check_max_parallel(int32 max_parallel)
{
	if (max_parallel < 1 || max_parallel > MC_MAX_PARALLEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_parallel_tasks must be between 1 and %d", MC_MAX_PARALLEL)));
}

/*
 * mc_create_workflow
 *		create_workflow(tasks, context, variables, max_parallel_tasks, name,
 *		metadata, workflow_id, priority): validates the whole definition,
 *		then stores it as a pending workflow and returns its id (or, for a
 *		workflow_id given again with the same definition, returns the
 *		existing one).
 */
Datum
mc_create_workflow(PG_FUNCTION_ARGS)
{
	Jsonb	   *context;
	Jsonb	   *variables;
	Jsonb	   *metadata;

	mc_require_arg(fcinfo, 0, "tasks");
	mc_require_arg(fcinfo, 3, "max_parallel_tasks");
	context = mc_object_arg(fcinfo, 1, "workflow context");
	variables = mc_object_arg(fcinfo, 2, "workflow variables");
	metadata = mc_object_arg(fcinfo, 5, "workflow metadata");
	PG_RETURN_UUID_P(mc_workflow_create(PG_GETARG_JSONB_P(0), context, variables,
										PG_GETARG_INT32(3),
										PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4),
										metadata,
										PG_ARGISNULL(6) ? NULL : PG_GETARG_UUID_P(6),
										mc_priority_arg(fcinfo, 7),
										NULL));
}

/*
 * mc_get_workflow
 *		get_workflow(id): the workflow, its version and status, and every
 *		task keyed by task id, as one jsonb document.  The subqueries name
 *		the workflow's id as well, so that Citus routes the statement to
 *		the workflow's shard group.
 */
Datum
mc_get_workflow(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {UUIDOID, REGROLEOID, BOOLOID};
	McCatalogSession session;
	Datum		values[3];
	Datum		doc;
	bool		isnull;

	mc_catalog_open(&session);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = ObjectIdGetDatum(session.caller);
	values[2] = BoolGetDatum(session.caller_is_admin);
	if (mc_catalog_run(MC_PLAN_WORKFLOW_JSON,
					   "SELECT pg_catalog.jsonb_build_object("
					   " 'workflow_id', w.workflow_id, 'name', w.name,"
					   " 'owner', w.owner::pg_catalog.text, 'status', w.status,"
					   " 'version', w.version, 'max_parallel_tasks', w.max_parallel_tasks,"
					   " 'context', w.context, 'variables', w.variables, 'error', w.error,"
					   " 'created_at', w.created_at, 'started_at', w.started_at,"
					   " 'finished_at', w.finished_at, 'updated_at', w.updated_at,"
					   " 'metadata', w.metadata,"
					   " 'tasks', COALESCE((SELECT pg_catalog.jsonb_object_agg(t.task_id,"
					   "   pg_catalog.jsonb_build_object("
					   "   'task_id', t.task_id, 'agent_id', t.agent_id,"
					   "   'agent_type', t.agent_type, 'status', t.status, 'attempt', t.attempt,"
					   "   'dependencies', COALESCE((SELECT pg_catalog.jsonb_agg(d.task_id ORDER BY d.task_no)"
					   "     FROM mycelium.task_states d WHERE d.workflow_id = t.workflow_id"
					   "     AND d.workflow_id = $1 AND d.task_no = ANY (t.dependencies)), '[]'),"
					   "   'retry_policy', pg_catalog.jsonb_build_object("
					   "     'max_attempts', t.max_attempts, 'initial_delay', t.initial_delay,"
					   "     'max_delay', t.max_delay, 'exponential_base', t.exponential_base),"
					   "   'timeout', t.timeout, 'allow_failure', t.allow_failure,"
					   "   'input', t.input, 'metadata', COALESCE(t.metadata, '{}'),"
					   "   'result', t.result, 'error', t.error,"
					   "   'next_attempt_at', t.run_after, 'started_at', t.started_at,"
					   "   'finished_at', t.finished_at))"
					   "  FROM mycelium.task_states t"
					   "  WHERE t.workflow_id = w.workflow_id AND t.workflow_id = $1), '{}'))"
					   " FROM mycelium.workflow_states w"
					   " WHERE w.workflow_id = $1 AND (w.owner = $2 OR $3)",
					   3, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, values[0])))));
	doc = SPI_datumTransfer(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull), false, -1);
	mc_catalog_close(&session);
	PG_RETURN_DATUM(doc);
}
