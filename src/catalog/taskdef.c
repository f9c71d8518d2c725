/*-------------------------------------------------------------------------
 *
 * taskdef.c
 *		Parsing and validation of task definitions.
 *
 * A task definition is a JSON object with the fields of the seed's
 * TaskDefinition: task_id, agent_id, agent_type, dependencies,
 * retry_policy {max_attempts, initial_delay, max_delay, exponential_base},
 * timeout, allow_failure, input and metadata.  Every field is checked for
 * type and range here, and an unknown field is an error (it is most likely
 * a typo).  Graph checks (ids, dependencies, cycles) are in dag.c.
 *
 * A signal task (signals.c) has a field signal instead of agent_type,
 * input, timeout and retry_policy: it is stored with the reserved agent
 * type MC_SIGNAL_AGENT_TYPE and its signal as its input.
 *
 * Errors name the task by its id when it has one, otherwise by its index
 * in the array (0-based, as jsonb's -> operator counts).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "jsonb_push.h"
#include "mycelium.h"
#include "priority.h"
#include "signals.h"
#include "taskdef.h"

/*
 * task_error
 *		Reports a malformed field of a task definition.
 */
static void
pg_attribute_noreturn()
task_error(const McTaskDef *task, const char *detail)
{
	if (task->task_id != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid definition of task \"%s\"", task->task_id),
				 errdetail_internal("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid task definition at index %d", task->index),
			 errdetail_internal("%s", detail)));
}

/*
 * jsonb_type_name
 *		The JSON type name of a jsonb value, for messages.
 */
static const char *
jsonb_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "unknown";
	}
}

/*
 * mc_name_problem
 *		Checks an identifier-like string (task id, agent id, agent type):
 *		not empty, at most MC_MAX_NAME_LEN bytes, no control characters.
 *		Returns NULL if it is fine, else a sentence saying what is wrong, so
 *		each caller can report it in its own words.
 */
char *
mc_name_problem(const char *value, int len)
{
	int			i;

	if (len == 0)
		return pstrdup("It must not be empty.");
	if (len > MC_MAX_NAME_LEN)
		return psprintf("It is %d bytes long; the limit is %d.",
						len, MC_MAX_NAME_LEN);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7f)
			return pstrdup("It must not contain control characters.");
		/* the C1 controls U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8 */
		if (c == 0xc2 && i + 1 < len && (unsigned char) value[i + 1] <= 0x9f &&
			(unsigned char) value[i + 1] >= 0x80 && GetDatabaseEncoding() == PG_UTF8)
			return pstrdup("It must not contain control characters.");
	}
	return NULL;
}

/*
 * mc_name_for_message
 *		A name as error messages show it: whole if it could be a valid name,
 *		else (a name too long to exist, say a megabyte given as a task id)
 *		its first 64 bytes and "...", so that no message quotes all of it.
 */
char *
mc_name_for_message(const char *name)
{
	int			len = strlen(name);

	if (len <= MC_MAX_NAME_LEN)
		return (char *) name;
	return psprintf("%.*s...", pg_mbcliplen(name, len, 64), name);
}

/*
 * mc_require_arg
 *		Refuses a NULL argument of a SQL function that is not STRICT
 *		because some of its arguments may be NULL.
 */
void
mc_require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/*
 * mc_check_payload_size
 *		Refuses a JSON payload larger than mycelium.max_payload_size.
 */
void
mc_check_payload_size(Jsonb *value, const char *what)
{
	Size		size;

	if (value == NULL)
		return;
	size = VARSIZE_ANY(value);
	if (size > (Size) mc_max_payload_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large", what),
				 errdetail("It takes %zu bytes; mycelium.max_payload_size is %d kB.",
						   size, mc_max_payload_kb)));
}

/*
 * mc_check_error_size
 *		Refuses a task error text larger than mycelium.max_payload_size.
 */
void
mc_check_error_size(const char *error)
{
	if (strlen(error) > (Size) mc_max_payload_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("task error is too large"),
				 errdetail("mycelium.max_payload_size is %d kB.", mc_max_payload_kb)));
}

/*
 * get_name_field
 *		A task's identifier-like string field, checked.
 */
