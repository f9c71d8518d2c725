/*-------------------------------------------------------------------------
 *
 * api_json_schema.c
 *		SQL-callable JSON Schema validation: json_schema_validate and
 *		json_schema_errors, over the validator in json_schema.c.
 *
 * The validator and jansson allocate through hooks that this file points
 * at a memory context made for each call, so an error raised anywhere in
 * between (a bad regular expression, a cancel) leaks nothing: the context
 * goes with the call.  "pattern" and "patternProperties" use PostgreSQL's
 * own regular expression engine (advanced syntax, C collation), whose
 * syntax is close to the ECMA-262 expressions JSON Schema specifies.
 *
 * Validation checks for interrupts as it goes (a statement timeout, a
 * cancel or a terminate ends it promptly) and is refused (54000) beyond
 * mycelium.json_schema_max_steps steps, so no schema can hold a backend
 * or a scheduler worker for long.
 *
 * References to other documents resolve to the built-in meta-schemas or
 * to the schema registry (mycelium.json_schema_registry, filled by
 * register_schema): the current role's registration of the URI, else the
 * shared one.  A schema that uses the registry is compiled for each call
 * (the registry may change meanwhile); others are cached.
 *
 * Compiled schemas are cached (MC_SCHEMA_CACHE of them, the oldest making
 * room): a schema is compiled into a memory context of its own, made under
 * the call's context and moved under the cache's only once compiled, so a
 * schema that fails to compile leaves nothing behind.
 *
 * This file does not include utils/builtins.h: its declaration of the SQL
 * function json_object clashes with jansson's.  Nor does it call jansson's
 * json_object(): the name resolves to the server's function of that name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <float.h>
#include <math.h>

#include <jansson.h>

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "json_schema.h"
#include "json_schema_meta.h"

#include "api_json_schema.h"
#include "catalog.h"
#include "mycelium.h"
#include "taskdef.h"
#include "version.h"

PG_FUNCTION_INFO_V1(mc_json_schema_validate);
PG_FUNCTION_INFO_V1(mc_json_schema_errors);
PG_FUNCTION_INFO_V1(mc_register_schema);
PG_FUNCTION_INFO_V1(mc_unregister_schema);

/* where the validator and jansson allocate during the current call */
static MemoryContext js_cxt = NULL;
static bool hooks_installed = false;

/* compiled schemas kept for reuse, by their jsonb text */
#define MC_SCHEMA_CACHE 16

typedef struct CachedSchema
{
	Jsonb	   *source;			/* the schema as given (NULL: slot free) */
	js_schema  *compiled;
	MemoryContext cxt;			/* holds both */
} CachedSchema;

static CachedSchema schema_cache[MC_SCHEMA_CACHE];
static int	schema_cache_next = 0;
static MemoryContext schema_cache_cxt = NULL;

/*
 * js_palloc, js_pfree
 *		The allocation hooks: the current call's context.
 */
static void *
js_palloc(size_t size)
{
	return MemoryContextAlloc(js_cxt, size);
}

static void
js_pfree(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/*
 * make_text
 *		A C string as text (cstring_to_text, without utils/builtins.h).
 */
static text *
make_text(const char *str)
{
	size_t		len = strlen(str);
	text	   *t = (text *) MemoryContextAlloc(js_cxt ? js_cxt : CurrentMemoryContext,
												VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), str, len);
	return t;
}

/*
 * regex_compile, regex_match, regex_release
 *		The validator's regular expression hooks over PostgreSQL's engine.
 *		Compiling checks the expression (an invalid one is an error); the
 *		handle is the expression's text, matched through the backend's
 *		cache of compiled expressions.
 */
static void *
regex_compile(void *arg, const char *pattern, char **errmsg)
{
	text	   *re = make_text(pattern);

	(void) RE_compile_and_cache(re, REG_ADVANCED, C_COLLATION_OID);
	return re;
}

static int
regex_match(void *arg, void *handle, const char *subject, size_t subject_len,
			char **errmsg)
{
	return RE_compile_and_execute((text *) handle, (char *) subject,
								  (int) subject_len, REG_ADVANCED,
								  C_COLLATION_OID, 0, NULL) ? 1 : 0;
}

static void
regex_release(void *arg, void *handle)
{
	pfree(handle);
}

static const js_regex_ops pg_regex_ops = {regex_compile, regex_match, regex_release, NULL};

/*
 * check_interrupts
 *		The validator's interrupt hook: a pending cancel, timeout or
 *		terminate raises its error here, out of the validator, which holds
 *		nothing but memory of the call's context.
 */
