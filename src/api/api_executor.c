/*-------------------------------------------------------------------------
 *
 * api_executor.c
 *		SQL-callable functions of the executor registry:
 *		register_executor, unregister_executor and set_agent_type_limits.
 *
 * An agent type's executor is either a function f(ctx jsonb) RETURNS jsonb
 * that the scheduler runs inside the database as the workflow's owner, or
 * NULL for an agent type served by external agents.  A registration
 * belongs to the role that made it: only that role or an administrator may
 * replace or remove it, so one user cannot redirect another's tasks to a
 * function of their choosing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "api_json_schema.h"
#include "catalog.h"
#include "mycelium.h"
#include "mycelium_errcodes.h"
#include "shmem.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_register_executor);
PG_FUNCTION_INFO_V1(mc_unregister_executor);
PG_FUNCTION_INFO_V1(mc_set_agent_type_limits);

/* the columns of set_agent_type_limits' read of the agent type */
enum
{
	LIMITS_REGISTERED_BY = 1,
	LIMITS_EXTERNAL				/* no executor function: agents claim it */
};

/* the columns of the look for the workflows a limit may have held back */
enum
{
	HELD_WORKFLOW_ID = 1,
	HELD_PRIORITY				/* the highest of their ready tasks' */
};

/*
 * check_agent_type
 *		An agent type name is an identifier-like string.
 */
static char *
check_agent_type(text *agent_type)
{
	char	   *name = text_to_cstring(agent_type);
	char	   *problem = mc_name_problem(name, strlen(name));

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid agent type \"%s\"", mc_name_for_message(name)),
				 errdetail_internal("%s", problem)));
	mc_signal_refuse_agent_type(name);
	return name;
}

/*
 * check_executor_function
 *		An executor must be a plain function taking one jsonb and returning
 *		one jsonb, and the caller must be allowed to execute it.
 */
static void
check_executor_function(Oid fn, Oid caller)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		ok;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", fn)));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	ok = proc->prokind == PROKIND_FUNCTION && !proc->proretset &&
		proc->pronargs == 1 && proc->proargtypes.values[0] == JSONBOID &&
		proc->prorettype == JSONBOID;
	ReleaseSysCache(tup);

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("function %s cannot be an executor",
						format_procedure(fn)),
				 errdetail("An executor must be a function f(ctx jsonb) RETURNS jsonb that returns one value.")));
	if (pg_proc_aclcheck(fn, caller, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", format_procedure(fn))));
}

/*
 * mc_register_executor
 *		register_executor(agent_type, executor, output_schema): adds or
 *		replaces the registration of an agent type.
 */
Datum
mc_register_executor(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {TEXTOID, REGPROCEDUREOID, JSONBOID,
		REGROLEOID, BOOLOID};
	McCatalogSession session;
	char	   *agent_type;
	Datum		values[5];
	char		nulls[5];
	uint64		n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("agent type must not be null")));
	agent_type = check_agent_type(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
		check_executor_function(PG_GETARG_OID(1), GetUserId());
	if (!PG_ARGISNULL(2))
	{
		Jsonb	   *schema = PG_GETARG_JSONB_P(2);
		JsonbValue	v;
		bool		is_bool;

		is_bool = JB_ROOT_IS_SCALAR(schema) &&
			JsonbExtractScalar(&schema->root, &v) && v.type == jbvBool;
		if (!JB_ROOT_IS_OBJECT(schema) && !is_bool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("output schema must be a JSON Schema (an object or a boolean)")));
		mc_check_payload_size(schema, "output schema");
		mc_json_schema_compile_check(schema);
	}

	mc_catalog_open(&session);
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(agent_type);
	values[1] = PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[3] = ObjectIdGetDatum(session.caller);
	values[4] = BoolGetDatum(session.caller_is_admin);
	n = mc_catalog_run(MC_PLAN_EXECUTOR_UPSERT,
					   "INSERT INTO mycelium.executors AS e "
					   "(agent_type, executor, output_schema, registered_by) "
					   "VALUES ($1, $2, $3, $4) "
					   "ON CONFLICT (agent_type) DO UPDATE SET executor = $2, "
					   "output_schema = $3, registered_by = $4, registered_at = pg_catalog.now() "
					   "WHERE e.registered_by = $4 OR $5",
					   5, argtypes, values, nulls, 0);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent type \"%s\" is registered by another role", agent_type),
				 errhint("Only the role that registered it or a member of mycelium_admin can replace it.")));
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}

/*
 * mc_unregister_executor
 *		unregister_executor(agent_type): removes a registration.  Tasks of
 *		that agent type that are still to run fail when they are dispatched.
 */
Datum
mc_unregister_executor(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {TEXTOID};
	McCatalogSession session;
	char	   *agent_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		values[1];
	bool		isnull;

	mc_catalog_open(&session);
	values[0] = CStringGetTextDatum(agent_type);
	if (mc_catalog_run(MC_PLAN_EXECUTOR_GET,
					   "SELECT registered_by::pg_catalog.oid FROM mycelium.executors "
					   "WHERE agent_type = $1 FOR UPDATE",
					   1, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent type \"%s\" is not registered",
						mc_name_for_message(agent_type))));
	if (!session.caller_is_admin &&
		DatumGetObjectId(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull)) != session.caller)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent type \"%s\" is registered by another role", agent_type),
				 errhint("Only the role that registered it or a member of mycelium_admin can remove it.")));
	mc_catalog_run(MC_PLAN_EXECUTOR_DELETE,
				   "DELETE FROM mycelium.executors WHERE agent_type = $1",
				   1, argtypes, values, NULL, 0);
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}

