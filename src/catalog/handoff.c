/*-------------------------------------------------------------------------
 *
 * handoff.c
 *		The handoff protocol: how one agent hands work to another.
 *
 * A handoff message is a JSON object in the format of the original
 * Python coordination module (its schemas/handoff.json, a draft-07 JSON
 * Schema, reproduced as handoff_schema below): the protocol version, a
 * handoff_id, the workflow it belongs to, the source and target agents,
 * the context (task description, previous results, conversation history,
 * files, user preferences), the state (variables, progress, errors),
 * metadata (priority, timeout, retry count, tags, correlation id) and a
 * timestamp.  Messages are checked against that schema with the
 * extension's validator (its compiled form is cached by
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
 * The message format: the original Python module's schemas/handoff.json
 * (draft-07), keyword for keyword, so that a message it accepts is
 * accepted here and one it refuses is refused.  Its "format" keywords are
 * annotations, as they are for the original's validator (the original
 * writes timestamps such as "...+00:00Z", which are not RFC 3339), and
 * its properties are open: other members are allowed.  The one pattern
 * is written without a backslash.
 */
static const char handoff_schema_text[] =
"{"
"\"$schema\": \"http://json-schema.org/draft-07/schema#\","
"\"$id\": \"urn:mycelium:handoff:" MC_HANDOFF_PROTOCOL_VERSION "\","
"\"title\": \"Agent Handoff Message\","
"\"description\": \"JSON schema for agent-to-agent handoff messages enabling state transfer and context preservation\","
"\"type\": \"object\","
"\"required\": [\"version\", \"source\", \"target\", \"context\", \"timestamp\"],"
"\"properties\": {"
"  \"version\": {\"type\": \"string\", \"description\": \"Protocol version for backward compatibility\","
"    \"pattern\": \"^[0-9]+[.][0-9]+$\", \"default\": \"" MC_HANDOFF_PROTOCOL_VERSION "\"},"
"  \"handoff_id\": {\"type\": \"string\", \"description\": \"Unique identifier for this handoff\", \"format\": \"uuid\"},"
"  \"workflow_id\": {\"type\": \"string\", \"description\": \"Workflow identifier this handoff belongs to\", \"format\": \"uuid\"},"
"  \"source\": {\"type\": \"object\", \"description\": \"Source agent information\","
"    \"required\": [\"agent_id\", \"agent_type\"],"
"    \"properties\": {"
"      \"agent_id\": {\"type\": \"string\", \"description\": \"Unique identifier of source agent\"},"
"      \"agent_type\": {\"type\": \"string\", \"description\": \"Type/role of source agent\"},"
"      \"execution_time\": {\"type\": \"number\", \"description\": \"Execution time in milliseconds\"}}},"
"  \"target\": {\"type\": \"object\", \"description\": \"Target agent information\","
"    \"required\": [\"agent_id\", \"agent_type\"],"
"    \"properties\": {"
"      \"agent_id\": {\"type\": \"string\", \"description\": \"Unique identifier of target agent\"},"
"      \"agent_type\": {\"type\": \"string\", \"description\": \"Type/role of target agent\"},"
"      \"requirements\": {\"type\": \"object\", \"description\": \"Requirements or constraints for target agent\"}}},"
"  \"context\": {\"type\": \"object\", \"description\": \"Conversation and task context\","
"    \"properties\": {"
"      \"task_description\": {\"type\": \"string\", \"description\": \"High-level task description\"},"
"      \"previous_results\": {\"type\": \"array\", \"description\": \"Results from previous agents in workflow\","
"        \"items\": {\"type\": \"object\"}},"
"      \"conversation_history\": {\"type\": \"array\", \"description\": \"Relevant conversation messages\","
"        \"items\": {\"type\": \"object\", \"properties\": {"
"          \"role\": {\"type\": \"string\", \"enum\": [\"user\", \"assistant\", \"system\"]},"
"          \"content\": {\"type\": \"string\"},"
"          \"timestamp\": {\"type\": \"string\", \"format\": \"date-time\"}}}},"
"      \"files\": {\"type\": \"array\", \"description\": \"File paths and metadata\","
"        \"items\": {\"type\": \"object\", \"properties\": {"
"          \"path\": {\"type\": \"string\"},"
"          \"type\": {\"type\": \"string\"},"
"          \"metadata\": {\"type\": \"object\"}}}},"
"      \"user_preferences\": {\"type\": \"object\", \"description\": \"User preferences and configuration\"}}},"
"  \"state\": {\"type\": \"object\", \"description\": \"Workflow execution state\","
"    \"properties\": {"
"      \"variables\": {\"type\": \"object\", \"description\": \"Workflow variables and intermediate data\"},"
"      \"progress\": {\"type\": \"object\", \"description\": \"Progress tracking information\","
"        \"properties\": {"
"          \"completed_steps\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
"          \"pending_steps\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
"          \"percentage\": {\"type\": \"number\", \"minimum\": 0, \"maximum\": 100}}},"
"      \"errors\": {\"type\": \"array\", \"description\": \"Errors encountered during execution\","
"        \"items\": {\"type\": \"object\", \"properties\": {"
"          \"agent_id\": {\"type\": \"string\"},"
"          \"error_type\": {\"type\": \"string\"},"
"          \"message\": {\"type\": \"string\"},"
"          \"timestamp\": {\"type\": \"string\", \"format\": \"date-time\"}}}}}},"
"  \"metadata\": {\"type\": \"object\", \"description\": \"Additional metadata for tracking and debugging\","
"    \"properties\": {"
"      \"priority\": {\"type\": \"string\", \"enum\": [\"low\", \"normal\", \"high\", \"critical\"], \"default\": \"normal\"},"
"      \"timeout\": {\"type\": \"number\", \"description\": \"Timeout in milliseconds\"},"
"      \"retry_count\": {\"type\": \"integer\", \"description\": \"Number of retry attempts made\", \"minimum\": 0},"
"      \"tags\": {\"type\": \"array\", \"description\": \"Tags for categorization\", \"items\": {\"type\": \"string\"}},"
"      \"correlation_id\": {\"type\": \"string\", \"description\": \"Correlation ID for distributed tracing\"}}},"
"  \"timestamp\": {\"type\": \"string\", \"format\": \"date-time\", \"description\": \"Handoff creation timestamp\"}"
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
 * push_members
 *		Adds the members of an object, except those named in skip (a
 *		NULL-terminated list), to the object being built.
 */
