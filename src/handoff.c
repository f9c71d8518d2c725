/*-------------------------------------------------------------------------
 *
 * handoff.c
 *		The handoff protocol: how one agent hands work to another.
 *
 * A handoff message is a JSON object whose format is a JSON Schema
 * document (draft 2020-12), handoff_schema below: a message id and a
 * creation time, the source and target agents, a task description, the
 * context the work needs (kept exactly as given), metadata, optional
 * progress and the protocol version.  Messages are checked against that
 * schema with the extension's validator (its compiled form is cached by
 * api_json_schema.c), so what handoff_schema() shows is exactly what is
 * enforced.
 *
 * The canonical text of a message (serialize) has no insignificant white
 * space and its object keys in byte order at every level, numbers and
 * strings written as jsonb writes them: equal messages give equal text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "api_json_schema.h"
#include "handoff.h"
#include "jsonb_push.h"
#include "mycelium_errcodes.h"

/* violations listed in the DETAIL of a validation error */
#define MAX_VIOLATIONS_SHOWN 10

/*
 * The message format.  Patterns avoid backslashes (PostgreSQL's regular
 * expressions; "format" alone would be an annotation).
 */
static const char handoff_schema_text[] =
"{"
"\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
"\"$id\": \"urn:mycelium:handoff:" MC_HANDOFF_PROTOCOL_VERSION "\","
"\"title\": \"mycelium handoff message\","
"\"description\": \"A message by which one agent hands work to another.\","
"\"type\": \"object\","
"\"required\": [\"protocol_version\", \"message_id\", \"created_at\", \"source\", \"target\","
"  \"task_description\", \"context\", \"metadata\"],"
"\"additionalProperties\": false,"
"\"properties\": {"
"  \"protocol_version\": {\"description\": \"version of the handoff protocol\","
"    \"enum\": [\"" MC_HANDOFF_PROTOCOL_VERSION "\"]},"
"  \"message_id\": {\"description\": \"unique id of the message (a UUID)\","
"    \"type\": \"string\", \"format\": \"uuid\","
"    \"pattern\": \"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$\"},"
"  \"created_at\": {\"description\": \"when the message was created (RFC 3339)\","
"    \"type\": \"string\", \"format\": \"date-time\","
"    \"pattern\": \"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)([.][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$\"},"
"  \"source\": {\"description\": \"the agent handing the work over\", \"$ref\": \"#/$defs/agent\"},"
"  \"target\": {\"description\": \"the agent the work is handed to\", \"$ref\": \"#/$defs/agent\"},"
"  \"task_description\": {\"description\": \"what the target agent is asked to do\","
"    \"type\": \"string\", \"minLength\": 1},"
"  \"context\": {\"description\": \"what the work needs, preserved as given\", \"type\": \"object\"},"
"  \"metadata\": {\"description\": \"anything else about the message\", \"type\": \"object\"},"
"  \"progress\": {\"description\": \"how far the work has come, if reported\","
"    \"type\": [\"object\", \"null\"], \"additionalProperties\": false,"
"    \"properties\": {"
"      \"percent\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 100},"
"      \"stage\": {\"type\": \"string\"},"
"      \"message\": {\"type\": \"string\"},"
"      \"status\": {\"enum\": [\"pending\", \"in_progress\", \"blocked\", \"completed\", \"failed\"]}}}"
"},"
"\"$defs\": {"
"  \"agent\": {\"type\": \"object\", \"required\": [\"agent_id\", \"agent_type\"],"
"    \"additionalProperties\": false,"
"    \"properties\": {"
"      \"agent_id\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 255},"
"      \"agent_type\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 255}}}"
"}"
"}";

/* the schema as jsonb, made once per backend */
static Jsonb *handoff_schema = NULL;

/*
 * mc_handoff_schema
 *		The message format as a JSON Schema document.
 */
Jsonb *
mc_handoff_schema(void)
{
	if (handoff_schema == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		handoff_schema = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															CStringGetDatum(handoff_schema_text)));
		MemoryContextSwitchTo(old);
	}
	return handoff_schema;
}