static int
check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
	return 0;
}

/*
 * report_budget_exceeded
 *		Refuses (54000) a validation that ran out of steps; "e" is its
 *		failure entry, if errors were collected.
 */
static void
pg_attribute_noreturn()
report_budget_exceeded(const js_error *e)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("JSON Schema evaluation exceeded its budget of %d steps",
					mc_json_schema_max_steps),
			 e ? errdetail_internal("Evaluation stopped at \"%s\" (schema location \"%s\").",
									e->instance_location, e->keyword_location) : 0,
			 errhint("Simplify the schema, or have a superuser raise mycelium.json_schema_max_steps.")));
}

/*
 * validate
 *		js_validate within this session's budget, checking for interrupts.
 *		Running out of steps is an error even when errors are not
 *		collected; other failures are the caller's to report.
 */
static int
validate(js_schema *compiled, json_t *instance, js_error_list *errors)
{
	js_limits	limits;
	int			rc;

	memset(&limits, 0, sizeof(limits));
	limits.max_steps = (unsigned long long) mc_json_schema_max_steps;
	limits.interrupt = check_interrupts;
	rc = js_validate_limited(compiled, instance, errors, &limits);
	if (rc < 0 && errors == NULL && limits.failure != NULL &&
		strcmp(limits.failure, "budget") == 0)
		report_budget_exceeded(NULL);
	return rc;
}

/*
 * begin_call
 *		Installs the hooks (once) and makes the context of this call.
 */
static void
begin_call(void)
{
	if (!hooks_installed)
	{
		js_set_alloc(js_palloc, js_pfree);
		json_set_alloc_funcs(js_palloc, js_pfree);
		hooks_installed = true;
	}
	js_cxt = AllocSetContextCreate(CurrentMemoryContext, "mycelium JSON Schema",
								   ALLOCSET_DEFAULT_SIZES);
}

/*
 * end_call
 *		Frees everything the call allocated through the hooks.
 */
static void
end_call(void)
{
	MemoryContextDelete(js_cxt);
	js_cxt = NULL;
}

/*
 * numeric_to_jansson
 *		A jsonb number as a jansson number: an integer if it has no
 *		fraction and fits in 64 bits, else a real (beyond the range of a
 *		double, the largest double of its sign).
 */
static json_t *
numeric_to_jansson(Numeric num)
{
	char	   *digits = numeric_normalize(num);	/* no exponent, no trailing zeros */
	json_t	   *value = NULL;
	double		d;

	if (strchr(digits, '.') == NULL)
	{
		char	   *end;
		long long	i;

		errno = 0;
		i = strtoll(digits, &end, 10);
		if (errno == 0 && *end == '\0')
			value = json_integer((json_int_t) i);
	}
	if (value == NULL)
	{
		d = strtod(digits, NULL);
		if (isinf(d))
			d = d > 0 ? DBL_MAX : -DBL_MAX;
		value = json_real(d);
	}
	pfree(digits);
	return value;
}

/*
 * scalar_to_jansson
 *		A jsonb scalar as a jansson value.
 */
