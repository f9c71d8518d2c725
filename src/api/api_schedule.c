/*-------------------------------------------------------------------------
 *
 * api_schedule.c
 *		Schedules on pg_cron: schedule_workflow, unschedule_workflow and
 *		run_schedule, the command each schedule's pg_cron job runs.
 *
 * schedule_workflow makes a pg_cron job as the calling role (cron.schedule
 * runs with the caller's own privileges, so pg_cron records the caller as
 * the job's user and runs the job as that role, as it would a job the role
 * made itself).  The job's command is
 *		SELECT mycelium.run_schedule('job name')
 * with the name quoted as a literal.  run_schedule finds the schedule of
 * the role it runs as, so nobody can start another role's schedule.
 *
 * Overlap: with the policy "skip" (the default), a tick while the
 * schedule's last workflow has not finished starts nothing; it is counted
 * in skipped_runs and logged.  The schedule's row is locked for the tick,
 * so two ticks never both start a workflow.
 *
 * pg_cron is optional: without it in this database, these functions say
 * what to install.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "api_template.h"
#include "api_workflow.h"
#include "catalog.h"
#include "shmem.h"
#include "state.h"

PG_FUNCTION_INFO_V1(mc_schedule_workflow);
PG_FUNCTION_INFO_V1(mc_unschedule_workflow);
PG_FUNCTION_INFO_V1(mc_run_schedule);

/* the columns of lock_schedule's statement */
enum
{
	SCHEDULE_TEMPLATE = 1,
	SCHEDULE_VARIABLES,
	SCHEDULE_OVERLAP,
	SCHEDULE_LAST_WORKFLOW_ID,
	SCHEDULE_LAST_STATUS		/* the last workflow's status (NULL: none) */
};

/*
 * pg_cron_installed
 *		Whether the pg_cron extension exists in this database.
 */
static bool
pg_cron_installed(void)
{
	return OidIsValid(get_extension_oid("pg_cron", true));
}

/*
 * require_pg_cron
 *		Schedules need pg_cron in this database, and the caller must be
 *		allowed to make pg_cron jobs (USAGE on schema cron).
 */
