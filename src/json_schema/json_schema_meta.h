/*-------------------------------------------------------------------------
 *
 * json_schema_meta.h
 *		The meta-schemas built into the JSON Schema validator
 *
 * src/json_schema/json_schema_meta.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MYCELIUM_JSON_SCHEMA_META_H
#define MYCELIUM_JSON_SCHEMA_META_H

#include <stddef.h>

extern const char *js_builtin_document(const char *uri, size_t len);

#endif							/* MYCELIUM_JSON_SCHEMA_META_H */
