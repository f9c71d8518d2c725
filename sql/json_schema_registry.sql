-- The JSON Schema registry: "$ref" (and "$schema") to another document
-- resolve to a registered one -- the current role's, else a shared one.

-- a role registers its own documents, in any order, referring to each other
SET ROLE regress_alice;
SELECT mycelium.register_schema('https://example.com/schemas/order.json',
	'{"type": "object", "required": ["id", "lines"],
	  "properties": {"id": {"type": "integer"}, "lines": {"type": "array", "items": {"$ref": "line.json"}}}}');
SELECT mycelium.register_schema('https://example.com/schemas/line.json#',
	'{"type": "object", "required": ["sku"], "properties": {"sku": {"$ref": "#/$defs/sku"}},
	  "$defs": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}}}');
SELECT uri, owner, shared FROM mycelium.json_schemas ORDER BY uri;
SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/order.json"}',
		'{"id": 1, "lines": [{"sku": "ABC-1"}]}') AS valid,
	   mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/order.json"}',
		'{"id": 1, "lines": [{"sku": "abc"}]}') AS bad_sku;
SELECT * FROM mycelium.json_schema_errors('{"$ref": "https://example.com/schemas/order.json"}',
	'{"id": "x", "lines": [{}]}');
-- registering again replaces the document
SELECT mycelium.register_schema('https://example.com/schemas/line.json', '{"type": "object"}');
SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/order.json"}',
	'{"id": 1, "lines": [{"sku": "abc"}]}') AS valid_now;

-- what is not registered, or registered by another role, is an error
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/none.json"}', '1')$$);
SET ROLE regress_bob;
SELECT uri FROM mycelium.json_schemas;
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/order.json"}', '{}')$$);
SELECT regress.try($$SELECT mycelium.unregister_schema('https://example.com/schemas/order.json')$$);

-- sharing is for admins; a role's own registration comes before the shared one
SELECT regress.try($$SELECT mycelium.register_schema('https://example.com/schemas/money.json', '{"type": "number"}', shared => true)$$);
SET ROLE regress_admin;
SELECT mycelium.register_schema('https://example.com/schemas/money.json', '{"type": "number", "minimum": 0}', shared => true);
SET ROLE regress_bob;
SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/money.json"}', '-1') AS negative,
	   mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/money.json"}', '5') AS positive;
SELECT mycelium.register_schema('https://example.com/schemas/money.json', '{"type": "number"}');
SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/money.json"}', '-1') AS bobs_own;
SELECT uri, owner, shared FROM mycelium.json_schemas ORDER BY uri, shared;
SELECT mycelium.unregister_schema('https://example.com/schemas/money.json');
SELECT mycelium.json_schema_validate('{"$ref": "https://example.com/schemas/money.json"}', '-1') AS shared_again;
SELECT regress.try($$SELECT mycelium.unregister_schema('https://example.com/schemas/money.json', shared => true)$$);

-- a custom meta-schema: "$schema" names it, its "$vocabulary" is honoured
SELECT mycelium.register_schema('https://example.com/meta/no-validation',
	'{"$schema": "https://json-schema.org/draft/2020-12/schema",
	  "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
					  "https://json-schema.org/draft/2020-12/vocab/applicator": true}}');
SELECT mycelium.json_schema_validate(
	'{"$schema": "https://example.com/meta/no-validation", "properties": {"n": {"minimum": 10}, "x": false}}',
	'{"n": 1}') AS minimum_ignored,
	   mycelium.json_schema_validate(
	'{"$schema": "https://example.com/meta/no-validation", "properties": {"n": {"minimum": 10}, "x": false}}',
	'{"x": 1}') AS applicators_apply;
SELECT mycelium.register_schema('https://example.com/meta/custom-vocabulary',
	'{"$schema": "https://json-schema.org/draft/2020-12/schema",
	  "$vocabulary": {"https://json-schema.org/draft/2020-12/vocab/core": true,
					  "https://example.com/vocab/mine": true}}');
SELECT regress.try($$SELECT mycelium.json_schema_validate('{"$schema": "https://example.com/meta/custom-vocabulary"}', '1')$$);

-- bad registrations
SELECT regress.try($$SELECT mycelium.register_schema('schemas/relative.json', '{}')$$);
SELECT regress.try($$SELECT mycelium.register_schema('https://example.com/a.json#/x', '{}')$$);
SELECT regress.try($$SELECT mycelium.register_schema('https://json-schema.org/draft/2020-12/schema', '{}')$$);
SELECT regress.try($$SELECT mycelium.register_schema('https://example.com/a.json', '[1]')$$);
SELECT regress.try($$SELECT mycelium.register_schema('https://example.com/a.json', NULL)$$);

-- an executor's output schema may refer to the registry; a missing
-- document is refused when the executor is registered
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.register_executor('registry_test', 'regress.echo(jsonb)',
	'{"$ref": "https://example.com/schemas/missing.json"}')$$);
SELECT regress.try($$SELECT mycelium.register_executor('registry_test', 'regress.echo(jsonb)',
	'{"properties": {"task": {"$ref": "https://example.com/schemas/order.json"}}}')$$);
SELECT mycelium.unregister_executor('registry_test');

-- clean up
SELECT mycelium.unregister_schema(uri) FROM mycelium.json_schemas WHERE owner = 'regress_alice';
SET ROLE regress_bob;
SELECT mycelium.unregister_schema(uri) FROM mycelium.json_schemas WHERE owner = 'regress_bob';
RESET ROLE;
SELECT mycelium.unregister_schema('https://example.com/schemas/money.json', shared => true);
SELECT count(*) FROM mycelium.json_schema_registry;
