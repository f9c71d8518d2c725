/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Access to mycelium's catalog tables.
 *
 * Users cannot write the catalog tables; the API functions do, after
 * checking that the calling role may make the change.  Every API function
 * brackets its catalog work with mc_catalog_open/mc_catalog_close, which
 * connect to SPI, switch to the role that owns the tables (the way
 * PostgreSQL's referential-integrity triggers do) and pin search_path to
 * pg_catalog so no object in a user's schema can change what the
 * statements mean (on Citus, also how roles cross between nodes:
 * mc_citus_catalog_open).  An error anywhere inside is cleaned up by transaction
 * abort, which restores both the user id and the GUC.
 *
 * Statements are prepared once per backend, with generic plans, and kept
 * (mc_catalog_plan); those that find their rows by key, nearly all, are
 * planned with sequential scans off (catalog_run).  Where Citus is created
 * they are planned at each execution instead, with the time as parameters
 * (see src/catalog/citus.c and doc/internals.md, "Running on Citus").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/cost.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "citus.h"
#include "mycelium.h"
#include "priority.h"
#include "version.h"

static SPIPlanPtr plans[MC_NUM_PLANS];

/* whether plans[id] was prepared for custom plans (on Citus; src/catalog/citus.c) */
static bool custom[MC_NUM_PLANS];

/*
 * mc_catalog_relid
 *		OID of one of mycelium's tables; an error if the extension's schema
 *		or table is missing (for example, the library is loaded but the
 *		extension was never created in this database).
 */
Oid
mc_catalog_relid(const char *relname)
{
	Oid			nspid = get_namespace_oid(MC_SCHEMA_NAME, true);
	Oid			relid = InvalidOid;

	if (OidIsValid(nspid))
		relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"mycelium\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION mycelium.")));
	return relid;
}

/*
 * catalog_owner
 *		The role that owns the catalog tables, taken from workflow_states.
 */
