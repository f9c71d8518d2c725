-- JSON Schema evaluation is bounded (mycelium.json_schema_max_steps) and
-- interruptible (statement_timeout, cancel): no schema holds a backend.

CREATE SCHEMA regress_bounds;

-- regress_bounds.chain(n): the schema of issue 27, n levels of
-- {"anyOf": [next, {"allOf": [next]}]} through "$ref", below
-- "unevaluatedProperties": false -- 2^n evaluations of its last level
-- without memoisation
CREATE FUNCTION regress_bounds.chain(n int) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'$ref', '#/$defs/d0',
		'unevaluatedProperties', false,
		'$defs', jsonb_object_agg('d' || i,
			CASE WHEN i = n THEN '{"properties": {"a": {"type": "integer"}}}'::jsonb
			ELSE jsonb_build_object('anyOf', jsonb_build_array(
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)),
					jsonb_build_object('allOf', jsonb_build_array(
						jsonb_build_object('$ref', '#/$defs/d' || (i + 1))))))
			END))
	  FROM generate_series(0, n) AS i
$$;

-- regress_bounds.dynamic_chain(n): the same, ending in a "$dynamicRef",
-- whose target depends on the dynamic scope
CREATE FUNCTION regress_bounds.dynamic_chain(n int) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT regress_bounds.chain(n) || jsonb_build_object('$id', 'https://example.com/chain')
		|| jsonb_build_object('$defs', (regress_bounds.chain(n)->'$defs')
			|| jsonb_build_object('d' || n, '{"$dynamicRef": "#leaf"}'::jsonb,
								  'leaf', '{"$dynamicAnchor": "leaf", "properties": {"a": {"type": "integer"}}}'::jsonb))
$$;

-- regress_bounds.doubling(n): n levels of {"allOf": [next, next]}: an
-- instance that fails the last level breaks the schema in 2^n places,
-- each an error of its own for json_schema_errors
CREATE FUNCTION regress_bounds.doubling(n int) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'$ref', '#/$defs/d0',
		'$defs', jsonb_object_agg('d' || i,
			CASE WHEN i = n THEN '{"type": "string"}'::jsonb
			ELSE jsonb_build_object('allOf', jsonb_build_array(
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1)),
					jsonb_build_object('$ref', '#/$defs/d' || (i + 1))))
			END))
	  FROM generate_series(0, n) AS i
$$;

-- regress_bounds.wide(k): every item must equal one of k strings "v1" to
-- "vk"; regress_bounds.items(n, k): n items "vk", each valid after k
-- comparisons, so that validation takes n * k steps
CREATE FUNCTION regress_bounds.wide(k int) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_build_object('items', jsonb_build_object('anyOf',
		jsonb_agg(jsonb_build_object('const', 'v' || i))))
	  FROM generate_series(1, k) AS i
$$;
CREATE FUNCTION regress_bounds.items(n int, k int) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT jsonb_agg('v' || k) FROM generate_series(1, n)
$$;
GRANT USAGE ON SCHEMA regress_bounds TO PUBLIC;

SHOW mycelium.json_schema_max_steps;

-- the schema of issue 27 at 40 levels is quick (it ran for more than ten
-- minutes): results through references are memoised
SELECT length(regress_bounds.chain(40)::text) AS schema_bytes;
SELECT mycelium.json_schema_validate(regress_bounds.chain(40), '{"a": 1}') AS valid,
	   mycelium.json_schema_validate(regress_bounds.chain(40), '{"a": 1, "b": 2}') AS extra,
	   mycelium.json_schema_validate(regress_bounds.chain(40), '{"a": "x"}') AS wrong_type;
SELECT instance_location, keyword, message
  FROM mycelium.json_schema_errors(regress_bounds.chain(40), '{"a": 1, "b": 2}');