static char *
get_name_field(McTaskDef *task, const char *field, JsonbValue *v)
{
	char	   *problem;

	if (v->type != jbvString)
		task_error(task, psprintf("Field \"%s\" must be a string, not %s.",
								  field, jsonb_type_name(v)));
	problem = mc_name_problem(v->val.string.val, v->val.string.len);
	if (problem != NULL)
		task_error(task, psprintf("Field \"%s\" is not a valid name. %s",
								  field, problem));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * get_number
 *		A numeric field as a double, checked to be finite and within
 *		[min, max]; integral if integral is set.
 */
static double
get_number(McTaskDef *task, const char *field, JsonbValue *v,
		   double min, double max, bool integral)
{
	double		d;

	if (v->type != jbvNumeric)
		task_error(task, psprintf("Field \"%s\" must be a number, not %s.",
								  field, jsonb_type_name(v)));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (isnan(d) || d < min || d > max)
		task_error(task, psprintf("Field \"%s\" must be between %.10g and %.10g.",
								  field, min, max));
	if (integral && d != floor(d))
		task_error(task, psprintf("Field \"%s\" must be an integer.", field));
	return d;
}

/*
 * parse_dependencies
 *		The dependencies array: task ids as strings.
 */
static void
parse_dependencies(McTaskDef *task, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n;
	char	   *problem;

	if (v->type == jbvNull)
		return;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		task_error(task, psprintf("Field \"dependencies\" must be an array of task ids, not %s.",
								  jsonb_type_name(v)));

	n = JsonContainerSize(v->val.binary.data);
	if (n > mc_max_tasks_per_workflow)
		task_error(task, "Field \"dependencies\" lists more tasks than mycelium.max_tasks_per_workflow.");
	task->dep_ids = palloc(sizeof(char *) * Max(n, 1));
	task->deps = palloc(sizeof(int32) * Max(n, 1));

	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			task_error(task, psprintf("Element %d of field \"dependencies\" must be a string, not %s.",
									  task->ndeps, jsonb_type_name(&elem)));
		/* not a task id at all: say so here, not as an unknown task */
		problem = mc_name_problem(elem.val.string.val, elem.val.string.len);
		if (problem != NULL)
			task_error(task, psprintf("Element %d of field \"dependencies\" is not a valid task id. %s",
									  task->ndeps, problem));
		task->dep_ids[task->ndeps++] = pnstrdup(elem.val.string.val,
												elem.val.string.len);
	}
}

/*
 * parse_retry_policy
 *		The retry_policy object; absent fields keep their defaults.
 */
static void
parse_retry_policy(McTaskDef *task, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;

	if (v->type == jbvNull)
		return;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		task_error(task, psprintf("Field \"retry_policy\" must be an object, not %s.",
								  jsonb_type_name(v)));

	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		if (val.type == jbvNull)
			continue;
		if (strcmp(name, "max_attempts") == 0)
			task->max_attempts = (int32) get_number(task, "retry_policy.max_attempts",
													&val, 1, MC_MAX_ATTEMPTS, true);
		else if (strcmp(name, "initial_delay") == 0)
			task->initial_delay = get_number(task, "retry_policy.initial_delay",
											 &val, 0, MC_MAX_SECONDS, false);
		else if (strcmp(name, "max_delay") == 0)
			task->max_delay = get_number(task, "retry_policy.max_delay",
										 &val, 0, MC_MAX_SECONDS, false);
		else if (strcmp(name, "exponential_base") == 0)
			task->exponential_base = get_number(task, "retry_policy.exponential_base",
												&val, 1, 1000, false);
		else
			task_error(task, psprintf("Field \"retry_policy\" has unknown key \"%s\"; "
									  "the keys are max_attempts, initial_delay, max_delay and exponential_base.",
									  name));
	}
}

/*
 * to_jsonb_datum
 *		A nested jsonb value as a Jsonb datum of its own (NULL for JSON null).
 */
static Jsonb *
to_jsonb_datum(JsonbValue *v)
{
	if (v->type == jbvNull)
		return NULL;
	return JsonbValueToJsonb(v);
}

/*
 * parse_signal
 *		The signal field of a signal task: the name of the signal it waits
 *		for, or an object {name, deadline, on_deadline, default}.  Sets the
 *		task's input to the signal's stored form, every key present:
 *		{name, deadline (seconds, or null: none), on_deadline ("fail" or
 *		"complete"), default (the result at the deadline, or null)}.
 */
