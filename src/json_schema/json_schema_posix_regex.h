/*-------------------------------------------------------------------------
 *
 * json_schema_posix_regex.h
 *		POSIX regular expression hooks for the JSON Schema validator
 *
 * Standalone programs (the conformance runner, the fuzz target) use these
 * hooks; inside PostgreSQL the extension supplies its own regex engine.
 *
 * src/json_schema/json_schema_posix_regex.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MYCELIUM_JSON_SCHEMA_POSIX_REGEX_H
#define MYCELIUM_JSON_SCHEMA_POSIX_REGEX_H

#include "json_schema.h"

/*
 * Hooks compiling patterns with regcomp(REG_EXTENDED | REG_NOSUB) after
 * translating the ECMA-262 escapes \d \D \w \W \s \S; other ECMA-only
 * syntax (lookaround, \p{...}, lazy quantifiers) is rejected by regcomp.
 * Matching follows the current LC_CTYPE (use a UTF-8 locale so that "."
 * matches a whole character).
 */
extern const js_regex_ops *js_posix_regex_ops(void);

#endif							/* MYCELIUM_JSON_SCHEMA_POSIX_REGEX_H */
