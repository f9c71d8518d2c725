-- search_path hijacking: with a schema full of look-alikes searched
-- before pg_catalog (operators for uuid, text, integer and jsonb,
-- functions named like the built-ins the extension calls, tables named
-- like its own), every function of the extension does what it does with
-- a clean search_path.  Each look-alike raises an error when called, so
-- any use of one would show.  Then: every SQL-language function of the
-- extension has a body parsed at creation (BEGIN ATOMIC) or a pinned
-- search_path.

CREATE SCHEMA evil;
CREATE FUNCTION evil.caught(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'hijacked by evil.%', what;
END $$;
CREATE FUNCTION evil.eq_uuid(uuid, uuid) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('=(uuid)')$$;
CREATE FUNCTION evil.eq_text(text, text) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('=(text)')$$;
CREATE FUNCTION evil.eq_int(integer, integer) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('=(integer)')$$;
CREATE FUNCTION evil.lt_int(integer, integer) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('<(integer)')$$;
CREATE FUNCTION evil.cat(text, text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('||')::text$$;
CREATE FUNCTION evil.arrow(jsonb, text) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('->')::text::jsonb$$;
CREATE FUNCTION evil.arrow2(jsonb, text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('->>')::text$$;
CREATE FUNCTION evil.jcat(jsonb, jsonb) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('||(jsonb)')::text::jsonb$$;
CREATE FUNCTION evil.any_eq(integer, integer[]) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('= ANY')$$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.eq_uuid);
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.eq_text);
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.eq_int);
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.lt_int);
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.cat);
CREATE OPERATOR evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.arrow);
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.arrow2);
CREATE OPERATOR evil.|| (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.jcat);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT evil.caught('now()')::text::timestamptz$$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$SELECT evil.caught('clock_timestamp()')::text::timestamptz$$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('lower()')::text$$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE sql AS $$SELECT evil.caught('length()')::int$$;
CREATE FUNCTION evil.quote_literal(text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('quote_literal()')::text$$;
CREATE FUNCTION evil.quote_ident(text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('quote_ident()')::text$$;
CREATE FUNCTION evil.to_regrole(text) RETURNS regrole LANGUAGE sql AS $$SELECT evil.caught('to_regrole()')::text::regrole$$;
CREATE FUNCTION evil.pg_has_role(name, text) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('pg_has_role()')$$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE sql AS $$SELECT evil.caught('gen_random_uuid()')::text::uuid$$;
CREATE FUNCTION evil.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('jsonb_build_object()')::text::jsonb$$;
CREATE FUNCTION evil.jsonb_build_object(text, jsonb) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('jsonb_build_object()')::text::jsonb$$;
CREATE FUNCTION evil.jsonb_build_object(text, uuid, text, integer) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('jsonb_build_object()')::text::jsonb$$;
CREATE FUNCTION evil.to_jsonb(text[]) RETURNS jsonb LANGUAGE sql AS $$SELECT evil.caught('to_jsonb()')::text::jsonb$$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('jsonb_typeof()')::text$$;
CREATE FUNCTION evil.jsonb_array_length(jsonb) RETURNS integer LANGUAGE sql AS $$SELECT evil.caught('jsonb_array_length()')::int$$;
CREATE FUNCTION evil.unnest(text[]) RETURNS SETOF text LANGUAGE sql AS $$SELECT evil.caught('unnest()')::text$$;
CREATE FUNCTION evil.make_interval(secs double precision) RETURNS interval LANGUAGE sql AS $$SELECT evil.caught('make_interval()')::text::interval$$;
CREATE FUNCTION evil.round(numeric, integer) RETURNS numeric LANGUAGE sql AS $$SELECT evil.caught('round()')::text::numeric$$;
CREATE FUNCTION evil.format(text, VARIADIC text[]) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('format()')::text$$;
CREATE FUNCTION evil.regexp_replace(text, text, text, text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('regexp_replace()')::text$$;
CREATE FUNCTION evil.replace(text, text, text) RETURNS text LANGUAGE sql AS $$SELECT evil.caught('replace()')::text$$;
CREATE FUNCTION evil.textregexeq(text, text) RETURNS boolean LANGUAGE sql AS $$SELECT evil.caught('~')$$;
CREATE OPERATOR evil.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textregexeq);
-- tables named like the extension's, and a temporary one
CREATE TABLE evil.workflow_states (workflow_id uuid);
CREATE TABLE evil.task_states (workflow_id uuid);
CREATE TABLE evil.executors (agent_type text);
CREATE TABLE evil.handoffs (workflow_id uuid);
-- evil_try(sql): regress.try with every operator qualified, so it works
-- under the hostile path
CREATE FUNCTION regress.evil_try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN pg_catalog.concat(st, ': ', msg);
END $$;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA evil TO PUBLIC;
GRANT ALL ON ALL TABLES IN SCHEMA evil TO PUBLIC;
SELECT mycelium.register_executor('hijack-ext', NULL);
CREATE EXTENSION pg_cron;
GRANT USAGE ON SCHEMA cron TO regress_bob;

-- the look-alikes work: they catch an unqualified call
SET search_path = evil, pg_catalog, public;
SELECT regress.evil_try($$SELECT now()$$);
SELECT regress.evil_try($$SELECT 'a'::text = 'b'::text$$);
SELECT regress.evil_try($$SELECT '{"a": 1}'::jsonb ->> 'a'$$);

-- as bob, with the look-alikes first on the path, in one transaction so
-- the in-session run below sees the workflow it created
SET ROLE regress_bob;
CREATE TEMP TABLE workflow_states (workflow_id uuid);
BEGIN;
SELECT mycelium.task('a', 'agent-a', 'worker', input => '{"n": 1}') AS task_a \gset
SELECT :'task_a' AS task_a;
SELECT mycelium.create_workflow(
	jsonb_build_array(:'task_a'::jsonb,
		mycelium.task('b', 'agent-b', 'worker', dependencies => '{a}'),
		mycelium.task('ext', 'agent-e', 'hijack-ext', dependencies => '{a}', timeout => 60)),
	'{"ctx": true}', '{"v": 1}', 3, 'hijacked?') AS wf \gset
SELECT mycelium.get_workflow(:'wf') #- '{workflow_id}' #- '{created_at}' #- '{updated_at}' AS got;
SELECT mycelium.add_tasks(:'wf', '[{"task_id": "c", "agent_id": "agent-c", "agent_type": "worker", "dependencies": ["b"]}]');
SELECT mycelium.send_handoff(:'wf', mycelium.create_handoff('agent-a', 'worker', 'agent-e', 'hijack-ext',
	'look', '{"k": "v"}', '{}', '{"percent": 10}')) IS NOT NULL AS sent;
SELECT mycelium.start_workflow(:'wf');
SELECT mycelium.pause_workflow(:'wf');
SELECT mycelium.resume_workflow(:'wf');
SELECT mycelium.update_task(:'wf', 'a', 'running');
SELECT mycelium.update_task(:'wf', 'a', 'completed', '{"r": "a"}');
SELECT count(*) AS claimed FROM mycelium.claim_tasks('hijack-ext', 'w1', 5, '1 minute');
SELECT mycelium.heartbeat(:'wf', 'ext', 'w1', '{"half": true}') IS NOT NULL AS renewed;
SELECT mycelium.complete_task(:'wf', 'ext', 'w1', '{"done": 1}');
SELECT key, value #- '{result,workflow_id}' #- '{result,previous_results,0,result,workflow_id}' AS outcome
  FROM jsonb_each(mycelium.execute_workflow(:'wf') OPERATOR(pg_catalog.->) 'tasks')
 ORDER BY key COLLATE "C";
SELECT version, task_id, status, event FROM mycelium.workflow_history(:'wf');
SELECT task_id, attempt, outcome FROM mycelium.workflow_timeline(:'wf');
SELECT mycelium.workflow_graph(:'wf');
SELECT mycelium.workflow_graph(:'wf', 'dot');
SELECT mycelium.workflow_graph(:'wf', 'gantt') IS NOT NULL AS gantt;
SELECT mycelium.rollback_workflow(:'wf', 2);
SELECT mycelium.cancel_workflow(:'wf', 'done looking');
SELECT name, status, version, task_count FROM mycelium.workflows WHERE workflow_id OPERATOR(pg_catalog.=) :'wf';
COMMIT;

-- handoff and JSON Schema functions
SELECT mycelium.validate_handoff(mycelium.create_handoff('s', 'st', 't', 'tt', 'do'));
SELECT mycelium.serialize_handoff(mycelium.deserialize_handoff(
	'{"version": "1.0", "handoff_id": "6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",
	  "timestamp": "2026-01-02T03:04:05Z", "source": {"agent_id": "a", "agent_type": "b"},
	  "target": {"agent_id": "c", "agent_type": "d"}, "context": {"task_description": "x"},
	  "state": {}, "metadata": {"priority": "low"}}'));
SELECT regress.evil_try($$SELECT mycelium.validate_handoff('{"version": "2"}')$$);
SELECT mycelium.handoff_schema() OPERATOR(pg_catalog.->) 'required' AS required;
SELECT mycelium.json_schema_validate('{"type": "string", "pattern": "^a.c$", "minLength": 3}', '"abc"'),
	   mycelium.json_schema_validate('{"type": "string", "pattern": "^a.c$"}', '"abd"');
SELECT * FROM mycelium.json_schema_errors('{"properties": {"x": {"enum": [1, 2]}}}', '{"x": 3}');

-- executors, templates and schedules
SELECT mycelium.register_executor('bob-hijack', 'regress.echo(jsonb)', '{"type": "object"}');
SELECT agent_type, executor, output_schema, registered_by FROM mycelium.executors
 WHERE agent_type OPERATOR(pg_catalog.=) 'bob-hijack';
SELECT mycelium.create_template('hijack-tpl', '[{"task_id": "t", "agent_id": "x", "agent_type": "hijack-ext"}]',
	'{}', '{"a": 1}', 2, 'template under a hostile path');
SELECT mycelium.start_from_template('hijack-tpl', '{"b": 2}') AS tpl_wf \gset
SELECT variables FROM mycelium.workflow_states
 WHERE workflow_id OPERATOR(pg_catalog.=) :'tpl_wf';
SELECT mycelium.cancel_workflow(:'tpl_wf');
SELECT mycelium.schedule_workflow('hijack-job', '0 0 1 1 *', 'hijack-tpl') IS NOT NULL AS scheduled;
SELECT command FROM cron.job WHERE jobname OPERATOR(pg_catalog.=) 'hijack-job';
SELECT mycelium.run_schedule('hijack-job') IS NOT NULL AS ran;
SELECT job_name, runs FROM mycelium.schedules;
SELECT mycelium.unschedule_workflow('hijack-job');
SELECT mycelium.unregister_executor('bob-hijack');
SELECT name, task_count FROM mycelium.templates;
-- the views and row-level security
SELECT count(*) AS own_workflows FROM mycelium.workflows WHERE name OPERATOR(pg_catalog.=) 'hijacked?';
SELECT percent_done FROM mycelium.workflow_progress WHERE workflow_id OPERATOR(pg_catalog.=) :'wf';
SELECT count(*) AS others_seen FROM mycelium.workflows WHERE owner OPERATOR(pg_catalog.<>) 'regress_bob';
DROP TABLE pg_temp.workflow_states;
RESET ROLE;
RESET search_path;

-- every SQL-language function has a body parsed at creation or a pinned
-- search_path; the C functions pin theirs (src/catalog/catalog.c)
SELECT p.proname, l.lanname, p.prosqlbody IS NOT NULL AS parsed_at_creation,
	   p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'mycelium'::regnamespace AND l.lanname <> 'c'
 ORDER BY p.proname;
SELECT count(*) AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'mycelium'::regnamespace AND l.lanname <> 'c'
   AND p.prosqlbody IS NULL
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

SET ROLE regress_bob;
SELECT mycelium.drop_template('hijack-tpl');
RESET ROLE;
SELECT mycelium.unregister_executor('hijack-ext');
DROP EXTENSION pg_cron;
DROP SCHEMA evil CASCADE;
DROP FUNCTION regress.evil_try(text);