static json_t *
scalar_to_jansson(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return json_null();
		case jbvBool:
			return json_boolean(v->val.boolean);
		case jbvString:
			/* jansson's strings are UTF-8: check them in other encodings */
			if (GetDatabaseEncoding() == PG_UTF8)
				return json_stringn_nocheck(v->val.string.val, v->val.string.len);
			else
			{
				json_t	   *str = json_stringn(v->val.string.val, v->val.string.len);

				if (str == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("JSON Schema validation of non-ASCII text needs a UTF-8 database")));
				return str;
			}
		case jbvNumeric:
			return numeric_to_jansson(v->val.numeric);
		default:
			elog(ERROR, "unexpected jsonb scalar type %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/* an array or object being filled by to_jansson, and its key in its parent */
typedef struct ConvFrame
{
	json_t	   *container;
	const char *key;
	size_t		key_len;
} ConvFrame;

/*
 * add_to_container
 *		Adds value to an array, or to an object under key.
 */
static void
add_to_container(ConvFrame *frame, const char *key, size_t key_len, json_t *value)
{
	int			rc;

	if (json_is_object(frame->container))
		rc = json_object_setn_new_nocheck(frame->container, key, key_len, value);
	else
		rc = json_array_append_new(frame->container, value);
	if (rc != 0)
		elog(ERROR, "could not build a JSON value for validation");
}

/*
 * to_jansson
 *		A jsonb value as a jansson value, converted directly (no text in
 *		between): one walk over the jsonb, iterative whatever its nesting.
 */
static json_t *
to_jansson(Jsonb *jb)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	ConvFrame  *stack;
	int			depth = 0;
	int			cap = 16;
	const char *key = NULL;
	size_t		key_len = 0;
	json_t	   *result = NULL;

	if (JB_ROOT_IS_SCALAR(jb))
	{
		(void) JsonbExtractScalar(&jb->root, &v);
		return scalar_to_jansson(&v);
	}

	stack = palloc(sizeof(ConvFrame) * cap);
	it = JsonbIteratorInit(&jb->root);
	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (token)
		{
			case WJB_KEY:
				key = v.val.string.val;
				key_len = v.val.string.len;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				add_to_container(&stack[depth - 1], key, key_len, scalar_to_jansson(&v));
				break;
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (depth == cap)
				{
					cap *= 2;
					stack = repalloc(stack, sizeof(ConvFrame) * cap);
				}
				/* json_pack: json_object() here would be the server's SQL function */
				stack[depth].container = token == WJB_BEGIN_ARRAY ? json_array() : json_pack("{}");
				stack[depth].key = key;
				stack[depth].key_len = key_len;
				depth++;
				CHECK_FOR_INTERRUPTS();
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				if (depth == 0)
					result = stack[0].container;
				else
					add_to_container(&stack[depth - 1], stack[depth].key,
									 stack[depth].key_len, stack[depth].container);
				break;
			default:
				elog(ERROR, "unexpected jsonb token %d", (int) token);
		}
	}
	pfree(stack);
	return result;
}

/*
 * cstring_to_text_local, text_to_cstring_local
 *		Conversions between C strings and text in the current memory
 *		context (utils/builtins.h cannot be included here).
 */
static text *
cstring_to_text_local(const char *str)
{
	size_t		len = strlen(str);
	text	   *t = (text *) palloc(VARHDRSZ + len);

	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), str, len);
	return t;
}

static char *
text_to_cstring_local(const text *t)
{
	return pnstrdup(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * is_boolean_scalar
 *		Whether a scalar jsonb is true or false.
 */
static bool
is_boolean_scalar(Jsonb *jb)
{
	JsonbValue	v;

	return JsonbExtractScalar(&jb->root, &v) && v.type == jbvBool;
}

/*
 * load_registered
 *		The validator's load hook: the registered document with this URI,
 *		the current role's, else the shared one; NULL if there is none.
 *		Read as the current role (the registry's row security lets it see
 *		those), with operators named in full whatever the search_path.
 */
static json_t *
load_registered(void *arg, const char *uri)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	json_t	   *doc = NULL;
	bool		isnull;

	if (!IsTransactionState())
		return NULL;
	/* the registry is a catalog table of 0.2.0 */
	mc_require_current_catalog();
	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PointerGetDatum(cstring_to_text_local(uri));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT r.schema FROM mycelium.json_schema_registry r "
							  "WHERE r.uri OPERATOR(pg_catalog.=) $2 "
							  "AND (r.shared OR r.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1) "
							  "ORDER BY r.shared LIMIT 1",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the JSON Schema registry");
	if (SPI_processed > 0)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, MC_ONLY_COLUMN,
									  &isnull);

		if (!isnull)
			doc = to_jansson(DatumGetJsonbP(d));
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return doc;
}

/*
 * compile_schema
 *		The compiled form of a schema given as jsonb, from the cache or
 *		compiled now; an invalid schema is an error.  One that refers to
 *		registered documents is not cached, as they may change.
 */
