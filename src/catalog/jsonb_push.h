/*-------------------------------------------------------------------------
 *
 * jsonb_push.h
 *		Building jsonb documents in C, value by value, without the type
 *		lookups of the SQL constructors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MC_JSONB_PUSH_H
#define MC_JSONB_PUSH_H

#include "utils/jsonb.h"

extern void mc_jsonb_push_key(JsonbParseState **state, const char *key);
extern void mc_jsonb_push_text(JsonbParseState **state,
							   JsonbIteratorToken token, text *value);
extern void mc_jsonb_push_cstring(JsonbParseState **state,
								  JsonbIteratorToken token, const char *str);
extern void mc_jsonb_push_jsonb(JsonbParseState **state,
								JsonbIteratorToken token, Jsonb *value);
extern void mc_jsonb_push_int(JsonbParseState **state, int32 value);
extern void mc_jsonb_push_float(JsonbParseState **state, float8 value);
extern void mc_jsonb_push_bool(JsonbParseState **state, bool value);
extern void mc_jsonb_push_null(JsonbParseState **state);

#endif							/* MC_JSONB_PUSH_H */