static void
push_members(JsonbParseState **state, Jsonb *object, const char *const *skip)
{
	JsonbIterator *it = JsonbIteratorInit(&object->root);
	JsonbValue	v;
	JsonbIteratorToken token;
	bool		skipping = false;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
		{
			const char *const *k;

			skipping = false;
			for (k = skip; *k != NULL; k++)
				if (strlen(*k) == v.val.string.len &&
					memcmp(*k, v.val.string.val, v.val.string.len) == 0)
					skipping = true;
			if (!skipping)
				(void) pushJsonbValue(state, WJB_KEY, &v);
		}
		else if (token == WJB_VALUE && !skipping)
			(void) pushJsonbValue(state, WJB_VALUE, &v);
	}
}

/*
 * has_member
 *		Whether an object has a member of this name.
 */
static bool
has_member(Jsonb *object, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&object->root, JB_FOBJECT, &k) != NULL;
}

/*
 * mc_handoff_new_id
 *		A random (version 4) UUID, as text: a new handoff_id.
 */
char *
mc_handoff_new_id(void)
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
 *		A new message as the original's create_handoff makes it: the
 *		protocol version, a fresh handoff_id, the source and target agents,
 *		the context (with task_description, unless the context has its
 *		own), the state, the metadata over the original's defaults
 *		(priority "normal", retry_count 0, no tags), the current time, and
 *		the workflow_id if one is given.  It is validated before it is
 *		returned.
 */
Jsonb *
mc_handoff_create(const McHandoffParts *parts)
{
	static const char *const no_skip[] = {NULL};
	JsonbParseState *state = NULL;
	JsonbValue *v;
	Jsonb	   *message;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "version");
	mc_jsonb_push_cstring(&state, WJB_VALUE, MC_HANDOFF_PROTOCOL_VERSION);
	mc_jsonb_push_key(&state, "handoff_id");
	mc_jsonb_push_cstring(&state, WJB_VALUE, mc_handoff_new_id());
	if (parts->workflow_id != NULL)
	{
		mc_jsonb_push_key(&state, "workflow_id");
		mc_jsonb_push_cstring(&state, WJB_VALUE, parts->workflow_id);
	}
	push_agent(&state, "source", parts->source_agent_id, parts->source_agent_type);
	push_agent(&state, "target", parts->target_agent_id, parts->target_agent_type);

	mc_jsonb_push_key(&state, "context");
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_members(&state, parts->context, no_skip);
	if (parts->task_description != NULL && parts->task_description[0] != '\0' &&
		!has_member(parts->context, "task_description"))
	{
		mc_jsonb_push_key(&state, "task_description");
		mc_jsonb_push_cstring(&state, WJB_VALUE, parts->task_description);
	}
	(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	mc_jsonb_push_key(&state, "state");
	mc_jsonb_push_jsonb(&state, WJB_VALUE, parts->state);

	mc_jsonb_push_key(&state, "metadata");
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (!has_member(parts->metadata, "priority"))
	{
		mc_jsonb_push_key(&state, "priority");
		mc_jsonb_push_cstring(&state, WJB_VALUE, "normal");
	}
	if (!has_member(parts->metadata, "retry_count"))
	{
		JsonbValue	zero;

		zero.type = jbvNumeric;
		zero.val.numeric = int64_to_numeric(0);
		mc_jsonb_push_key(&state, "retry_count");
		(void) pushJsonbValue(&state, WJB_VALUE, &zero);
	}
	if (!has_member(parts->metadata, "tags"))
	{
		mc_jsonb_push_key(&state, "tags");
		(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	push_members(&state, parts->metadata, no_skip);
	(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	mc_jsonb_push_key(&state, "timestamp");
	mc_jsonb_push_cstring(&state, WJB_VALUE, now_rfc3339());
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