static js_schema *
compile_schema(Jsonb *schema)
{
	MemoryContext call_cxt = js_cxt;
	CachedSchema *slot;
	char	   *problem = NULL;
	js_schema  *compiled;
	js_compile_options opts;
	int			i;

	for (i = 0; i < MC_SCHEMA_CACHE; i++)
	{
		CachedSchema *c = &schema_cache[i];

		if (c->source != NULL && VARSIZE(c->source) == VARSIZE(schema) &&
			memcmp(c->source, schema, VARSIZE(schema)) == 0)
			return c->compiled;
	}

	/* compile into a context of its own, under the call's until it works */
	js_cxt = AllocSetContextCreate(call_cxt, "mycelium compiled JSON Schema",
								   ALLOCSET_SMALL_SIZES);
	memset(&opts, 0, sizeof(opts));
	opts.default_draft = JS_DRAFT_2020_12;
	opts.regex = &pg_regex_ops;
	opts.load = load_registered;
	opts.max_steps = (unsigned long long) mc_json_schema_max_steps;
	opts.interrupt = check_interrupts;
	compiled = js_compile_opts(to_jansson(schema), &opts, &problem);
	if (compiled == NULL && opts.failure && strcmp(opts.failure, "budget") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON Schema compilation exceeded its budget of %d steps",
						mc_json_schema_max_steps),
				 errhint("Simplify the schema, or have a superuser raise mycelium.json_schema_max_steps.")));
	if (compiled == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid JSON Schema"),
				 errdetail_internal("%s", problem ? problem : "the schema could not be compiled"),
				 problem && strstr(problem, "no schema document") ?
				 errhint("Other documents are registered with mycelium.register_schema.") : 0));
	if (js_schema_loaded_documents(compiled))
	{
		/* stays in the call's context, freed with it */
		js_cxt = call_cxt;
		return compiled;
	}

	if (schema_cache_cxt == NULL)
		schema_cache_cxt = AllocSetContextCreate(TopMemoryContext,
												 "mycelium JSON Schema cache",
												 ALLOCSET_SMALL_SIZES);
	slot = &schema_cache[schema_cache_next];
	schema_cache_next = (schema_cache_next + 1) % MC_SCHEMA_CACHE;
	if (slot->source != NULL)
		MemoryContextDelete(slot->cxt);
	slot->cxt = js_cxt;
	slot->compiled = compiled;
	slot->source = MemoryContextAlloc(js_cxt, VARSIZE(schema));
	memcpy(slot->source, schema, VARSIZE(schema));
	MemoryContextSetParent(slot->cxt, schema_cache_cxt);
	js_cxt = call_cxt;
	return compiled;
}

/*
 * report_evaluation_failure
 *		Validation could not be completed (nesting too deep, or over its
 *		budget, for example).
 */
static void
pg_attribute_noreturn()
report_evaluation_failure(js_error_list *errors)
{
	const js_error *e = js_error_count(errors) > 0 ?
		js_error_at(errors, js_error_count(errors) - 1) : NULL;

	if (e && strcmp(e->keyword, "budget") == 0)
		report_budget_exceeded(e);
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("JSON Schema validation could not be completed"),
			 e ? errdetail_internal("%s at \"%s\" (schema location \"%s\").",
									e->message, e->instance_location, e->keyword_location) : 0));
}

/*
 * mc_json_schema_validate
 *		json_schema_validate(schema, instance): whether the instance is
 *		valid against the schema (draft 2020-12 unless its "$schema" says
 *		draft-07).
 */
Datum
mc_json_schema_validate(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	js_error_list *errors;
	int			rc;

	begin_call();
	errors = js_error_list_new(1);
	rc = validate(compile_schema(schema), to_jansson(instance), errors);
	if (rc < 0)
		report_evaluation_failure(errors);
	end_call();
	PG_RETURN_BOOL(rc == 1);
}

/*
 * mc_json_schema_errors
 *		json_schema_errors(schema, instance): every way the instance breaks
 *		the schema, one row each: the instance's JSON pointer, the schema
 *		keyword's location, the keyword and a message.
 */
