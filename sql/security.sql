-- Ownership and isolation: each role sees and changes only its own
-- workflows; mycelium_admin sees and controls all; only members of
-- mycelium_user may call the API; search_path cannot change what the
-- functions do.

SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker')),
								name => 'alice-wf') AS alice_wf \gset
SELECT name, owner FROM mycelium.workflows WHERE name LIKE '%-wf';

-- bob sees none of alice's rows, through the views or the tables
SET ROLE regress_bob;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('b', 'x', 'worker')),
								name => 'bob-wf') AS bob_wf \gset
SELECT name, owner FROM mycelium.workflows WHERE name LIKE '%-wf';
SELECT count(*) FROM mycelium.tasks WHERE workflow_id = :'alice_wf';
SELECT count(*) FROM mycelium.workflow_progress WHERE workflow_id = :'alice_wf';
SELECT count(*) FROM mycelium.task_states WHERE workflow_id = :'alice_wf';
SELECT count(*) FROM mycelium.workflow_history(:'alice_wf');

-- ... and cannot change them: to bob they do not exist
SELECT regress.try(format($$SELECT mycelium.get_workflow(%L)$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.update_task(%L, 'a', 'running')$$, :'alice_wf'));
SELECT regress.try(format($$SELECT mycelium.rollback_workflow(%L, 1)$$, :'alice_wf'));

-- nobody writes the tables directly
SELECT regress.try(format($$UPDATE mycelium.task_states SET status = 'completed' WHERE workflow_id = %L$$, :'bob_wf'));
SELECT regress.try($$DELETE FROM mycelium.workflow_states$$);
SELECT regress.try($$INSERT INTO mycelium.executors VALUES ('x', NULL, NULL, 'regress_bob')$$);

-- the administrator sees and controls everything
SET ROLE regress_admin;
SELECT name, owner FROM mycelium.workflows WHERE name LIKE '%-wf' ORDER BY name;
SELECT count(*) > 2 AS sees_others FROM mycelium.workflows WHERE owner = 'postgres';
SELECT mycelium.update_task(:'alice_wf', 'a', 'running');
SELECT (mycelium.get_workflow(:'alice_wf'))->'tasks'->'a'->>'status' AS alice_task;
SELECT changed_by FROM mycelium.workflow_history(:'alice_wf') WHERE version = 2;

-- a role that is not a member of mycelium_user cannot call the API,
-- even with USAGE on the schema
RESET ROLE;
GRANT USAGE ON SCHEMA mycelium TO regress_outsider;
SET ROLE regress_outsider;
SELECT regress.try($$SELECT mycelium.create_workflow('[]')$$);
SELECT regress.try($$SELECT count(*) FROM mycelium.workflows$$);
RESET ROLE;
REVOKE USAGE ON SCHEMA mycelium FROM regress_outsider;

-- search_path tricks: an "=" operator for uuid that matches everything,
-- and functions named like the ones the extension calls, in a schema
-- searched before pg_catalog, change nothing
CREATE SCHEMA evil;
CREATE FUNCTION evil.always(uuid, uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.always);
CREATE FUNCTION evil.jsonb_build_object(text, text) RETURNS jsonb
	LANGUAGE sql AS $$SELECT '{"hijacked": true}'::jsonb$$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT 'epoch'::timestamptz$$;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
SET ROLE regress_bob;
SET search_path = evil, pg_catalog, public;
SELECT mycelium.get_workflow(:'bob_wf') ? 'hijacked' AS hijacked,
	   mycelium.get_workflow(:'bob_wf')->>'name' AS name;
SELECT regress.try(format($$SELECT mycelium.get_workflow(%L)$$, :'alice_wf'));
SELECT mycelium.update_task(:'bob_wf', 'b', 'running');
SELECT count(*) FROM mycelium.workflow_state_history
 WHERE workflow_id OPERATOR(pg_catalog.=) :'bob_wf' AND changed_at OPERATOR(pg_catalog.<) '2000-01-01';
RESET search_path;
RESET ROLE;
DROP SCHEMA evil CASCADE;
