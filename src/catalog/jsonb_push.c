/*-------------------------------------------------------------------------
 *
 * jsonb_push.c
 *		Building jsonb documents in C, value by value.
 *
 * Thin wrappers over pushJsonbValue for the documents the extension builds
 * itself (handoff messages, the ctx of an attempt).  Each value's JSON
 * type is known where it is pushed, so none of the per-value type lookups
 * of jsonb_build_object are needed.  Numbers come out as
 * jsonb_build_object would make them: an integer as itself, a float8 as
 * its shortest exact decimal form.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "jsonb_push.h"

/*
 * push_string
 *		Adds a string of len bytes as a key, value or array element.
 */
static void
push_string(JsonbParseState **state, JsonbIteratorToken token,
			const char *str, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) str;
	v.val.string.len = len;
	(void) pushJsonbValue(state, token, &v);
}

/*
 * mc_jsonb_push_text, mc_jsonb_push_cstring, mc_jsonb_push_key
 *		Adds a text value or a NUL-terminated string as a key, value or
 *		array element; or a string as an object key.
 */
void
mc_jsonb_push_text(JsonbParseState **state, JsonbIteratorToken token,
				   text *value)
{
	push_string(state, token, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

void
mc_jsonb_push_cstring(JsonbParseState **state, JsonbIteratorToken token,
					  const char *str)
{
	push_string(state, token, str, strlen(str));
}

void
mc_jsonb_push_key(JsonbParseState **state, const char *key)
{
	mc_jsonb_push_cstring(state, WJB_KEY, key);
}

/*
 * mc_jsonb_push_jsonb
 *		Adds a jsonb document (a scalar too) as the value of the current
 *		key (token WJB_VALUE) or as an array's element (WJB_ELEM).
 */
void
mc_jsonb_push_jsonb(JsonbParseState **state, JsonbIteratorToken token,
					Jsonb *value)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	(void) pushJsonbValue(state, token, &v);
}

/*
 * push_numeric
 *		Adds a numeric as the value of the current key.
 */
static void
push_numeric(JsonbParseState **state, Datum numeric)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(numeric);
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * mc_jsonb_push_int
 *		Adds an integer as the value of the current key.
 */
void
mc_jsonb_push_int(JsonbParseState **state, int32 value)
{
	push_numeric(state, DirectFunctionCall1(int4_numeric, Int32GetDatum(value)));
}

/*
 * mc_jsonb_push_float
 *		Adds a float8 as the value of the current key: its shortest exact
 *		decimal form, as float8out writes it, or, not being a JSON number,
 *		a NaN or infinity as a string (what jsonb_build_object does).
 */
void
mc_jsonb_push_float(JsonbParseState **state, float8 value)
{
	char	   *text = float8out_internal(value);

	if (isnan(value) || isinf(value))
		mc_jsonb_push_cstring(state, WJB_VALUE, text);
	else
		push_numeric(state, DirectFunctionCall3(numeric_in, CStringGetDatum(text),
												ObjectIdGetDatum(InvalidOid),
												Int32GetDatum(-1)));
}

/*
 * mc_jsonb_push_bool, mc_jsonb_push_null
 *		Adds true or false, or null, as the value of the current key.
 */
void
mc_jsonb_push_bool(JsonbParseState **state, bool value)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = value;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

void
mc_jsonb_push_null(JsonbParseState **state)
{
	JsonbValue	v;

	v.type = jbvNull;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}
