-- mycelium: JSON Schema validation (draft 2020-12, and draft-07 when the
-- schema's "$schema" says so)

CREATE FUNCTION mycelium.json_schema_validate(schema jsonb, instance jsonb)
RETURNS boolean
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_json_schema_validate';
COMMENT ON FUNCTION mycelium.json_schema_validate(jsonb, jsonb) IS
	'whether the instance is valid against the JSON Schema';

CREATE FUNCTION mycelium.json_schema_errors(schema jsonb, instance jsonb)
RETURNS TABLE (instance_location text, keyword_location text, keyword text, message text)
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_json_schema_errors';
COMMENT ON FUNCTION mycelium.json_schema_errors(jsonb, jsonb) IS
	'every way the instance breaks the JSON Schema: JSON pointer of the value, location of the keyword, keyword, message';