static void
require_pg_cron(void)
{
	Oid			cron_schema;
	AclResult	aclresult;
	const char *cron_db = GetConfigOption("cron.database_name", true, false);

	if (!pg_cron_installed())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not installed in this database"),
				 errdetail("Schedules are pg_cron jobs; pg_cron runs jobs in the database named by cron.database_name (%s).",
						   cron_db ? psprintf("now \"%s\"", cron_db) : "not set: pg_cron is not loaded"),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, and run CREATE EXTENSION pg_cron.")));

	cron_schema = get_namespace_oid("cron", false);
#if PG_VERSION_NUM >= 160000
	aclresult = object_aclcheck(NamespaceRelationId, cron_schema, GetUserId(), ACL_USAGE);
#else
	aclresult = pg_namespace_aclcheck(cron_schema, GetUserId(), ACL_USAGE);
#endif
	if (aclresult != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to schedule workflows"),
				 errdetail("Schedules are pg_cron jobs, and role \"%s\" may not use schema cron.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("A superuser can allow it with GRANT USAGE ON SCHEMA cron TO %s.",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/*
 * as_caller
 *		Runs a statement as the role that called the API (not as the
 *		catalog owner), inside the catalog session: pg_cron's functions
 *		must see the caller.  search_path stays pinned; the statement names
 *		its objects with their schema.  An error restores the user id by
 *		(sub)transaction abort.
 */
static uint64
as_caller(McCatalogSession *session, const char *sql, int nargs,
		  Oid *argtypes, Datum *values)
{
	Oid			userid;
	int			sec_context;
	int			rc;

	GetUserIdAndSecContext(&userid, &sec_context);
	SetUserIdAndSecContext(session->saved_userid, session->saved_sec_context);
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	SetUserIdAndSecContext(userid, sec_context);
	return SPI_processed;
}

/*
 * lock_schedule
 *		Locks and reads the caller's schedule job_name, with the status of
 *		its last workflow: template, variables, overlap, last_workflow_id,
 *		status.  false if there is none.
 */
static bool
lock_schedule(McCatalogSession *session, const char *job_name)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(session->caller);
	values[1] = CStringGetTextDatum(job_name);
	return mc_catalog_run(MC_PLAN_SCHEDULE_LOCK,
						  "SELECT s.template, s.variables, s.overlap, s.last_workflow_id, "
						  "  w.status::pg_catalog.text "
						  "FROM mycelium.workflow_schedules s "
						  "LEFT JOIN mycelium.workflow_states w ON w.workflow_id = s.last_workflow_id "
						  "WHERE s.owner = $1 AND s.job_name = $2 FOR UPDATE OF s",
						  2, argtypes, values, NULL, 1) > 0;
}

/*
 * mc_schedule_workflow
 *		schedule_workflow(job_name, schedule, template, variables, overlap):
 *		a pg_cron job, owned by the caller, that starts a workflow from the
 *		caller's template on each tick of schedule (cron syntax); returns
 *		the job's id.
 */
Datum
mc_schedule_workflow(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID, INT8OID, TEXTOID,
		TEXTOID, JSONBOID, TEXTOID};
	Oid			cron_argtypes[] = {TEXTOID, TEXTOID, TEXTOID};
	McCatalogSession session;
	char	   *job_name = mc_text_arg(fcinfo, 0, "job_name");
	char	   *schedule = mc_text_arg(fcinfo, 1, "schedule");
	char	   *template = mc_text_arg(fcinfo, 2, "template");
	Jsonb	   *variables = mc_object_arg(fcinfo, 3, "workflow variables");
	char	   *overlap = mc_text_arg(fcinfo, 4, "overlap");
	char	   *command;
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	int64		job_id;

	mc_check_name(job_name, "job");

	/*
	 * pg_cron keeps job names as type name: a longer one would be cut
	 * short, and two schedules alike in their first bytes would share (and
	 * silently replace) one pg_cron job.
	 */
	if (strlen(job_name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid job name"),
				 errdetail("It is %zu bytes long; pg_cron keeps job names of at most %d bytes.",
						   strlen(job_name), NAMEDATALEN - 1)));
	if (strcmp(overlap, "skip") != 0 && strcmp(overlap, "allow") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid overlap policy \"%s\"", overlap),
				 errhint("The policies are skip (no new run while the last one has not finished) and allow.")));
	require_pg_cron();
	mc_require_scheduler();

	mc_catalog_open(&session);
	if (!mc_template_exists(&session, template))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("template \"%s\" does not exist", template),
				 errhint("Create it with mycelium.create_template().")));
	if (lock_schedule(&session, job_name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("schedule \"%s\" already exists", job_name),
				 errhint("Remove it first with mycelium.unschedule_workflow().")));

	/* pg_cron would silently replace a job of the same name: refuse */
	values[1] = CStringGetTextDatum(job_name);
	if (as_caller(&session, "SELECT 1 FROM cron.job WHERE jobname OPERATOR(pg_catalog.=) $1 "
				  "AND username OPERATOR(pg_catalog.=) CURRENT_USER",
				  1, cron_argtypes, &values[1]) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pg_cron job \"%s\" already exists", job_name),
				 errhint("Choose another job name, or remove that job with cron.unschedule().")));

	command = psprintf("SELECT mycelium.run_schedule(%s)", quote_literal_cstr(job_name));
	values[0] = CStringGetTextDatum(job_name);
	values[1] = CStringGetTextDatum(schedule);
	values[2] = CStringGetTextDatum(command);
	as_caller(&session, "SELECT cron.schedule($1, $2, $3)", 3, cron_argtypes, values);
	job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, MC_ONLY_COLUMN, &isnull));

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(job_name);
	values[2] = Int64GetDatum(job_id);
	values[3] = CStringGetTextDatum(schedule);
	values[4] = CStringGetTextDatum(template);
	values[5] = PointerGetDatum(variables);
	nulls[5] = variables ? ' ' : 'n';
	values[6] = CStringGetTextDatum(overlap);
	mc_catalog_run(MC_PLAN_SCHEDULE_INSERT,
				   "INSERT INTO mycelium.workflow_schedules "
				   "(owner, job_name, job_id, schedule, template, variables, overlap) "
				   "VALUES ($1, $2, $3, $4, $5, COALESCE($6, '{}'), $7)",
				   7, argtypes, values, nulls, 0);
	mc_catalog_close(&session);
	PG_RETURN_INT64(job_id);
}