-- also through "$dynamicRef" (outcomes are memoised per dynamic scope)
SELECT mycelium.json_schema_validate(regress_bounds.dynamic_chain(40), '{"a": 1}') AS valid,
	   mycelium.json_schema_validate(regress_bounds.dynamic_chain(40), '{"a": 1, "b": 2}') AS extra,
	   mycelium.json_schema_validate(regress_bounds.dynamic_chain(40), '{"a": "x"}') AS wrong_type;

-- normal schemas are unaffected, also with a small budget
SET mycelium.json_schema_max_steps = 1000;
SELECT mycelium.json_schema_validate(
	'{"type": "object", "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true}}, "required": ["id"]}',
	'{"id": 7, "tags": ["a", "b"]}') AS valid;
SELECT * FROM mycelium.json_schema_errors(
	'{"$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}}, "items": {"$ref": "#/$defs/pos"}}',
	'[1, 2, 0, "x"]');

-- beyond the budget: refused with 54000, whatever the way in
SELECT regress.try($$SELECT mycelium.json_schema_validate(regress_bounds.wide(100), regress_bounds.items(100, 100))$$);
SELECT regress.try($$SELECT * FROM mycelium.json_schema_errors(regress_bounds.wide(100), regress_bounds.items(100, 100))$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate(regress_bounds.chain(40), '{"a": 1}')$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate(regress_bounds.dynamic_chain(40), '{"a": 1}')$$);
-- compiling counts too: 2,000 subschemas are beyond 1,000 steps
SELECT regress.try($$SELECT mycelium.json_schema_validate(
	(SELECT jsonb_build_object('$defs', jsonb_object_agg('d' || i, '{"type": "integer"}'::jsonb))
	   FROM generate_series(1, 2000) AS i), '1')$$);
-- exponentially many errors: refused at the default budget too
RESET mycelium.json_schema_max_steps;
SELECT mycelium.json_schema_validate(regress_bounds.doubling(40), '1') AS valid;
SELECT mycelium.json_schema_validate(regress_bounds.doubling(40), '"x"') AS valid,
	   mycelium.json_schema_validate(jsonb_build_object('propertyNames', '{"$ref": "#/$defs/d0"}'::jsonb,
		'$defs', regress_bounds.doubling(40)->'$defs'), '{"a": 1, "b": 2}') AS property_names;
SELECT count(*) FROM mycelium.json_schema_errors(regress_bounds.doubling(10), '1');
SELECT * FROM regress.try($$SELECT count(*) FROM mycelium.json_schema_errors(regress_bounds.doubling(40), '1')$$)
 WHERE try NOT LIKE '  DETAIL: %';

-- only a superuser sets the budget
SET mycelium.json_schema_max_steps = 1000;
SET ROLE regress_alice;
SELECT regress.try($$SET mycelium.json_schema_max_steps = 2000000000$$);
SELECT regress.try($$SELECT mycelium.json_schema_validate(regress_bounds.wide(100), regress_bounds.items(100, 100))$$);
RESET ROLE;
RESET mycelium.json_schema_max_steps;

-- statement_timeout ends a validation that would take 10^9 steps, tens
-- of seconds (allowed by the budget): the schema and instance are made
-- beforehand, so the timeout falls in the validation
SET mycelium.json_schema_max_steps = 2000000000;
CREATE TABLE regress_bounds.slow AS
	SELECT regress_bounds.wide(10000) AS schema, regress_bounds.items(100000, 10000) AS instance;
SET statement_timeout = '200ms';
DO $$
BEGIN
	PERFORM mycelium.json_schema_validate(schema, instance) FROM regress_bounds.slow;
	RAISE NOTICE 'validation completed';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'validation ended: %', SQLSTATE;
END
$$;
DO $$
BEGIN
	PERFORM count(*) FROM regress_bounds.slow, mycelium.json_schema_errors(schema, instance);
	RAISE NOTICE 'validation completed';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'validation ended: %', SQLSTATE;
END
$$;
RESET statement_timeout;
RESET mycelium.json_schema_max_steps;

DROP SCHEMA regress_bounds CASCADE;