/*
 * mc_set_agent_type_limits
 *		set_agent_type_limits(agent_type, max_running, rate, per): sets (or,
 *		with NULLs, lifts) the limits of an agent type that claims apply
 *		(agent_limits.c).  The row's lock makes the change wait for the
 *		claims under way, and the next claim counts with the new limits.
 *		A lower rate keeps no more tokens than its burst (MC_RATE_BURST).
 *		The agent type's held-back tasks are looked at again at commit.
 */
Datum
mc_set_agent_type_limits(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {TEXTOID, INT4OID, INT4OID, INTERVALOID,
		REGROLEOID, BOOLOID};
	McCatalogSession session;
	char	   *agent_type;
	Datum		values[6];
	char		nulls[6];
	Interval   *per = NULL;
	bool		external;
	bool		isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("agent type must not be null")));
	agent_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	mc_signal_refuse_agent_type(agent_type);
	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_running must not be negative"),
				 errhint("0 holds back every task of the agent type; NULL lifts the limit.")));
	if (!PG_ARGISNULL(2))
	{
		if (PG_GETARG_INT32(2) < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate must be at least 1"),
					 errhint("NULL lifts the limit; max_running 0 holds back every task.")));
		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the interval of a rate must not be null")));
		per = PG_GETARG_INTERVAL_P(3);
		if (per->month < 0 || per->day < 0 || per->time < 0 ||
			(per->month == 0 && per->day == 0 && per->time < USECS_PER_SEC / 1000))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the interval of a rate must be at least 1 millisecond")));
	}

	mc_catalog_open(&session);
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(agent_type);
	values[1] = PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[3] = per ? IntervalPGetDatum(per) : (Datum) 0;
	nulls[3] = per ? ' ' : 'n';
	values[4] = ObjectIdGetDatum(session.caller);
	values[5] = BoolGetDatum(session.caller_is_admin);
	if (mc_catalog_run(MC_PLAN_LIMITS_EXECUTOR,
					   "SELECT registered_by::pg_catalog.oid, executor IS NULL "
					   "FROM mycelium.executors WHERE agent_type = $1 FOR UPDATE",
					   1, argtypes, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent type \"%s\" is not registered",
						mc_name_for_message(agent_type)),
				 errhint("Register it with register_executor first.")));
	if (!session.caller_is_admin &&
		DatumGetObjectId(mc_catalog_value(0, LIMITS_REGISTERED_BY, &isnull)) != session.caller)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agent type \"%s\" is registered by another role", agent_type),
				 errhint("Only the role that registered it or a member of mycelium_admin can set its limits.")));
	external = DatumGetBool(mc_catalog_value(0, LIMITS_EXTERNAL, &isnull));
	mc_catalog_run(MC_PLAN_LIMITS_SET,
				   "UPDATE mycelium.executors e SET max_running = $2, rate = $3, "
				   "  rate_per = CASE WHEN $3 IS NOT NULL THEN $4 END, "
				   "  rate_tokens = CASE WHEN $3 IS NOT NULL THEN "
				   "    LEAST(COALESCE(e.rate_tokens, $3), "
				   "      GREATEST(1, pg_catalog.ceil($3 / 10.0))) END, "
				   "  rate_at = CASE WHEN $3 IS NOT NULL THEN "
				   "    COALESCE(e.rate_at, pg_catalog.clock_timestamp()) END "
				   "WHERE e.agent_type = $1",
				   6, argtypes, values, nulls, 0);

	/*
	 * Tasks the old limits held back may start now: their agents are
	 * notified, or their workflows pushed, at commit.  (The launcher pushes
	 * them too, but only while limits hold claims back: not once they are
	 * lifted or raised.)  More than the queue holds make the launcher
	 * rescan.
	 */
	if (external)
		mc_notify_ready(agent_type);
	else if (mc_scheduler_available())
	{
		uint64		n;
		uint64		i;

		values[1] = Int32GetDatum(MC_QUEUE_SIZE + 1);
		nulls[1] = ' ';
		n = mc_catalog_run(MC_PLAN_LIMITS_HELD_BACK,
						   "SELECT t.workflow_id, pg_catalog.max(t.priority) "
						   "FROM mycelium.task_states t "
						   "WHERE t.agent_type = $1 AND t.status = 'ready' "
						   "GROUP BY t.workflow_id LIMIT $2",
						   2, argtypes, values, nulls, 0);
		for (i = 0; i < n; i++)
			mc_push_at_commit(DatumGetUUIDP(mc_catalog_value(i, HELD_WORKFLOW_ID, &isnull)), InvalidOid,
							  DatumGetInt32(mc_catalog_value(i, HELD_PRIORITY, &isnull)));
	}
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}