/*
 * mc_unschedule_workflow
 *		unschedule_workflow(job_name): removes one of the caller's
 *		schedules and its pg_cron job (if pg_cron still has it).
 */
Datum
mc_unschedule_workflow(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID};
	Oid			cron_argtypes[] = {INT8OID};
	McCatalogSession session;
	char	   *job_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		values[2];
	bool		isnull;
	Datum		job_id;

	mc_catalog_open(&session);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(job_name);
	if (mc_catalog_run(MC_PLAN_SCHEDULE_DELETE,
					   "DELETE FROM mycelium.workflow_schedules WHERE owner = $1 AND job_name = $2 "
					   "RETURNING job_id",
					   2, argtypes, values, NULL, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("schedule \"%s\" does not exist", job_name),
				 errhint("A role removes the schedules it made; see mycelium.schedules.")));
	job_id = mc_catalog_value(0, MC_ONLY_COLUMN, &isnull);
	if (pg_cron_installed())
		as_caller(&session, "SELECT cron.unschedule(jobid) FROM cron.job "
				  "WHERE jobid OPERATOR(pg_catalog.=) $1",
				  1, cron_argtypes, &job_id);
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}

/*
 * mc_run_schedule
 *		run_schedule(job_name): one tick of the caller's schedule.  Starts a
 *		workflow from its template and returns the workflow's id, or NULL
 *		when the overlap rule skips the tick.
 */
Datum
mc_run_schedule(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID, UUIDOID};
	McCatalogSession session;
	char	   *job_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *template;
	char	   *overlap;
	char	   *last_status;
	Datum		variables;
	Datum		values[3];
	bool		isnull;
	pg_uuid_t  *id;

	mc_catalog_open(&session);
	if (!lock_schedule(&session, job_name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("schedule \"%s\" does not exist", job_name),
				 errdetail("Role \"%s\" has no schedule of this name.",
						   GetUserNameFromId(session.caller, false))));
	template = mc_catalog_text(0, SCHEDULE_TEMPLATE);
	variables = SPI_datumTransfer(mc_catalog_value(0, SCHEDULE_VARIABLES, &isnull), false, -1);
	overlap = mc_catalog_text(0, SCHEDULE_OVERLAP);
	last_status = mc_catalog_text(0, SCHEDULE_LAST_STATUS);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(job_name);

	if (strcmp(overlap, "skip") == 0 && last_status != NULL &&
		!mc_workflow_status_is_terminal(mc_workflow_status_from_name(last_status)))
	{
		char	   *last = mc_catalog_text(0, SCHEDULE_LAST_WORKFLOW_ID);

		mc_catalog_run(MC_PLAN_SCHEDULE_SKIPPED,
					   "UPDATE mycelium.workflow_schedules SET skipped_runs = skipped_runs + 1, "
					   "last_skipped_at = pg_catalog.now() WHERE owner = $1 AND job_name = $2",
					   2, argtypes, values, NULL, 0);
		mc_catalog_close(&session);
		ereport(LOG,
				(errmsg("mycelium schedule \"%s\" of role \"%s\" skipped a run: workflow %s is still %s",
						job_name, GetUserNameFromId(session.caller, false), last, last_status)));
		PG_RETURN_NULL();
	}

	/*
	 * The workflow is created and started as the caller: out of the catalog
	 * session, keeping the schedule's row lock.
	 */
	mc_catalog_close(&session);
	id = mc_template_start(template, DatumGetJsonbP(variables), NULL, NULL, 0, 0);

	mc_catalog_open(&session);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(job_name);
	values[2] = UUIDPGetDatum(id);
	mc_catalog_run(MC_PLAN_SCHEDULE_RAN,
				   "UPDATE mycelium.workflow_schedules SET runs = runs + 1, "
				   "last_workflow_id = $3, last_run_at = pg_catalog.now() "
				   "WHERE owner = $1 AND job_name = $2",
				   3, argtypes, values, NULL, 0);
	mc_catalog_close(&session);
	PG_RETURN_UUID_P(id);
}