static void
parse_signal(McTaskDef *task, JsonbValue *v)
{
	JsonbParseState *state = NULL;
	char	   *name = NULL;
	double		deadline = -1;
	bool		complete = false;
	bool		on_deadline_given = false;
	JsonbValue *dflt = NULL;

	if (v->type == jbvNull)
		return;					/* as if absent, like every field */
	if (v->type == jbvString)
		name = get_name_field(task, "signal", v);
	else if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	key;
		JsonbValue	val;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			char	   *field;

			if (tok != WJB_KEY)
				continue;
			field = pnstrdup(key.val.string.val, key.val.string.len);
			tok = JsonbIteratorNext(&it, &val, true);
			Assert(tok == WJB_VALUE);
			if (strcmp(field, "name") == 0)
				name = get_name_field(task, "signal.name", &val);
			else if (strcmp(field, "deadline") == 0)
			{
				if (val.type != jbvNull)
				{
					deadline = get_number(task, "signal.deadline", &val, 0,
										  MC_MAX_SIGNAL_DEADLINE, false);
					if (deadline <= 0)
						task_error(task, "Field \"signal.deadline\" must be greater than zero.");
				}
			}
			else if (strcmp(field, "on_deadline") == 0)
			{
				char	   *action;

				if (val.type == jbvNull)
					continue;
				action = val.type == jbvString ?
					pnstrdup(val.val.string.val, val.val.string.len) : "";
				if (strcmp(action, "fail") != 0 && strcmp(action, "complete") != 0)
					task_error(task, "Field \"signal.on_deadline\" must be \"fail\" or \"complete\".");
				complete = strcmp(action, "complete") == 0;
				on_deadline_given = true;
			}
			else if (strcmp(field, "default") == 0)
			{
				if (val.type != jbvNull)
				{
					dflt = palloc(sizeof(JsonbValue));
					*dflt = val;
				}
			}
			else
				task_error(task, psprintf("Field \"signal\" has unknown key \"%s\"; "
										  "the keys are name, deadline, on_deadline and default.",
										  field));
		}
		if (name == NULL)
			task_error(task, "Field \"signal.name\" is required.");
	}
	else
		task_error(task, psprintf("Field \"signal\" must be a signal name or an object, not %s.",
								  jsonb_type_name(v)));

	/* a default result says what happens at the deadline, unless told */
	if (dflt != NULL && !on_deadline_given)
		complete = true;
	if (complete && deadline < 0)
		task_error(task, "Field \"signal.on_deadline\" is \"complete\" but the signal has no deadline.");
	if (dflt != NULL && !complete)
		task_error(task, "Field \"signal.default\" is given but the task fails at its deadline; "
				   "set \"on_deadline\" to \"complete\".");

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&state, "name");
	mc_jsonb_push_cstring(&state, WJB_VALUE, name);
	mc_jsonb_push_key(&state, "deadline");
	if (deadline < 0)
		mc_jsonb_push_null(&state);
	else
		mc_jsonb_push_float(&state, deadline);
	mc_jsonb_push_key(&state, "on_deadline");
	mc_jsonb_push_cstring(&state, WJB_VALUE, complete ? "complete" : "fail");
	mc_jsonb_push_key(&state, "default");
	if (dflt == NULL)
		mc_jsonb_push_null(&state);
	else
		mc_jsonb_push_jsonb(&state, WJB_VALUE, JsonbValueToJsonb(dflt));
	task->input = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	task->signal = name;
}

/*
 * find_task_id
 *		Reads task_id first, so later errors in the same object can name
 *		the task whatever order its keys are in.
 */
static void
find_task_id(McTaskDef *task, JsonbContainer *obj)
{
	JsonbValue *v;

	v = getKeyJsonValueFromContainer(obj, "task_id", strlen("task_id"), NULL);
	if (v == NULL)
		task_error(task, "Field \"task_id\" is required.");
	task->task_id = get_name_field(task, "task_id", v);
}

/*
 * parse_task
 *		One task definition object.
 */