Datum
mc_json_schema_errors(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	js_error_list *errors;
	int			rc;
	size_t		i;

	InitMaterializedSRF(fcinfo, 0);
	begin_call();
	errors = js_error_list_new(0);
	rc = validate(compile_schema(schema), to_jansson(instance), errors);
	if (rc < 0)
		report_evaluation_failure(errors);
	for (i = 0; i < js_error_count(errors); i++)
	{
		const js_error *e = js_error_at(errors, i);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = PointerGetDatum(make_text(e->instance_location));
		values[1] = PointerGetDatum(make_text(e->keyword_location));
		values[2] = PointerGetDatum(make_text(e->keyword));
		values[3] = PointerGetDatum(make_text(e->message));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	end_call();
	return (Datum) 0;
}

/*
 * mc_json_schema_compile_check
 *		Refuses (22023) a schema the validator cannot compile, so that a
 *		schema stored for later use (an executor's output_schema) is known
 *		good when it is stored, not when the first result meets it.
 */
void
mc_json_schema_compile_check(Jsonb *schema)
{
	begin_call();
	(void) compile_schema(schema);
	end_call();
}

/*
 * mc_json_schema_check
 *		Checks an instance against a schema for callers in C: NIL if it is
 *		valid, else a list of McSchemaViolation (at most max_errors of them,
 *		*truncated saying whether there were more), allocated in the
 *		caller's memory context.
 *
 * A valid instance is checked once, in the validator's fastest mode (no
 * error collection); only an invalid one is evaluated again for its list.
 */
List *
mc_json_schema_check(Jsonb *schema, Jsonb *instance, int max_errors,
					 bool *truncated)
{
	MemoryContext caller = CurrentMemoryContext;
	js_schema  *compiled;
	json_t	   *value;
	js_error_list *errors;
	List	   *result = NIL;
	size_t		i;
	int			rc;

	begin_call();
	compiled = compile_schema(schema);
	value = to_jansson(instance);
	rc = validate(compiled, value, NULL);
	if (rc == 1)
	{
		end_call();
		*truncated = false;
		return NIL;
	}
	errors = js_error_list_new(max_errors);
	rc = validate(compiled, value, errors);
	if (rc < 0)
		report_evaluation_failure(errors);
	MemoryContextSwitchTo(caller);
	for (i = 0; i < js_error_count(errors); i++)
	{
		const js_error *e = js_error_at(errors, i);
		McSchemaViolation *v = palloc(sizeof(McSchemaViolation));

		v->pointer = pstrdup(e->instance_location);
		v->keyword_location = pstrdup(e->keyword_location);
		v->message = pstrdup(e->message);
		result = lappend(result, v);
	}
	*truncated = js_error_list_truncated(errors);
	end_call();
	return result;
}

/*
 * mc_json_schema_violations
 *		Checks an instance against a schema for callers in C (an executor's
 *		output_schema): NULL if it is valid, else the violations as one
 *		line of text ("/a: message; /b: message", at most ten listed).
 */
char *
mc_json_schema_violations(Jsonb *schema, Jsonb *instance)
{
	bool		truncated;
	List	   *violations = mc_json_schema_check(schema, instance, 10, &truncated);
	StringInfoData buf;
	ListCell   *lc;

	if (violations == NIL)
		return NULL;
	initStringInfo(&buf);
	foreach(lc, violations)
	{
		McSchemaViolation *v = lfirst(lc);

		appendStringInfo(&buf, "%s%s: %s", foreach_current_index(lc) > 0 ? "; " : "",
						 v->pointer[0] ? v->pointer : "/", v->message);
	}
	if (truncated)
		appendStringInfoString(&buf, "; ...");
	return buf.data;
}

/*
 * mc_json_syntax_check
 *		Whether text (len bytes) is one JSON value with no object key
 *		repeated; if not, fills *err with where it stops being one (line
 *		and column from 1, byte position from 0) and why.  Numbers too
 *		large for jansson are not errors: jsonb reads them exactly.
 */
bool
mc_json_syntax_check(const char *text, size_t len, McJsonSyntaxError *err)
{
	MemoryContext caller = CurrentMemoryContext;
	json_error_t jerr;
	json_t	   *value;
	enum json_error_code code;

	begin_call();
	value = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	code = json_error_code(&jerr);
	if (value == NULL && code == json_error_numeric_overflow)
	{
		/* read integers as reals to look past them; a real may overflow */
		value = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
						   JSON_DECODE_INT_AS_REAL, &jerr);
		code = json_error_code(&jerr);
	}
	if (value != NULL || code == json_error_numeric_overflow)
	{
		end_call();
		return true;
	}
	MemoryContextSwitchTo(caller);
	err->line = jerr.line;
	err->column = jerr.column;
	err->position = jerr.position;
	err->too_deep = (code == json_error_stack_overflow);
	if (code == json_error_null_character)
		err->message = pstrdup("\\u0000 is not allowed");
	else if (err->too_deep)
		err->message = psprintf("arrays and objects may be nested at most %d levels deep",
								JSON_PARSER_MAX_DEPTH);
	else
		err->message = pstrdup(jerr.text);
	end_call();
	return false;
}

/*
 * registry_uri
 *		The URI argument of register_schema/unregister_schema: absolute
 *		(a scheme), without a fragment (an empty one is dropped), not one of
 *		the built-in meta-schemas.
 */
