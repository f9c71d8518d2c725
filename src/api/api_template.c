/*-------------------------------------------------------------------------
 *
 * api_template.c
 *		Workflow templates: create_template, start_from_template and
 *		drop_template.
 *
 * A template is a workflow definition kept under a name of the role that
 * made it.  It is checked when it is created exactly as create_workflow
 * checks a workflow (fields, graph, agent types), and again when a
 * workflow is created from it, since agent types may have changed since.
 * A role uses only its own templates; names of different roles never
 * clash.  Schedules (api_schedule.c) start workflows from templates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "api_control.h"
#include "api_template.h"
#include "api_workflow.h"
#include "catalog.h"
#include "dag.h"
#include "priority.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_create_template);
PG_FUNCTION_INFO_V1(mc_start_from_template);
PG_FUNCTION_INFO_V1(mc_drop_template);

/* the columns of mc_template_exists' statement: the template's row */
enum
{
	TEMPLATE_TASKS = 1,
	TEMPLATE_CONTEXT,
	TEMPLATE_VARIABLES,
	TEMPLATE_MAX_PARALLEL_TASKS
};

/*
 * mc_text_arg
 *		A text argument that must not be NULL, as a C string.
 */
char *
mc_text_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	mc_require_arg(fcinfo, argno, what);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * mc_check_name
 *		A template or schedule name: not empty, bounded, no control
 *		characters (the rules of task ids).
 */
void
mc_check_name(const char *name, const char *what)
{
	char	   *problem = mc_name_problem(name, strlen(name));

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name", what),
				 errdetail_internal("%s", problem)));
}

/*
 * template_missing
 *		The error for a template the caller does not have.
 */
static void
pg_attribute_noreturn()
template_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("template \"%s\" does not exist", mc_name_for_message(name)),
			 errhint("A role uses the templates it created; see mycelium.templates.")));
}

/*
 * mc_template_exists
 *		Whether the caller has a template of this name.  Runs inside the
 *		catalog session.
 */
bool
mc_template_exists(McCatalogSession *session, const char *name)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(session->caller);
	values[1] = CStringGetTextDatum(name);
	return mc_catalog_run(MC_PLAN_TEMPLATE_GET,
						  "SELECT tasks, context, variables, max_parallel_tasks "
						  "FROM mycelium.workflow_templates WHERE owner = $1 AND name = $2",
						  2, argtypes, values, NULL, 1) > 0;
}

/*
 * mc_template_start
 *		Creates a workflow from the caller's template name, with variables
 *		(an object, or NULL) merged over the template's own and metadata
 *		(or NULL), starts it and returns its id.  The workflow is named
 *		after the template.  With a caller-chosen id (chosen_id not NULL)
 *		the same call again returns the workflow the first one started,
 *		without starting it again (see mc_workflow_create).  start_at
 *		(0: now) delays the start (mc_workflow_start_at).  The workflow
 *		has priority (priority.c).
 */
pg_uuid_t *
mc_template_start(const char *name, Jsonb *variables, Jsonb *metadata,
				  pg_uuid_t *chosen_id, TimestampTz start_at, int32 priority)
{
	McCatalogSession session;
	Datum		tasks;
	Datum		context;
	Datum		defaults;
	int32		max_parallel;
	bool		isnull;
	pg_uuid_t  *id;
	bool		created;

	/* copied out of SPI's memory, detoasted only once it is closed */
	mc_catalog_open(&session);
	if (!mc_template_exists(&session, name))
		template_missing(name);
	tasks = SPI_datumTransfer(mc_catalog_value(0, TEMPLATE_TASKS, &isnull), false, -1);
	context = SPI_datumTransfer(mc_catalog_value(0, TEMPLATE_CONTEXT, &isnull), false, -1);
	defaults = SPI_datumTransfer(mc_catalog_value(0, TEMPLATE_VARIABLES, &isnull), false, -1);
	max_parallel = DatumGetInt32(mc_catalog_value(0, TEMPLATE_MAX_PARALLEL_TASKS, &isnull));
	mc_catalog_close(&session);

	if (variables != NULL)
	{
		variables = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, defaults,
													   JsonbPGetDatum(variables)));
		mc_check_payload_size(variables, "workflow variables");
	}
	else
		variables = DatumGetJsonbP(defaults);

	id = mc_workflow_create(DatumGetJsonbP(tasks), DatumGetJsonbP(context),
							variables, max_parallel, cstring_to_text(name),
							metadata, chosen_id, priority, &created);
	if (created)
		(void) mc_workflow_start_at(id, start_at);
	return id;
}

