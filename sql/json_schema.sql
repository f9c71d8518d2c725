-- json_schema_validate / json_schema_errors

SELECT mycelium.json_schema_validate('{"type": "object", "required": ["a"]}', '{"a": 1}');
SELECT mycelium.json_schema_validate('{"type": "object", "required": ["a"]}', '{"b": 1}');
SELECT mycelium.json_schema_validate('true', '[1, 2]'), mycelium.json_schema_validate('false', 'null');
SELECT mycelium.json_schema_validate('{"type": "string"}', NULL) IS NULL AS strict;

-- every error, with where it is and which keyword it breaks
SELECT * FROM mycelium.json_schema_errors(
	'{"type": "object",
	  "properties": {"name": {"type": "string", "minLength": 3},
					 "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true},
					 "n": {"type": "integer", "minimum": 0, "multipleOf": 2}},
	  "required": ["name", "id"],
	  "additionalProperties": false}',
	'{"name": "x", "tags": ["a", "c", "a"], "n": -3, "extra~/": true}');

-- $ref to $defs, and draft-07 when "$schema" says so
SELECT mycelium.json_schema_validate(
	'{"$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}}, "items": {"$ref": "#/$defs/pos"}}',
	'[1, 2, 0]');
SELECT mycelium.json_schema_validate(
	'{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}], "additionalItems": false}',
	'["a", 1]');

-- the meta-schemas are built in: a schema is checked against its dialect's
SELECT mycelium.json_schema_validate('{"$ref": "https://json-schema.org/draft/2020-12/schema"}',
		'{"type": "object", "properties": {"a": {"minLength": 1}}}') AS valid,
	   mycelium.json_schema_validate('{"$ref": "https://json-schema.org/draft/2020-12/schema"}',
		'{"properties": {"a": {"minLength": -1}}}') AS negative_length,
	   mycelium.json_schema_validate('{"$ref": "http://json-schema.org/draft-07/schema#"}',
		'{"definitions": {"x": {"type": 5}}}') AS bad_type;
SELECT instance_location, keyword_location FROM mycelium.json_schema_errors(
	'{"$ref": "https://json-schema.org/draft/2020-12/schema"}', '{"$defs": {"x": {"required": [1]}}}');

-- pattern uses PostgreSQL's regular expressions, unanchored
SELECT mycelium.json_schema_validate('{"pattern": "^[a-z]+-\\d+$"}', '"task-42"'),
	   mycelium.json_schema_validate('{"pattern": "\\d"}', '"abc"'),
	   mycelium.json_schema_validate('{"patternProperties": {"^x-": {"type": "number"}}}', '{"x-a": "no"}');

-- bad schemas and limits
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"type": 5}', '1')$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"$ref": "http://example.com/other.json"}', '1')$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"pattern": "(unclosed"}', '"x"')$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"$schema": "http://json-schema.org/draft-04/schema#"}', '1')$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"items": {"$ref": "#"}}',
	(SELECT (repeat('[', 600) || repeat(']', 600))::jsonb))$$);
-- numbers beyond 64-bit integers are compared as numbers
SELECT mycelium.json_schema_validate('{"maximum": 1e30}', '123456789012345678901234567890');