/*
 * push_agent
 *		Adds {"agent_id": ..., "agent_type": ...} under key.
 */
static void
push_agent(JsonbParseState **state, const char *key, const char *agent_id,
		   const char *agent_type)
{
	mc_jsonb_push_key(state, key);
	(void) pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(state, "agent_id");
	mc_jsonb_push_cstring(state, WJB_VALUE, agent_id);
	mc_jsonb_push_key(state, "agent_type");
	mc_jsonb_push_cstring(state, WJB_VALUE, agent_type);
	(void) pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * new_message_id
 *		A random (version 4) UUID, as text.
 */
static char *
new_message_id(void)
{
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	if (!pg_strong_random(id->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	id->data[6] = (id->data[6] & 0x0f) | 0x40;	/* version 4 */
	id->data[8] = (id->data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * now_rfc3339
 *		The current time in UTC, RFC 3339 with microseconds.
 */
static char *
now_rfc3339(void)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(GetCurrentTimestamp(), NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/*
 * mc_handoff_create
 *		A new message: a fresh id, the current time, the protocol version
 *		and the parts given.  It is validated before it is returned.
 */
Jsonb *
mc_handoff_create(const McHandoffParts *parts)
{
	JsonbParseState *state = NULL;
	JsonbValue *v;
	Jsonb	   *message;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "protocol_version");
	mc_jsonb_push_cstring(&state, WJB_VALUE, MC_HANDOFF_PROTOCOL_VERSION);
	mc_jsonb_push_key(&state, "message_id");
	mc_jsonb_push_cstring(&state, WJB_VALUE, new_message_id());
	mc_jsonb_push_key(&state, "created_at");
	mc_jsonb_push_cstring(&state, WJB_VALUE, now_rfc3339());
	push_agent(&state, "source", parts->source_agent_id, parts->source_agent_type);
	push_agent(&state, "target", parts->target_agent_id, parts->target_agent_type);
	mc_jsonb_push_key(&state, "task_description");
	mc_jsonb_push_cstring(&state, WJB_VALUE, parts->task_description);
	mc_jsonb_push_key(&state, "context");
	mc_jsonb_push_jsonb(&state, WJB_VALUE, parts->context);
	mc_jsonb_push_key(&state, "metadata");
	mc_jsonb_push_jsonb(&state, WJB_VALUE, parts->metadata);
	mc_jsonb_push_key(&state, "progress");
	if (parts->progress != NULL)
		mc_jsonb_push_jsonb(&state, WJB_VALUE, parts->progress);
	else
		mc_jsonb_push_null(&state);
	v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	message = JsonbValueToJsonb(v);

	mc_handoff_validate(message);
	return message;
}

/*
 * mc_handoff_validate
 *		Raises a handoff validation error (MY004) unless the message
 *		follows the protocol.  The DETAIL lists each violation (the first
 *		MAX_VIOLATIONS_SHOWN) with the JSON pointer of the bad value and
 *		the schema keyword it breaks.
 */
void
mc_handoff_validate(Jsonb *message)
{
	bool		truncated;
	List	   *violations;
	StringInfoData detail;
	ListCell   *lc;

	violations = mc_json_schema_check(mc_handoff_schema(), message,
									  MAX_VIOLATIONS_SHOWN, &truncated);
	if (violations == NIL)
		return;

	initStringInfo(&detail);
	foreach(lc, violations)
	{
		McSchemaViolation *viol = lfirst(lc);

		if (detail.len > 0)
			appendStringInfoChar(&detail, '\n');
		appendStringInfo(&detail, "At \"%s\": %s (schema keyword \"%s\").",
						 viol->pointer, viol->message, viol->keyword_location);
	}
	if (truncated)
		appendStringInfoString(&detail, "\nThere are more violations.");
	ereport(ERROR,
			(errcode(ERRCODE_MC_HANDOFF_VALIDATION),
			 errmsg("invalid handoff message"),
			 errdetail_internal("%s", detail.data),
			 errhint("The message format is mycelium.handoff_schema().")));
}

/* an object member, for sorting keys */
typedef struct Member
{
	JsonbValue	key;
	JsonbValue	value;
} Member;

/*
 * member_cmp
 *		Orders object members by key bytes (for UTF-8, code point order).
 */
static int
member_cmp(const void *a, const void *b)
{
	const JsonbValue *ka = &((const Member *) a)->key;
	const JsonbValue *kb = &((const Member *) b)->key;
	int			c = memcmp(ka->val.string.val, kb->val.string.val,
						   Min(ka->val.string.len, kb->val.string.len));

	if (c != 0)
		return c;
	return (ka->val.string.len > kb->val.string.len) -
		(ka->val.string.len < kb->val.string.len);
}

static void append_canonical_container(StringInfo buf, JsonbContainer *c);

/*
 * append_canonical_value
 *		Writes one value (scalar, or a nested container) canonically.
 */
static void
append_canonical_value(StringInfo buf, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(buf, "null");
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(buf,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvString:
			escape_json(buf, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case jbvBinary:
			append_canonical_container(buf, v->val.binary.data);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/*
 * append_canonical_container
 *		Writes an array (elements in order) or an object (members sorted by
 *		key) canonically.
 */
static void
append_canonical_container(StringInfo buf, JsonbContainer *c)
{
	uint32		n = JsonContainerSize(c);
	uint32		i;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (JsonContainerIsArray(c))
	{
		if (JsonContainerIsScalar(c))
		{
			append_canonical_value(buf, getIthJsonbValueFromContainer(c, 0));
			return;
		}
		appendStringInfoChar(buf, '[');
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			append_canonical_value(buf, getIthJsonbValueFromContainer(c, i));
		}
		appendStringInfoChar(buf, ']');
	}
	else
	{
		Member	   *members = palloc(sizeof(Member) * Max(n, 1));
		JsonbIterator *it = JsonbIteratorInit(c);
		JsonbValue	v;
		JsonbIteratorToken token;
		uint32		k = 0;

		while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (token == WJB_KEY)
				members[k].key = v;
			else if (token == WJB_VALUE)
				members[k++].value = v;
		}
		qsort(members, k, sizeof(Member), member_cmp);
		appendStringInfoChar(buf, '{');
		for (i = 0; i < k; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			append_canonical_value(buf, &members[i].key);
			appendStringInfoChar(buf, ':');
			append_canonical_value(buf, &members[i].value);
		}
		appendStringInfoChar(buf, '}');
		pfree(members);
	}
}

/*
 * mc_handoff_serialize
 *		The canonical text of a message (validated first).
 */
char *
mc_handoff_serialize(Jsonb *message)
{
	StringInfoData buf;

	mc_handoff_validate(message);
	initStringInfo(&buf);
	append_canonical_container(&buf, &message->root);
	return buf.data;
}

/*
 * mc_handoff_parse
 *		A message from its text (NUL-terminated, len bytes), validated.
 *		Text that is not JSON is a handoff validation error whose DETAIL
 *		says where (line, column and character position) and why.
 */
Jsonb *
mc_handoff_parse(const char *text, size_t len)
{
	McJsonSyntaxError err;
	Jsonb	   *message;

	if (!mc_json_syntax_check(text, len, &err))
	{
		/* too deep is a limit of the parser, not a fault of the text */
		if (err.too_deep)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("handoff message is nested too deeply"),
					 errdetail("Line %d, column %d (byte %d): %s.",
							   err.line, Max(err.column, 1), err.position, err.message)));
		ereport(ERROR,
				(errcode(ERRCODE_MC_HANDOFF_VALIDATION),
				 errmsg("handoff message is not valid JSON"),
				 errdetail("Line %d, column %d (byte %d): %s.",
						   err.line, Max(err.column, 1), err.position, err.message)));
	}
	message = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	mc_handoff_validate(message);
	return message;
}