static char *
registry_uri(FunctionCallInfo fcinfo)
{
	char	   *uri;
	size_t		len;
	size_t		i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("uri must not be null")));
	uri = text_to_cstring_local(PG_GETARG_TEXT_PP(0));
	len = strlen(uri);
	if (len > 0 && uri[len - 1] == '#')
		uri[--len] = '\0';
	for (i = 0; i < len && (isalnum((unsigned char) uri[i]) ||
							(i > 0 && strchr("+-.", uri[i]) != NULL)); i++)
		;
	if (i == 0 || !isalpha((unsigned char) uri[0]) || i >= len || uri[i] != ':')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schema URI \"%s\" is not an absolute URI", uri),
				 errhint("A registered schema is named by an absolute URI, such as https://example.com/schemas/order.json.")));
	if (strchr(uri, '#') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schema URI \"%s\" has a fragment", uri),
				 errdetail("A fragment names a place inside a document, not a document.")));
	if (len > 2048)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("schema URI is too long"),
				 errdetail("It takes %zu bytes; the limit is 2048.", len)));
	if (js_builtin_document(uri, len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schema URI \"%s\" is a built-in meta-schema", uri)));
	return uri;
}

/*
 * registry_shared
 *		The "shared" argument; sharing is for members of mycelium_admin.
 */
static bool
registry_shared(FunctionCallInfo fcinfo, int argno, McCatalogSession *session)
{
	bool		shared = !PG_ARGISNULL(argno) && PG_GETARG_BOOL(argno);

	if (shared && !session->caller_is_admin)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to share JSON Schemas"),
				 errdetail("Only members of mycelium_admin register and unregister shared schemas.")));
	return shared;
}

/*
 * mc_register_schema
 *		register_schema(uri, schema, shared): stores a JSON Schema document
 *		for references to uri, the caller's own or (an admin's) shared,
 *		replacing the one registered there before.  The document is checked
 *		to be a schema (an object or a boolean) but not compiled: documents
 *		may refer to each other, registered in any order.
 */
Datum
mc_register_schema(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID, JSONBOID, BOOLOID};
	McCatalogSession session;
	char	   *uri = registry_uri(fcinfo);
	Jsonb	   *schema;
	bool		shared;
	Datum		values[4];

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schema must not be null")));
	schema = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(schema) &&
		!(JB_ROOT_IS_SCALAR(schema) && is_boolean_scalar(schema)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JSON Schema must be an object or a boolean")));
	mc_check_payload_size(schema, "schema");

	mc_catalog_open(&session);
	shared = registry_shared(fcinfo, 2, &session);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = PointerGetDatum(cstring_to_text_local(uri));
	values[2] = JsonbPGetDatum(schema);
	values[3] = BoolGetDatum(shared);
	/* one shared registration per URI, whoever made it */
	if (shared)
		(void) mc_catalog_run(MC_PLAN_SCHEMA_UNSHARE,
							  "DELETE FROM mycelium.json_schema_registry "
							  "WHERE uri = $2 AND shared AND owner <> $1",
							  2, argtypes, values, NULL, 0);
	(void) mc_catalog_run(MC_PLAN_SCHEMA_REGISTER,
						  "INSERT INTO mycelium.json_schema_registry (owner, uri, schema, shared) "
						  "VALUES ($1, $2, $3, $4) "
						  "ON CONFLICT (owner, uri) DO UPDATE SET schema = EXCLUDED.schema, "
						  "shared = EXCLUDED.shared, registered_at = pg_catalog.now()",
						  4, argtypes, values, NULL, 0);
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}

/*
 * mc_unregister_schema
 *		unregister_schema(uri, shared): removes the caller's registration of
 *		uri or (an admin's call) the shared one.  Schemas that refer to it
 *		fail to compile from then on.
 */
Datum
mc_unregister_schema(PG_FUNCTION_ARGS)
{
	static const Oid argtypes[] = {REGROLEOID, TEXTOID, BOOLOID};
	McCatalogSession session;
	char	   *uri = registry_uri(fcinfo);
	bool		shared;
	Datum		values[3];

	mc_catalog_open(&session);
	shared = registry_shared(fcinfo, 1, &session);
	values[0] = ObjectIdGetDatum(session.caller);
	values[1] = PointerGetDatum(cstring_to_text_local(uri));
	values[2] = BoolGetDatum(shared);
	if (mc_catalog_run(MC_PLAN_SCHEMA_UNREGISTER,
					   "DELETE FROM mycelium.json_schema_registry "
					   "WHERE uri = $2 AND shared = $3 AND (shared OR owner = $1)",
					   3, argtypes, values, NULL, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no %s JSON Schema is registered as \"%s\"",
						shared ? "shared" : "own", uri),
				 errhint("See mycelium.json_schemas.")));
	mc_catalog_close(&session);
	PG_RETURN_VOID();
}