static void
parse_task(McTaskDef *task, JsonbValue *obj)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;
	const char *not_for_signal = NULL;	/* a field a signal task cannot have */

	if (obj->type != jbvBinary || !JsonContainerIsObject(obj->val.binary.data))
		task_error(task, psprintf("A task definition must be an object, not %s.",
								  jsonb_type_name(obj)));

	task->max_attempts = MC_DEFAULT_MAX_ATTEMPTS;
	task->initial_delay = MC_DEFAULT_INITIAL_DELAY;
	task->max_delay = MC_DEFAULT_MAX_DELAY;
	task->exponential_base = MC_DEFAULT_EXPONENTIAL_BASE;

	find_task_id(task, obj->val.binary.data);

	it = JsonbIteratorInit(obj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);

		if (strcmp(name, "task_id") == 0)
			continue;			/* read by find_task_id */
		else if (strcmp(name, "agent_id") == 0)
			task->agent_id = get_name_field(task, name, &val);
		else if (strcmp(name, "agent_type") == 0)
			task->agent_type = get_name_field(task, name, &val);
		else if (strcmp(name, "signal") == 0)
			parse_signal(task, &val);
		else if (strcmp(name, "dependencies") == 0)
			parse_dependencies(task, &val);
		else if (strcmp(name, "retry_policy") == 0)
		{
			if (val.type != jbvNull)
				not_for_signal = "retry_policy";
			parse_retry_policy(task, &val);
		}
		else if (strcmp(name, "timeout") == 0)
		{
			if (val.type != jbvNull)
			{
				not_for_signal = "timeout";
				task->timeout = get_number(task, name, &val, 0, MC_MAX_SECONDS, false);
				if (task->timeout <= 0)
					task_error(task, "Field \"timeout\" must be greater than zero.");
			}
		}
		else if (strcmp(name, "allow_failure") == 0)
		{
			if (val.type == jbvBool)
				task->allow_failure = val.val.boolean;
			else if (val.type != jbvNull)
				task_error(task, psprintf("Field \"allow_failure\" must be a boolean, not %s.",
										  jsonb_type_name(&val)));
		}
		else if (strcmp(name, "priority") == 0)
		{
			if (val.type != jbvNull)
			{
				task->priority = (int32) get_number(task, name, &val, MC_PRIORITY_MIN,
													MC_PRIORITY_MAX, true);
				task->has_priority = true;
			}
		}
		else if (strcmp(name, "input") == 0)
		{
			if (val.type != jbvNull)
				not_for_signal = "input";
			task->input = to_jsonb_datum(&val);
		}
		else if (strcmp(name, "metadata") == 0)
		{
			if (val.type != jbvNull &&
				(val.type != jbvBinary || !JsonContainerIsObject(val.val.binary.data)))
				task_error(task, psprintf("Field \"metadata\" must be an object, not %s.",
										  jsonb_type_name(&val)));
			task->metadata = to_jsonb_datum(&val);
		}
		else
			task_error(task, psprintf("Unknown field \"%s\"; the fields are task_id, agent_id, agent_type, "
									  "signal, dependencies, retry_policy, timeout, allow_failure, priority, input and metadata.",
									  name));
	}

	if (task->signal != NULL)
	{
		/* a signal task waits for its signal: no agent runs it */
		if (not_for_signal != NULL)
			task_error(task, psprintf("A signal task has no field \"%s\": no agent runs it, "
									  "and its input is its signal.", not_for_signal));
		if (task->agent_type != NULL && strcmp(task->agent_type, MC_SIGNAL_AGENT_TYPE) != 0)
			task_error(task, "A signal task has no field \"agent_type\": its agent type is \"" MC_SIGNAL_AGENT_TYPE "\".");
		task->agent_type = MC_SIGNAL_AGENT_TYPE;
		if (task->agent_id == NULL)
			task->agent_id = task->signal;
	}
	else if (task->agent_type != NULL && strcmp(task->agent_type, MC_SIGNAL_AGENT_TYPE) == 0)
		task_error(task, "Agent type \"" MC_SIGNAL_AGENT_TYPE "\" is reserved for signal tasks; "
				   "give the task a field \"signal\" (mycelium.signal_task()).");

	if (task->agent_id == NULL)
		task_error(task, "Field \"agent_id\" is required.");
	if (task->agent_type == NULL)
		task_error(task, "Field \"agent_type\" is required.");
	mc_check_payload_size(task->input, psprintf("input of task \"%s\"", task->task_id));
	mc_check_payload_size(task->metadata, psprintf("metadata of task \"%s\"", task->task_id));
}

/*
 * mc_parse_tasks
 *		Parses a jsonb array of task definitions.  Returns the array of
 *		parsed tasks (palloc'd in the current context) and sets *ntasks.
 */
McTaskDef *
mc_parse_tasks(Jsonb *tasks, int *ntasks)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	McTaskDef  *defs;
	int			n;
	int			i = 0;

	if (!JB_ROOT_IS_ARRAY(tasks) || JB_ROOT_IS_SCALAR(tasks))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks must be a JSON array of task definitions")));
	n = JB_ROOT_COUNT(tasks);
	if (n > mc_max_tasks_per_workflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many tasks in one workflow"),
				 errdetail("%d tasks were given; mycelium.max_tasks_per_workflow is %d.",
						   n, mc_max_tasks_per_workflow)));

	defs = palloc0(sizeof(McTaskDef) * Max(n, 1));
	it = JsonbIteratorInit(&tasks->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		defs[i].index = i;
		parse_task(&defs[i], &v);
		i++;
		CHECK_FOR_INTERRUPTS();
	}
	Assert(i == n);
	*ntasks = n;
	return defs;
}