/*
 * mc_create_template
 *		create_template(name, tasks, context, variables, max_parallel_tasks,
 *		description): checks the definition as create_workflow would and
 *		stores it under name for the calling role.
 */
Datum
mc_create_template(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID, JSONBOID, JSONBOID,
		JSONBOID, INT4OID, TEXTOID};
	McCatalogSession session;
	MemoryContext cxt;
	MemoryContext old;
	char	   *name;
	Jsonb	   *tasks_arg;
	Jsonb	   *context;
	Jsonb	   *variables;
	int32		max_parallel;
	McTaskDef  *tasks;
	int			ntasks;
	Datum		values[7];
	char		nulls[7];

	name = mc_text_arg(fcinfo, 0, "template name");
	mc_check_name(name, "template");
	mc_require_arg(fcinfo, 1, "tasks");
	mc_require_arg(fcinfo, 4, "max_parallel_tasks");
	max_parallel = PG_GETARG_INT32(4);
	mc_check_max_parallel(max_parallel);
	tasks_arg = PG_GETARG_JSONB_P(1);
	context = mc_object_arg(fcinfo, 2, "workflow context");
	variables = mc_object_arg(fcinfo, 3, "workflow variables");

	cxt = AllocSetContextCreate(CurrentMemoryContext, "mycelium create_template",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	tasks = mc_parse_tasks(tasks_arg, &ntasks);
	(void) mc_dag_resolve(tasks, ntasks);

	mc_catalog_open(&session);
	mc_check_agent_types(tasks, ntasks, session.caller);
	if (mc_template_exists(&session, name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("template \"%s\" already exists", name),
				 errhint("Drop it first with mycelium.drop_template().")));

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(name);
	values[2] = JsonbPGetDatum(tasks_arg);
	values[3] = PointerGetDatum(context);
	nulls[3] = context ? ' ' : 'n';
	values[4] = PointerGetDatum(variables);
	nulls[4] = variables ? ' ' : 'n';
	values[5] = Int32GetDatum(max_parallel);
	values[6] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	nulls[6] = PG_ARGISNULL(5) ? 'n' : ' ';
	mc_catalog_run(MC_PLAN_TEMPLATE_INSERT,
				   "INSERT INTO mycelium.workflow_templates "
				   "(owner, name, tasks, context, variables, max_parallel_tasks, description) "
				   "VALUES ($1, $2, $3, COALESCE($4, '{}'), COALESCE($5, '{}'), $6, $7)",
				   7, argtypes, values, nulls, 0);
	mc_catalog_close(&session);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	PG_RETURN_VOID();
}

/*
 * mc_start_from_template
 *		start_from_template(name, variables, metadata, workflow_id,
 *		start_at, priority): creates a workflow of priority from one of the
 *		caller's templates and starts it, now or at start_at; returns its
 *		id.
 */
Datum
mc_start_from_template(PG_FUNCTION_ARGS)
{
	char	   *name = mc_text_arg(fcinfo, 0, "template name");
	Jsonb	   *variables = mc_object_arg(fcinfo, 1, "workflow variables");
	Jsonb	   *metadata = mc_object_arg(fcinfo, 2, "workflow metadata");
	int32		priority = mc_priority_arg(fcinfo, 5);

	PG_RETURN_UUID_P(mc_template_start(name, variables, metadata,
									   PG_ARGISNULL(3) ? NULL : PG_GETARG_UUID_P(3),
									   PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4),
									   priority));
}

/*
 * mc_drop_template
 *		drop_template(name): removes one of the caller's templates, unless a
 *		schedule still starts workflows from it.
 */
Datum
mc_drop_template(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID};
	McCatalogSession session;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		values[2];

	mc_catalog_open(&session);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = CStringGetTextDatum(name);
	if (mc_catalog_run(MC_PLAN_TEMPLATE_SCHEDULES,
					   "SELECT job_name FROM mycelium.workflow_schedules "
					   "WHERE owner = $1 AND template = $2 ORDER BY job_name",
					   2, argtypes, values, NULL, 1) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("template \"%s\" is used by schedule \"%s\"", name,
						mc_catalog_text(0, MC_ONLY_COLUMN)),
				 errhint("Remove the schedule first with mycelium.unschedule_workflow().")));
	if (mc_catalog_run(MC_PLAN_TEMPLATE_DELETE,
					   "DELETE FROM mycelium.workflow_templates WHERE owner = $1 AND name = $2",
					   2, argtypes, values, NULL, 0) == 0)
		template_missing(name);
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}
