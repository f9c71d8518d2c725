/*-------------------------------------------------------------------------
 *
 * api_handoff.c
 *		SQL-callable functions of the handoff protocol: handoff_schema,
 *		create_handoff, validate_handoff, serialize_handoff,
 *		deserialize_handoff and send_handoff.  The protocol itself is in
 *		handoff.c.
 *
 * send_handoff stores a validated message in mycelium.handoffs, as the
 * catalog owner, for a workflow the caller owns (or any workflow, for an
 * administrator).  Executors run as the workflow's owner, so a task may
 * hand work to the other agents of its own workflow.  Messages reach
 * tasks through their ctx.handoffs, which the scheduler fills when it
 * claims a task (dispatch.c): every message of the task's workflow whose
 * target is the task's agent (same agent_id and agent_type), in the order
 * they were sent.
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
#include "handoff.h"
#include "mycelium_errcodes.h"
#include "taskdef.h"

PG_FUNCTION_INFO_V1(mc_handoff_schema_sql);
PG_FUNCTION_INFO_V1(mc_create_handoff);
PG_FUNCTION_INFO_V1(mc_validate_handoff);
PG_FUNCTION_INFO_V1(mc_serialize_handoff);
PG_FUNCTION_INFO_V1(mc_deserialize_handoff);
PG_FUNCTION_INFO_V1(mc_send_handoff);

/*
 * text_arg
 *		A text argument that must not be NULL, as a C string.
 */
static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	mc_require_arg(fcinfo, argno, name);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * mc_handoff_schema_sql
 *		handoff_schema(): the message format, a JSON Schema document.
 */
Datum
mc_handoff_schema_sql(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = mc_handoff_schema();
	Jsonb	   *copy = palloc(VARSIZE(schema));

	memcpy(copy, schema, VARSIZE(schema));
	PG_RETURN_JSONB_P(copy);
}

/*
 * mc_create_handoff
 *		create_handoff(source_agent_id, source_agent_type, target_agent_id,
 *		target_agent_type, task_description, context, metadata, progress):
 *		a new, valid message.
 */
Datum
mc_create_handoff(PG_FUNCTION_ARGS)
{
	McHandoffParts parts;

	parts.source_agent_id = text_arg(fcinfo, 0, "source_agent_id");
	parts.source_agent_type = text_arg(fcinfo, 1, "source_agent_type");
	parts.target_agent_id = text_arg(fcinfo, 2, "target_agent_id");
	parts.target_agent_type = text_arg(fcinfo, 3, "target_agent_type");
	parts.task_description = text_arg(fcinfo, 4, "task_description");
	mc_require_arg(fcinfo, 5, "context");
	mc_require_arg(fcinfo, 6, "metadata");
	parts.context = PG_GETARG_JSONB_P(5);
	parts.metadata = PG_GETARG_JSONB_P(6);
	parts.progress = PG_ARGISNULL(7) ? NULL : PG_GETARG_JSONB_P(7);
	mc_check_payload_size(parts.context, "handoff context");
	mc_check_payload_size(parts.metadata, "handoff metadata");
	PG_RETURN_JSONB_P(mc_handoff_create(&parts));
}

/*
 * mc_validate_handoff
 *		validate_handoff(message): true, or a handoff validation error.
 */
Datum
mc_validate_handoff(PG_FUNCTION_ARGS)
{
	mc_handoff_validate(PG_GETARG_JSONB_P(0));
	PG_RETURN_BOOL(true);
}

/*
 * mc_serialize_handoff
 *		serialize_handoff(message): the canonical text of a valid message.
 */
Datum
mc_serialize_handoff(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(mc_handoff_serialize(PG_GETARG_JSONB_P(0))));
}

/*
 * mc_deserialize_handoff
 *		deserialize_handoff(text): the message a text holds, validated.
 */
Datum
mc_deserialize_handoff(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_JSONB_P(mc_handoff_parse(text_to_cstring(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * mc_send_handoff
 *		send_handoff(workflow_id, message): stores a valid message for the
 *		tasks of a workflow the caller owns; returns its message_id.
 */
Datum
mc_send_handoff(PG_FUNCTION_ARGS)
{
	static const Oid owner_argtypes[] = {UUIDOID};
	static const Oid insert_argtypes[] = {UUIDOID, JSONBOID, OIDOID, OIDOID};
	McCatalogSession session;
	pg_uuid_t  *workflow_id;
	Jsonb	   *message;
	Datum		values[4];
	bool		isnull;
	Oid			owner;
	pg_uuid_t  *message_id;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "message");
	workflow_id = PG_GETARG_UUID_P(0);
	message = PG_GETARG_JSONB_P(1);
	mc_check_payload_size(message, "handoff message");
	mc_handoff_validate(message);
	message_id = palloc(sizeof(pg_uuid_t));	/* outlives the catalog session */

	/* a workflow the caller may not see is reported as missing */
	mc_catalog_open(&session);
	values[0] = UUIDPGetDatum(workflow_id);
	owner = InvalidOid;
	if (mc_catalog_run(MC_PLAN_HANDOFF_OWNER,
					   "SELECT owner::pg_catalog.oid FROM mycelium.workflow_states "
					   "WHERE workflow_id = $1",
					   1, owner_argtypes, values, NULL, 1) > 0)
		owner = DatumGetObjectId(mc_catalog_value(0, 1, &isnull));
	if (!OidIsValid(owner) || (!session.caller_is_admin && owner != session.caller))
		ereport(ERROR,
				(errcode(ERRCODE_MC_STATE),
				 errmsg("workflow %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(workflow_id))))));

	values[1] = JsonbPGetDatum(message);
	values[2] = ObjectIdGetDatum(owner);
	values[3] = ObjectIdGetDatum(session.caller);
	if (mc_catalog_run(MC_PLAN_HANDOFF_INSERT,
					   "INSERT INTO mycelium.handoffs (workflow_id, message_id, owner, "
					   "  target_agent_id, target_agent_type, message, sent_by) "
					   "VALUES ($1, ($2 OPERATOR(pg_catalog.->>) 'message_id')::pg_catalog.uuid, "
					   "  $3::pg_catalog.regrole, "
					   "  $2 OPERATOR(pg_catalog.->) 'target' OPERATOR(pg_catalog.->>) 'agent_id', "
					   "  $2 OPERATOR(pg_catalog.->) 'target' OPERATOR(pg_catalog.->>) 'agent_type', "
					   "  $2, $4::pg_catalog.regrole) "
					   "ON CONFLICT (workflow_id, message_id) DO NOTHING "
					   "RETURNING message_id",
					   4, insert_argtypes, values, NULL, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("handoff message %s was already sent to workflow %s",
						text_to_cstring(DatumGetTextPP(DirectFunctionCall2(jsonb_object_field_text,
																		   JsonbPGetDatum(message),
																		   CStringGetTextDatum("message_id")))),
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(workflow_id))))));
	memcpy(message_id, DatumGetUUIDP(mc_catalog_value(0, 1, &isnull)), sizeof(pg_uuid_t));
	mc_catalog_close(&session);
	PG_RETURN_UUID_P(message_id);
}
