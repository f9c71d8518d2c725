/*-------------------------------------------------------------------------
 *
 * api_handoff.c
 *		SQL-callable functions of the handoff protocol: handoff_schema,
 *		create_handoff, validate_handoff, serialize_handoff,
 *		deserialize_handoff and send_handoff.  The protocol itself is in
 *		handoff.c; add_result_to_context and update_progress are SQL
 *		functions (src/sql/75_handoff.sql).
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
#include "jsonb_push.h"
#include "state.h"
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
 * object_arg
 *		A part of a new message that must be a JSON object (an error of the
 *		handoff protocol otherwise) of bounded size.
 */
static Jsonb *
object_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Jsonb	   *value;

	mc_require_arg(fcinfo, argno, name);
	value = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(value))
		ereport(ERROR,
				(errcode(ERRCODE_MC_HANDOFF_VALIDATION),
				 errmsg("invalid handoff message"),
				 errdetail("The handoff %s must be a JSON object.", name),
				 errhint("The message format is mycelium.handoff_schema().")));
	mc_check_payload_size(value, psprintf("handoff %s", name));
	return value;
}

/*
 * string_member
 *		The value of a top-level member of a valid message as a C string,
 *		NULL when it is missing (the format makes it a string if present).
 */
static char *
string_member(Jsonb *message, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&message->root, JB_FOBJECT, &k);
	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		elog(ERROR, "handoff member \"%s\" is not a string", key);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * parse_uuid
 *		A UUID in its standard form (8-4-4-4-12 hexadecimal digits), or
 *		NULL for any other text.
 */
static pg_uuid_t *
parse_uuid(const char *text)
{
	pg_uuid_t  *id;
	int			i;

	if (strlen(text) != 36)
		return NULL;
	for (i = 0; i < 36; i++)
	{
		bool		dash = (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? text[i] != '-' : !isxdigit((unsigned char) text[i]))
			return NULL;
	}
	id = DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(text)));
	return id;
}

/*
 * message_to_store
 *		The message send_handoff stores for workflow_id: as sent, with a
 *		handoff_id (a new one if it had none; one that is not a UUID is
 *		refused) and the workflow_id (one naming another workflow is
 *		refused).  *id is set to the handoff_id.
 */
static Jsonb *
message_to_store(Jsonb *message, pg_uuid_t *workflow_id, pg_uuid_t **id)
{
	char	   *wf_text = DatumGetCString(DirectFunctionCall1(uuid_out,
															  UUIDPGetDatum(workflow_id)));
	char	   *handoff_id = string_member(message, "handoff_id");
	char	   *named = string_member(message, "workflow_id");
	pg_uuid_t  *named_id;
	JsonbParseState *state = NULL;
	JsonbValue *v;
	Jsonb	   *added;

	if (named != NULL &&
		((named_id = parse_uuid(named)) == NULL ||
		 memcmp(named_id, workflow_id, sizeof(pg_uuid_t)) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_MC_HANDOFF_VALIDATION),
				 errmsg("handoff message names workflow \"%s\", not %s",
						mc_name_for_message(named), wf_text),
				 errhint("Send it to the workflow it names, or leave its workflow_id out.")));
	if (handoff_id != NULL && (*id = parse_uuid(handoff_id)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MC_HANDOFF_VALIDATION),
				 errmsg("handoff_id \"%s\" is not a UUID", mc_name_for_message(handoff_id)),
				 errdetail("A message sent to a workflow is kept under its handoff_id."),
				 errhint("Leave handoff_id out to have one made.")));
	if (handoff_id != NULL && named != NULL)
		return message;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (handoff_id == NULL)
	{
		handoff_id = mc_handoff_new_id();
		*id = parse_uuid(handoff_id);
		mc_jsonb_push_key(&state, "handoff_id");
		mc_jsonb_push_cstring(&state, WJB_VALUE, handoff_id);
	}
	if (named == NULL)
	{
		mc_jsonb_push_key(&state, "workflow_id");
		mc_jsonb_push_cstring(&state, WJB_VALUE, wf_text);
	}
	v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	added = JsonbValueToJsonb(v);
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(message),
											  JsonbPGetDatum(added)));
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
 *		target_agent_type, task_description, context, metadata, state,
 *		workflow_id): a new, valid message.
 */
Datum
mc_create_handoff(PG_FUNCTION_ARGS)
{
	McHandoffParts parts;

	parts.source_agent_id = text_arg(fcinfo, 0, "source_agent_id");
	parts.source_agent_type = text_arg(fcinfo, 1, "source_agent_type");
	parts.target_agent_id = text_arg(fcinfo, 2, "target_agent_id");
	parts.target_agent_type = text_arg(fcinfo, 3, "target_agent_type");
	parts.task_description = PG_ARGISNULL(4) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(4));
	parts.context = object_arg(fcinfo, 5, "context");
	parts.metadata = object_arg(fcinfo, 6, "metadata");
	parts.state = object_arg(fcinfo, 7, "state");
	parts.workflow_id = PG_ARGISNULL(8) ? NULL :
		DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(8)));
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
 *		tasks of a workflow the caller owns; returns its handoff_id.  The
 *		message may name that workflow, no other; it is stored with its
 *		workflow_id and a handoff_id (made when it has none).
 */
Datum
mc_send_handoff(PG_FUNCTION_ARGS)
{
	static const Oid insert_argtypes[] = {UUIDOID, JSONBOID, OIDOID, OIDOID, UUIDOID};
	McCatalogSession session;
	pg_uuid_t  *workflow_id;
	Jsonb	   *message;
	Datum		values[5];
	Oid			owner;
	pg_uuid_t  *handoff_id = NULL;

	mc_require_arg(fcinfo, 0, "workflow_id");
	mc_require_arg(fcinfo, 1, "message");
	workflow_id = PG_GETARG_UUID_P(0);
	message = PG_GETARG_JSONB_P(1);
	mc_check_payload_size(message, "handoff message");
	mc_handoff_validate(message);
	message = message_to_store(message, workflow_id, &handoff_id);

	/* a workflow the caller may not see is reported as missing */
	mc_catalog_open(&session);
	owner = mc_workflow_visible_owner(&session, workflow_id);
	values[0] = UUIDPGetDatum(workflow_id);

	values[1] = JsonbPGetDatum(message);
	values[2] = ObjectIdGetDatum(owner);
	values[3] = ObjectIdGetDatum(session.caller);
	values[4] = UUIDPGetDatum(handoff_id);
	if (mc_catalog_run(MC_PLAN_HANDOFF_INSERT,
					   "INSERT INTO mycelium.handoffs (workflow_id, message_id, owner, "
					   "  target_agent_id, target_agent_type, message, sent_by) "
					   "VALUES ($1, $5, $3::pg_catalog.regrole, "
					   "  $2 OPERATOR(pg_catalog.->) 'target' OPERATOR(pg_catalog.->>) 'agent_id', "
					   "  $2 OPERATOR(pg_catalog.->) 'target' OPERATOR(pg_catalog.->>) 'agent_type', "
					   "  $2, $4::pg_catalog.regrole) "
					   "ON CONFLICT (workflow_id, message_id) DO NOTHING "
					   "RETURNING message_id",
					   5, insert_argtypes, values, NULL, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("handoff message %s was already sent to workflow %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(handoff_id))),
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(workflow_id))))));
	mc_catalog_close(&session);
	PG_RETURN_UUID_P(handoff_id);
}
