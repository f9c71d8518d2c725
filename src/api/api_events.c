/*-------------------------------------------------------------------------
 *
 * api_events.c
 *		Custom events: record_event, by which an agent notes something that
 *		happened in its workflow (a decision, a milestone, a tool call) for
 *		the workflow's timeline and statistics.
 *
 * An event belongs to a workflow and is recorded by its owner (function
 * executors run as the owner) or an administrator: the roles whose
 * external agents may claim its tasks.  An external agent may say which
 * of its workers records the event (worker_id): that worker must hold a
 * running task of the workflow, so an event cannot be ascribed to an
 * agent that is not working on it.  Events are kept in
 * mycelium.workflow_events, which each role reads for its own workflows,
 * and go with their workflow when it is deleted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "catalog.h"
#include "mycelium_errcodes.h"
#include "state.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_record_event);

/*
 * checked_name
 *		A text argument that names something (an event type, an agent or a
 *		worker): the rules of task ids.  NULL when the argument is NULL.
 */
static text *
checked_name(FunctionCallInfo fcinfo, int argno, const char *what)
{
	text	   *value;
	char	   *problem;

	if (PG_ARGISNULL(argno))
		return NULL;
	value = PG_GETARG_TEXT_PP(argno);
	problem = mc_name_problem(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", what),
				 errdetail_internal("%s", problem)));
	return value;
}

/*
 * holds_running_task
 *		Whether the external agent worker_id holds a running task of the
 *		workflow.  Runs inside the catalog session.
 */
static bool
holds_running_task(Datum workflow_id, text *worker_id)
{
	static const Oid argtypes[] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = workflow_id;
	values[1] = PointerGetDatum(worker_id);
	return mc_catalog_run(MC_PLAN_EVENT_HOLDER,
						  "SELECT 1 FROM mycelium.task_states "
						  "WHERE workflow_id = $1 AND worker_id = $2 "
						  "  AND status = 'running' AND lease_until IS NOT NULL",
						  2, argtypes, values, NULL, 1) > 0;
}

/*
 * mc_record_event
 *		record_event(workflow_id, event_type, payload, agent_id, worker_id):
 *		records a custom event on a workflow; returns its event_id (event
 *		ids grow in the order events are recorded).
 */
Datum
mc_record_event(PG_FUNCTION_ARGS)
{
	static const Oid insert_argtypes[] = {UUIDOID, OIDOID, TEXTOID, JSONBOID,
		TEXTOID, TEXTOID, OIDOID};
	McCatalogSession session;
	Datum		workflow_id;
	text	   *event_type;
	Jsonb	   *payload;
	text	   *agent_id;
	text	   *worker_id;
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	Oid			owner;
	int64		event_id;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "event_type");
	mc_require_arg(fcinfo, 2, "payload");
	workflow_id = PG_GETARG_DATUM(0);
	event_type = checked_name(fcinfo, 1, "event type");
	payload = PG_GETARG_JSONB_P(2);
	mc_check_payload_size(payload, "event payload");
	agent_id = checked_name(fcinfo, 3, "agent id");
	worker_id = checked_name(fcinfo, 4, "worker id");

	/* a workflow the caller may not see is reported as missing */
	mc_catalog_open(&session);
	owner = mc_workflow_visible_owner(&session, DatumGetUUIDP(workflow_id));
	values[0] = workflow_id;
	if (worker_id != NULL && !holds_running_task(workflow_id, worker_id))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("worker \"%s\" holds no running task of workflow %s",
						mc_name_for_message(text_to_cstring(worker_id)),
						DatumGetCString(DirectFunctionCall1(uuid_out, workflow_id))),
				 errhint("Leave worker_id out, or give the one the task was claimed with.")));

	memset(nulls, ' ', sizeof(nulls));
	values[1] = ObjectIdGetDatum(owner);
	values[2] = PointerGetDatum(event_type);
	values[3] = JsonbPGetDatum(payload);
	values[4] = PointerGetDatum(agent_id);
	nulls[4] = agent_id ? ' ' : 'n';
	values[5] = PointerGetDatum(worker_id);
	nulls[5] = worker_id ? ' ' : 'n';
	values[6] = ObjectIdGetDatum(session.caller);
	mc_catalog_run(MC_PLAN_EVENT_INSERT,
				   "INSERT INTO mycelium.workflow_events (workflow_id, owner, event_type, "
				   "  payload, agent_id, worker_id, recorded_by) "
				   "VALUES ($1, $2::pg_catalog.regrole, $3, $4, $5, $6, $7::pg_catalog.regrole) "
				   "RETURNING event_id",
				   7, insert_argtypes, values, nulls, 0);
	event_id = DatumGetInt64(mc_catalog_value(0, MC_ONLY_COLUMN, &isnull));
	mc_catalog_close(&session);
	PG_RETURN_INT64(event_id);
}