static Oid
catalog_owner(void)
{
	Oid			relid = mc_catalog_relid("workflow_states");
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * mc_role_is_admin
 *		Whether a role may see and control every workflow: superusers and
 *		roles with the privileges of mycelium_admin.
 */
bool
mc_role_is_admin(Oid roleid)
{
	Oid			admin = get_role_oid(MC_ADMIN_ROLE, true);

	if (superuser_arg(roleid))
		return true;
	return OidIsValid(admin) && has_privs_of_role(roleid, admin);
}

/*
 * mc_executor_may_run_as
 *		Whether the executor a role registered may run as a workflow's
 *		owner: only when the role could act as the owner anyway (it is the
 *		owner, a member of it, or a superuser).  Registering or replacing
 *		an agent type must never be a way to run code as someone else.
 */
bool
mc_executor_may_run_as(Oid registrar, Oid owner)
{
	return has_privs_of_role(registrar, owner);	/* true for the owner itself */
}

/*
 * mc_role_name
 *		A role's name for a message, or its OID when the role was dropped.
 */
char *
mc_role_name(Oid roleid)
{
	char	   *name = GetUserNameFromId(roleid, true);

	return name != NULL ? name : psprintf("%u", roleid);
}

/*
 * mc_catalog_open
 *		Connects to SPI and switches to the catalog owner with a safe
 *		search_path, remembering who the caller is.
 */
void
mc_catalog_open(McCatalogSession *session)
{
	Oid			owner;

	mc_require_current_catalog();
	session->caller = GetUserId();
	session->caller_is_admin = mc_role_is_admin(session->caller);
	owner = catalog_owner();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	GetUserIdAndSecContext(&session->saved_userid, &session->saved_sec_context);
	SetUserIdAndSecContext(owner,
						   session->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	session->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	session->citus_block = mc_citus_present() && mc_citus_catalog_open();
}

/*
 * mc_catalog_close
 *		Undoes mc_catalog_open: restores search_path and the user id, and
 *		disconnects from SPI.
 */
void
mc_catalog_close(McCatalogSession *session)
{
	AtEOXact_GUC(true, session->guc_nestlevel);
	if (session->citus_block)
		mc_citus_catalog_close();
	SetUserIdAndSecContext(session->saved_userid, session->saved_sec_context);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * Statements on Citus take the time as parameters: Citus refuses
 * clock_timestamp() in a distributed table's UPDATE and now() in an upsert's
 * DO UPDATE SET, and any function but an immutable one in a CASE of an
 * UPDATE, such as the current_setting() of mycelium.priority_aging and the
 * subtraction of an interval from a time that a ready rank computes
 * (MC_READY_RANK).  The extra parameters follow the statement's own:
 * the statement's start, the transaction's, priority_aging as an
 * interval, and the statement's start in seconds since 1970 and
 * priority_aging in seconds, of which a ready rank is computed with
 * to_timestamp(), which is immutable.
 */
#define MC_CITUS_TIME_ARGS 5

/*
 * citus_time_sql
 *		The statement text as it runs on Citus: every MC_READY_RANK(t)
 *		replaced by pg_catalog.to_timestamp($nargs+4 - t.priority *
 *		$nargs+5), every MC_SQL_PLUS_SECONDS and MC_SQL_PLUS_INTERVAL by
 *		its sum in seconds, and pg_catalog.clock_timestamp(),
 *		pg_catalog.now() and MC_PRIORITY_AGING_SQL elsewhere by parameters
 *		$nargs+1 to $nargs+3 (all filled in by catalog_run: see
 *		MC_CITUS_TIME_ARGS).
 */
static char *
citus_time_sql(const char *sql, int nargs)
{
	/* replaced by $nargs+1 .. */
	static const char *const calls[] = {
		"pg_catalog.clock_timestamp()", "pg_catalog.now()", MC_PRIORITY_AGING_SQL
	};
	/* the markers of MC_SQL_PLUS_SECONDS and MC_SQL_PLUS_INTERVAL */
	static const char *const sums[][2] = {
		{"(/*mc:ts*/", "pg_catalog.to_timestamp(pg_catalog.date_part('epoch', "},
		{" + pg_catalog.make_interval(secs => /*mc:secs*/",
		" - '1970-01-01 00:00:00+00'::pg_catalog.timestamptz) + ("},
		{"/*mc:end-secs*/))", "))"},
		{" + /*mc:iv*/",
		" - '1970-01-01 00:00:00+00'::pg_catalog.timestamptz) + pg_catalog.date_part('epoch', "},
		{"/*mc:end-iv*/)", "))"}
	};
	StringInfoData buf;
	const char *p = sql;

	initStringInfo(&buf);
	while (*p)
	{
		int			i;

		/* a ready rank: MC_READY_RANK_BEFORE alias MC_READY_RANK_AFTER */
		if (strncmp(p, MC_READY_RANK_BEFORE, strlen(MC_READY_RANK_BEFORE)) == 0)
		{
			const char *alias = p + strlen(MC_READY_RANK_BEFORE);
			size_t		len = strspn(alias, "abcdefghijklmnopqrstuvwxyz_0123456789");

			if (len > 0 && strncmp(alias + len, MC_READY_RANK_AFTER,
								   strlen(MC_READY_RANK_AFTER)) == 0)
			{
				appendStringInfo(&buf, "pg_catalog.to_timestamp($%d - %.*s.priority * $%d)",
								 nargs + 4, (int) len, alias, nargs + 5);
				p = alias + len + strlen(MC_READY_RANK_AFTER);
				continue;
			}
		}
		for (i = 0; i < lengthof(sums); i++)
			if (strncmp(p, sums[i][0], strlen(sums[i][0])) == 0)
				break;
		if (i < lengthof(sums))
		{
			appendStringInfoString(&buf, sums[i][1]);
			p += strlen(sums[i][0]);
			continue;
		}
		for (i = 0; i < lengthof(calls); i++)
			if (strncmp(p, calls[i], strlen(calls[i])) == 0)
				break;
		if (i < lengthof(calls))
		{
			appendStringInfo(&buf, "$%d", nargs + 1 + i);
			p += strlen(calls[i]);
		}
		else
			appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

/*
 * mc_catalog_plan
 *		The prepared statement in slot id, preparing and keeping it on first
 *		use.  Every statement text must name objects with their schema.
 */
SPIPlanPtr
mc_catalog_plan(McPlanId id, const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;
	bool		on_citus = mc_citus_present();

	Assert(id >= 0 && id < MC_NUM_PLANS);
	if (plans[id] != NULL && custom[id] == on_citus)
		return plans[id];
	if (plans[id] != NULL)
	{
		/* Citus was created or dropped since this backend prepared it */
		SPI_freeplan(plans[id]);
		plans[id] = NULL;
	}

	/*
	 * Every statement here finds its rows by key through an index, whatever
	 * the parameters; a generic plan avoids planning each execution (left
	 * to itself the plan cache keeps re-planning the larger statements).
	 * Citus cannot distribute most generic plans (it routes a statement to
	 * its shard by the parameters' values), so there each execution is
	 * planned with its values.
	 */
	if (on_citus)
	{
		Oid			types[FUNC_MAX_ARGS];

		Assert(nargs + MC_CITUS_TIME_ARGS <= FUNC_MAX_ARGS);
		memcpy(types, argtypes, nargs * sizeof(Oid));
		types[nargs] = types[nargs + 1] = TIMESTAMPTZOID;
		types[nargs + 2] = INTERVALOID;
		types[nargs + 3] = types[nargs + 4] = FLOAT8OID;
		plan = SPI_prepare_cursor(citus_time_sql(sql, nargs),
								  nargs + MC_CITUS_TIME_ARGS, types,
								  CURSOR_OPT_CUSTOM_PLAN);
	}
	else
		plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
								  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	plans[id] = plan;
	custom[id] = on_citus;
	return plan;
}

/* how catalog_run plans a statement */
typedef enum McPlanMode
{
	MC_PLAN_AS_IS,				/* as the planner sees fit */
	MC_PLAN_BY_KEY,				/* sequential scans off */
	MC_PLAN_BY_SET				/* sequential scans and nested loops off */
} McPlanMode;

/*
 * catalog_run
 *		Runs the statement in slot id (preparing it on first use) with the
 *		given parameters; returns the number of rows processed.  A statement
 *		that finds its rows by key runs with sequential scans off; one that
 *		joins a set of a workflow's tasks with the same workflow's rows,
 *		also with nested loops off.
 *
 * A generic plan is kept until an invalidation (an ANALYZE of its tables)
 * makes it stale, and the first one is made when the tables are new and
 * small: left to itself the planner then scans whole tables (a hash join
 * of a set of ids with all of workflow_states), and goes on doing so at
 * every call while the tables grow, until autovacuum gets to them.  For a
 * statement that finds its rows by key an index is always the right way
 * in.  The settings hold for the whole execution, not only when this
 * function sees a plan is stale: the plan cache re-plans inside
 * SPI_execute_plan when an invalidation arrives while it takes the
 * statement's locks, and a plan made there without them (a hash join
 * over all of workflow_states, at every call) would stay until the next
 * ANALYZE.  They are set on the planner's variables themselves, not
 * through the GUC machinery, which would cost more than some of the
 * statements, and put back however the statement ends.  They cost
 * nothing once a plan is made.
 *
 * A statement that joins many of a workflow's tasks with the workflow's
 * rows (all its open tasks, to end them) is the other way round: planned
 * while task_states was young, the generic plan expects a workflow to have
 * a couple of tasks, and joins them in a nested loop that rescans all of
 * the workflow's tasks for each open task, quadratic in its size (minutes
 * for 100,000 tasks).  With nested loops off it is a hash or merge join,
 * linear whatever the statistics say.
 */
static uint64
catalog_run(McPlanId id, const char *sql, int nargs, const Oid *argtypes,
			Datum *values, const char *nulls, long count, McPlanMode mode)
{
	SPIPlanPtr	plan = mc_catalog_plan(id, sql, nargs, argtypes);
	int			rc;
	Datum		citus_values[FUNC_MAX_ARGS];
	char		citus_nulls[FUNC_MAX_ARGS];
	Interval	aging;
	bool		seqscan = enable_seqscan;
	bool		nestloop = enable_nestloop;

	if (custom[id])
	{
		TimestampTz now = GetCurrentTimestamp();

		/* on Citus: the times the statement text's calls stood for */
		Assert(nargs + MC_CITUS_TIME_ARGS <= FUNC_MAX_ARGS);
		memset(citus_nulls, ' ', sizeof(citus_nulls));
		if (nargs > 0)
			memcpy(citus_values, values, nargs * sizeof(Datum));
		if (nargs > 0 && nulls)
			memcpy(citus_nulls, nulls, nargs);
		citus_values[nargs] = TimestampTzGetDatum(now);
		citus_values[nargs + 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		memset(&aging, 0, sizeof(aging));
		aging.time = (int64) mc_priority_aging_s * USECS_PER_SEC;
		citus_values[nargs + 2] = IntervalPGetDatum(&aging);
		citus_values[nargs + 3] = Float8GetDatum((double) now / USECS_PER_SEC +
												 (double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
		citus_values[nargs + 4] = Float8GetDatum((double) mc_priority_aging_s);
		values = citus_values;
		nulls = citus_nulls;
	}

	if (mode == MC_PLAN_AS_IS)
		rc = SPI_execute_plan(plan, values, nulls, false, count);
	else
	{
		PG_TRY();
		{
			enable_seqscan = false;
			if (mode == MC_PLAN_BY_SET)
				enable_nestloop = false;
			rc = SPI_execute_plan(plan, values, nulls, false, count);
		}
		PG_FINALLY();
		{
			enable_seqscan = seqscan;
			enable_nestloop = nestloop;
		}
		PG_END_TRY();
	}
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * mc_catalog_run
 *		Runs a statement that finds its rows by key (see catalog_run).
 *		Results are in SPI_tuptable, read with mc_catalog_value and
 *		mc_catalog_text.
 */
uint64
mc_catalog_run(McPlanId id, const char *sql, int nargs, const Oid *argtypes,
			   Datum *values, const char *nulls, long count)
{
	return catalog_run(id, sql, nargs, argtypes, values, nulls, count, MC_PLAN_BY_KEY);
}

/*
 * mc_catalog_run_scan
 *		Runs a statement meant to read a whole table (the rare ones, such
 *		as the search for attempts a stopped worker left running), planned
 *		as the planner sees fit.
 */
uint64
mc_catalog_run_scan(McPlanId id, const char *sql, int nargs, const Oid *argtypes,
					Datum *values, const char *nulls, long count)
{
	return catalog_run(id, sql, nargs, argtypes, values, nulls, count, MC_PLAN_AS_IS);
}

/*
 * mc_catalog_run_set
 *		Runs a statement that joins a set of a workflow's tasks with the
 *		workflow's rows (see catalog_run), planned with sequential scans
 *		and nested loops off.
 */
uint64
mc_catalog_run_set(McPlanId id, const char *sql, int nargs, const Oid *argtypes,
				   Datum *values, const char *nulls, long count)
{
	return catalog_run(id, sql, nargs, argtypes, values, nulls, count, MC_PLAN_BY_SET);
}

/*
 * mc_catalog_value
 *		Column col (1-based) of result row row of the last statement.
 */
Datum
mc_catalog_value(uint64 row, int col, bool *isnull)
{
	Assert(SPI_tuptable != NULL && row < SPI_processed);
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

/*
 * mc_catalog_result_keep
 *		Keeps the last statement's result so that another statement can run
 *		before it is read again (mc_catalog_result_restore).
 */
void
mc_catalog_result_keep(McCatalogResult *result)
{
	result->tuptable = SPI_tuptable;
	result->processed = SPI_processed;
}

/*
 * mc_catalog_result_restore
 *		Makes the result kept by mc_catalog_result_keep the last
 *		statement's result again.  The results of the statements run in
 *		between stay where they are until the catalog session closes.
 */
void
mc_catalog_result_restore(McCatalogResult *result)
{
	SPI_tuptable = result->tuptable;
	SPI_processed = result->processed;
}

/*
 * mc_catalog_text
 *		Column col of result row row as a C string (NULL for SQL NULL),
 *		allocated in the memory context that was current when the catalog
 *		session opened (not SPI's, which mc_catalog_close frees).  In a
 *		worker that is the transaction's context: copy what must outlive
 *		the transaction.
 */
char *
mc_catalog_text(uint64 row, int col)
{
	char	   *value;
	char	   *copy;

	Assert(SPI_tuptable != NULL && row < SPI_processed);
	value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
	if (value == NULL)
		return NULL;
	copy = SPI_palloc(strlen(value) + 1);
	strcpy(copy, value);
	return copy;
}

/*
 * mc_catalog_count_true
 *		How many of the last statement's rows have true in their only
 *		column (for statements that report a yes/no per row they changed).
 */
uint64
mc_catalog_count_true(uint64 rows)
{
	uint64		n = 0;
	uint64		i;

	for (i = 0; i < rows; i++)
	{
		bool		isnull;
		Datum		d = mc_catalog_value(i, MC_ONLY_COLUMN, &isnull);

		if (!isnull && DatumGetBool(d))
			n++;
	}
	return n;
}

/*
 * mc_catalog_int4_elems
 *		The elements of an int4[] column value that has no NULLs and at
 *		most one dimension (task_states' dependencies and dependents): a
 *		pointer into the array's data, and their number in *n.
 */
int32 *
mc_catalog_int4_elems(ArrayType *a, int *n)
{
	if (ARR_ELEMTYPE(a) != INT4OID || ARR_HASNULL(a) || ARR_NDIM(a) > 1)
		elog(ERROR, "malformed array of task numbers");
	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (int32 *) ARR_DATA_PTR(a);
}

/*
 * mc_catalog_array
 *		A one-dimensional array of n elements of a built-in type, as a
 *		statement parameter (the catalog statements pass sets as arrays).
 *		For a type passed by reference, a zero Datum is a NULL element.
 */
Datum
mc_catalog_array(Datum *elems, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls = NULL;
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	for (i = 0; i < n && !typbyval; i++)
	{
		if (elems[i] != (Datum) 0)
			continue;
		if (nulls == NULL)
			nulls = palloc0(sizeof(bool) * n);
		nulls[i] = true;
	}
	dims[0] = n;
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}
