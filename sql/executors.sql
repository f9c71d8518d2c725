-- register_executor / unregister_executor

SELECT agent_type, executor, output_schema, registered_by
  FROM mycelium.executors WHERE agent_type IN ('external', 'worker') ORDER BY agent_type;

-- re-registering replaces
SELECT mycelium.register_executor('worker', 'regress.echo(jsonb)', '{"type": "object"}');
SELECT executor, output_schema FROM mycelium.executors WHERE agent_type = 'worker';
SELECT mycelium.register_executor('worker', 'regress.echo(jsonb)');

-- bad names and functions
SELECT regress.try($$SELECT mycelium.register_executor(NULL)$$);
SELECT regress.try($$SELECT mycelium.register_executor('')$$);
SELECT regress.try(format($$SELECT mycelium.register_executor('%s')$$, repeat('t', 256)));
SELECT regress.try($$SELECT mycelium.register_executor('bad', 'pg_catalog.jsonb_typeof(jsonb)')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad', 'pg_catalog.jsonb_array_elements(jsonb)')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad', 'pg_catalog.jsonb_concat(jsonb, jsonb)')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad', 'no_such_function(jsonb)')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad', NULL, '[1]')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad', NULL, '"x"')$$);
SELECT regress.try($$SELECT mycelium.register_executor('ok-bool-schema', NULL, 'true')$$);
SELECT mycelium.unregister_executor('ok-bool-schema');

-- the caller must be allowed to execute the function
CREATE FUNCTION regress.private_exec(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT ctx $$;
REVOKE EXECUTE ON FUNCTION regress.private_exec(jsonb) FROM PUBLIC;
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.register_executor('alice-private', 'regress.private_exec(jsonb)')$$);
-- a registration belongs to its role: others cannot replace or remove it
SELECT mycelium.register_executor('alice-type', 'regress.echo(jsonb)');
SET ROLE regress_bob;
SELECT regress.try($$SELECT mycelium.register_executor('alice-type', NULL)$$);
SELECT regress.try($$SELECT mycelium.unregister_executor('alice-type')$$);
SET ROLE regress_admin;
SELECT mycelium.register_executor('alice-type', 'regress.echo(jsonb)');
SELECT registered_by FROM mycelium.executors WHERE agent_type = 'alice-type';
SELECT mycelium.unregister_executor('alice-type');
RESET ROLE;

SELECT regress.try($$SELECT mycelium.unregister_executor('alice-type')$$);
SELECT count(*) FROM mycelium.executors WHERE agent_type IN ('bad', 'alice-type', 'alice-private');
