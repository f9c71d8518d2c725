-- The handoff protocol in the original coordination module's message
-- format (its schemas/handoff.json): the format, create / validate /
-- serialize / deserialize, each way a message can be wrong (MY004 with
-- the JSON pointer of the bad value in DETAIL), the original's helpers
-- add_result_to_context and update_progress, send_handoff and delivery
-- into the ctx.handoffs of the target agent's tasks.

-- a valid message written in the original's format, every optional
-- section filled, as the original's to_dict() writes one (its timestamps
-- end in "+00:00Z")
CREATE FUNCTION regress.msg() RETURNS jsonb LANGUAGE sql AS $$
	SELECT '{"version": "1.0",
			 "handoff_id": "6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",
			 "workflow_id": "7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
			 "source": {"agent_id": "agent-1", "agent_type": "parser", "execution_time": 1234.5},
			 "target": {"agent_id": "agent-2", "agent_type": "analyzer",
						"requirements": {"memory": "2GB", "tools": ["clang"]}},
			 "context": {"task_description": "Analyze code",
						 "previous_results": [{"agent_id": "agent-0", "timestamp": "2026-01-02T03:00:00+00:00Z",
											   "result": {"files": 24}}],
						 "conversation_history": [
							{"role": "user", "content": "Find the bug", "timestamp": "2026-01-02T02:59:00+00:00Z"},
							{"role": "assistant", "content": "Parsing first"},
							{"role": "system", "content": "Be brief"}],
						 "files": [{"path": "src/a.c", "type": "c", "metadata": {"lines": 120}}],
						 "user_preferences": {"style": "terse"}},
			 "state": {"variables": {"depth": 2},
					   "progress": {"completed_steps": ["parse"], "pending_steps": ["analyze", "report"],
									"percentage": 33.3},
					   "errors": [{"agent_id": "agent-1", "error_type": "timeout", "message": "slow file",
								   "timestamp": "2026-01-02T03:01:00+00:00Z"}]},
			 "metadata": {"priority": "high", "timeout": 30000, "retry_count": 1,
						  "tags": ["review", "c"], "correlation_id": "trace-42"},
			 "timestamp": "2026-01-02T03:04:05.678901+00:00Z"}'::jsonb
$$;

--
-- handoff_schema(): the original's format, a draft-07 JSON Schema
--
SELECT s->>'$schema' AS dialect, s->'required' AS required,
	   s ? 'additionalProperties' AS closed,
	   (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(s->'properties') k) AS properties,
	   s->'properties'->'metadata'->'properties'->'priority'->'enum' AS priorities,
	   s->'properties'->'state'->'properties'->'progress'->'properties'->'percentage' AS percentage
  FROM mycelium.handoff_schema() s;
-- it is what validate_handoff enforces
SELECT mycelium.json_schema_validate(mycelium.handoff_schema(), regress.msg()) AS valid,
	   mycelium.json_schema_validate(mycelium.handoff_schema(), regress.msg() - 'source') AS without_source;

--
-- the original's message, with every optional section, is valid; so is
-- one with only what the original requires, and one with members the
-- original does not name (its objects are open)
--
SELECT mycelium.validate_handoff(regress.msg()) AS full_message,
	   mycelium.validate_handoff('{"version": "1.0", "source": {"agent_id": "a", "agent_type": "b"},
		   "target": {"agent_id": "c", "agent_type": "d"}, "context": {}, "timestamp": "now"}') AS minimal,
	   mycelium.validate_handoff(regress.msg() || '{"x-extra": 1}' || jsonb_build_object('source',
		   regress.msg()->'source' || '{"host": "h1"}')) AS open_objects;

--
-- create_handoff: the message the original's create_handoff makes
--
SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'Analyze code') AS m \gset
SELECT jsonb_pretty(:'m'::jsonb - 'handoff_id' - 'timestamp');
-- a fresh random (version 4) UUID and the current time, RFC 3339 in UTC
SELECT :'m'::jsonb->>'handoff_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_v4,
	   :'m'::jsonb->>'timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS rfc3339_utc,
	   abs(extract(epoch FROM (:'m'::jsonb->>'timestamp')::timestamptz - clock_timestamp())) < 60 AS now;
SELECT count(DISTINCT mycelium.create_handoff('a', 'b', 'c', 'd', 'e')->>'handoff_id') AS distinct_ids
  FROM generate_series(1, 100);
-- context, state and metadata are kept as given (context preservation);
-- given metadata replaces the defaults; a context's own task_description
-- wins over the argument; the workflow_id is named when given
SELECT m->'context' AS context, m->'state' AS state, m->'metadata' AS metadata, m->>'workflow_id' AS workflow_id
  FROM mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'Analyze code',
		context => '{"user_preferences": {"nested": {"deep": [1, 2.50, {"x": null}]}}, "big": 123456789012345678901234567890, "s": "héllo ☃ \"q\""}',
		metadata => '{"priority": "critical", "tags": ["x"]}',
		state => '{"variables": {"k": 1}, "progress": {"percentage": 12.5}}',
		workflow_id => '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d') m;
SELECT m->'context' AS context
  FROM mycelium.create_handoff('a', 'b', 'c', 'd', 'ignored', context => '{"task_description": "mine"}') m;
-- no task description: the context holds none
SELECT m->'context' AS context FROM mycelium.create_handoff('a', 'b', 'c', 'd') m;
SELECT mycelium.validate_handoff(:'m');
-- what create_handoff refuses
SELECT regress.try($$SELECT mycelium.create_handoff(NULL, 'parser', 'agent-2', 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', NULL, 'agent-2', 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', NULL, 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', NULL, 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', context => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', metadata => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', state => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', context => '[1, 2]')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', metadata => '"m"')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', state => '1')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x',
	metadata => '{"priority": "urgent", "retry_count": -1}')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x',
	state => '{"progress": {"percentage": 150}}')$$);
-- size limit: mycelium.max_payload_size
SET mycelium.max_payload_size = '1kB';
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x',
	context => jsonb_build_object('blob', repeat('x', 2000)))$$);
RESET mycelium.max_payload_size;

--
-- validate_handoff: what the original refuses is refused
--
SELECT mycelium.validate_handoff(NULL) IS NULL AS strict;
-- a required member missing
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() - 'timestamp')$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() - 'context')$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() #- '{target,agent_id}')$$);
-- wrong types
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{source,agent_id}', '42'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{source,execution_time}', '"fast"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{context}', '["a"]'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{context,previous_results,0}', '"r"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{state,progress,completed_steps}', '[1]'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{metadata,tags}', '"t"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{metadata,retry_count}', '1.5'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff('[]')$$);
-- values out of the original's enums and ranges
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{metadata,priority}', '"urgent"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{context,conversation_history,0,role}', '"robot"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{state,progress,percentage}', '100.5'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{state,progress,percentage}', '-1'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{metadata,retry_count}', '-1'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{version}', '"one"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{version}', '1.0'))$$);
-- every violation is listed
SELECT regress.try($$SELECT mycelium.validate_handoff(
	(regress.msg() - 'timestamp' || '{"version": 1}') #- '{source,agent_type}')$$);
-- as for the original, "format" is an annotation: other versions and
-- timestamps in other forms are fine
SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{version}', '"2.1"')) AS other_version,
	   mycelium.validate_handoff(jsonb_set(regress.msg(), '{timestamp}', '"yesterday"')) AS free_timestamp,
	   mycelium.validate_handoff(jsonb_set(regress.msg(), '{handoff_id}', '"h-1"')) AS free_id;

--
-- serialize_handoff: canonical text; deserialize_handoff: back again
--
-- the original's message, every optional section filled, round-trips
-- unchanged in content
SELECT mycelium.serialize_handoff(regress.msg()) AS text \gset
SELECT :'text';
SELECT mycelium.deserialize_handoff(:'text') = regress.msg() AS round_trip,
	   mycelium.serialize_handoff(mycelium.deserialize_handoff(:'text')) = :'text' AS same_text_again;
-- the same message written differently gives the same text (the
-- original's to_json layout: its key order and spaces)
SELECT mycelium.serialize_handoff(mycelium.deserialize_handoff(
	'{"version": "1.0", "handoff_id": "6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f", "source": {"agent_id": "a", "agent_type": "b"}, '
	|| '"target": {"agent_id": "c", "agent_type": "d"}, "context": {"task_description": "t"}, "state": {}, '
	|| '"metadata": {"priority": "normal", "retry_count": 0, "tags": []}, "timestamp": "2026-01-02T03:04:05+00:00Z"}')) AS canonical;
-- round trip of a created message, with numbers, escapes and non-ASCII text
SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', E'line\nbreak "quoted"',
		context => '{"n": [0, -1.50, 1e-7, 123456789012345678901234567890], "s": "héllo ☃ \\ \/ \t", "z": {"b": 1, "a": 2, "aa": 3}}') AS m \gset
SELECT mycelium.serialize_handoff(:'m') AS text \gset
SELECT mycelium.deserialize_handoff(:'text') = :'m'::jsonb AS round_trip,
	   mycelium.deserialize_handoff(:'text')->'context' = :'m'::jsonb->'context' AS context_preserved;
SELECT mycelium.serialize_handoff(NULL) IS NULL AND mycelium.deserialize_handoff(NULL) IS NULL AS strict;
SELECT regress.try($$SELECT mycelium.serialize_handoff(regress.msg() - 'source')$$);
-- deserialize accepts any layout of valid JSON
SELECT mycelium.deserialize_handoff(jsonb_pretty(regress.msg())) = regress.msg() AS pretty_text;
-- bad JSON: where (line, column, byte) and why
SELECT regress.try($$SELECT mycelium.deserialize_handoff(E'{\n  "version": "1.0",\n  "handoff_id": x\n}')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff(E'{"a": [1, 2,\n')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff('{"a": 1} {"b": 2}')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff(E'{"a": 1,\n "a": 2}')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff('{"s": "nul \u0000"}')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff(E'{"é": "☃", ]')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff('')$$);
-- JSON that is not a valid message
SELECT regress.try($$SELECT mycelium.deserialize_handoff('42')$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff((regress.msg() - 'target')::text)$$);
-- numbers beyond 64 bits are JSON all the same
SELECT mycelium.deserialize_handoff(jsonb_set(regress.msg(), '{context,big}',
	'1234567890123456789012345678901234567890')::text)->'context'->'big' AS big,
	   mycelium.deserialize_handoff(jsonb_set(regress.msg(), '{context,huge}', '1e400')::text)->'context'->'huge' = '1e400' AS huge;

--
-- add_result_to_context and update_progress, as the original's
--
SELECT m->'context'->'previous_results' #- '{0,timestamp}' #- '{1,timestamp}' AS previous_results,
	   m->'context'->'previous_results'->1->>'timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS stamped
  FROM mycelium.add_result_to_context(
		mycelium.add_result_to_context(mycelium.create_handoff('a', 'b', 'c', 'd', 't'), 'agent-x', '{"score": 0.9}'),
		'agent-y', '{"files": ["a.c"]}') m;
SELECT mycelium.add_result_to_context(regress.msg(), 'agent-z', '{"ok": true}')->'context'->'previous_results'->0
	= regress.msg()->'context'->'previous_results'->0 AS earlier_results_kept;
SELECT regress.try($$SELECT mycelium.add_result_to_context(regress.msg() - 'source', 'a', '{}')$$);
-- a message without progress gets the original's defaults; the steps
-- given replace the old ones; the percentage is clamped to 0-100
SELECT mycelium.update_progress(mycelium.create_handoff('a', 'b', 'c', 'd', 't'))->'state' AS defaults;
SELECT mycelium.update_progress(regress.msg(), completed_steps => '{parse,analyze}', percentage => 66.6)->'state'->'progress' AS updated;
SELECT p AS percentage_given,
	   mycelium.update_progress(regress.msg(), percentage => p)->'state'->'progress'->'percentage' AS stored
  FROM unnest(ARRAY[150, 100, 50.5, 0, -20, 'Infinity', '-Infinity', 'NaN']::float8[]) p;
SELECT mycelium.update_progress(regress.msg(), pending_steps => '{}')->'state'->'progress' AS steps_emptied,
	   mycelium.update_progress(regress.msg())->'state' = regress.msg()->'state' AS unchanged;
SELECT regress.try($$SELECT mycelium.update_progress(jsonb_set(regress.msg(), '{metadata,priority}', '"urgent"'), percentage => 1)$$);

--
-- send_handoff: stores a valid message for a workflow the caller owns
--
CREATE FUNCTION regress.handoffs_of(wf uuid) RETURNS TABLE (message_id uuid, target text, sender text)
LANGUAGE sql AS $$
	SELECT message_id, target_agent_id || '/' || target_agent_type, sent_by::text
	  FROM mycelium.handoffs WHERE workflow_id = wf ORDER BY seq
$$;
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'agent-2', 'external')),
	workflow_id => '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d') AS wf \gset
SELECT mycelium.send_handoff(:'wf', regress.msg()) = (regress.msg()->>'handoff_id')::uuid AS returns_handoff_id;
SELECT * FROM regress.handoffs_of(:'wf');
SELECT message = regress.msg() AS stored_as_sent, owner, sent_at <= clock_timestamp() AS sent_at
  FROM mycelium.handoffs WHERE workflow_id = :'wf';
-- the same message twice
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, regress.msg())', :'wf'));
-- a message without handoff_id or workflow_id is stored with both
SELECT mycelium.send_handoff(:'wf', regress.msg() - 'handoff_id' - 'workflow_id') AS made_id \gset
SELECT message->>'handoff_id' = :'made_id' AS id_made, message->>'workflow_id' = :'wf' AS workflow_named,
	   message - 'handoff_id' - 'workflow_id' = regress.msg() - 'handoff_id' - 'workflow_id' AS rest_as_sent
  FROM mycelium.handoffs WHERE workflow_id = :'wf' AND message_id = :'made_id';
-- a message naming another workflow, or with a handoff_id that is not a
-- UUID, is refused
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, jsonb_set(regress.msg(), %L, %L))',
	:'wf', '{workflow_id}', '"00000000-0000-4000-8000-000000000001"'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, jsonb_set(regress.msg(), %L, %L))',
	:'wf', '{workflow_id}', '"wf-7"'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, jsonb_set(regress.msg(), %L, %L))',
	:'wf', '{handoff_id}', '"h-1"'));
-- bad messages and arguments store nothing
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, regress.msg() - %L)', :'wf', 'context'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, %L)', :'wf', '{"a": 1}'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, NULL)', :'wf'));
SELECT regress.try($$SELECT mycelium.send_handoff(NULL, regress.msg())$$);
SELECT regress.try($$SELECT mycelium.send_handoff('00000000-0000-0000-0000-000000000000', regress.msg() - 'workflow_id')$$);
RESET ROLE;
SET mycelium.max_payload_size = '1kB';
SET ROLE regress_alice;
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, jsonb_set(regress.msg(), %L, to_jsonb(repeat(%L, 2000))))',
	:'wf', '{context,blob}', 'x'));
RESET ROLE;
RESET mycelium.max_payload_size;
SET ROLE regress_alice;
SELECT count(*) AS stored FROM mycelium.handoffs WHERE workflow_id = :'wf';
-- another role cannot send into alice's workflow, nor see its messages
SET ROLE regress_bob;
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, mycelium.create_handoff(%L, %L, %L, %L, %L))',
	:'wf', 'b', 'b', 'agent-2', 'external', 'hijack'));
SELECT count(*) AS visible_to_bob FROM mycelium.handoffs;
SET ROLE regress_outsider;
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, regress.msg())', :'wf'));
SELECT regress.try($$SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e')$$);
-- an administrator can
SET ROLE regress_admin;
SELECT mycelium.send_handoff(:'wf', mycelium.create_handoff('admin', 'ops', 'agent-2', 'external', 'from the admin')) IS NOT NULL AS sent;
RESET ROLE;
SELECT target, sender FROM regress.handoffs_of(:'wf');
SET ROLE regress_alice;
SELECT mycelium.cancel_workflow(:'wf') IS NOT NULL AS cancelled;
RESET ROLE;

--
-- delivery: ctx.handoffs of a task holds the messages of its workflow
-- addressed to its agent (same agent_id and agent_type), in send order
--
-- an executor that hands work to agent b1 (agent type "worker")
CREATE FUNCTION regress.hand_over(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('sent', mycelium.send_handoff((ctx->>'workflow_id')::uuid,
		mycelium.update_progress(mycelium.create_handoff(ctx->'task'->>'agent_id', ctx->'task'->>'agent_type',
								'b1', 'worker', 'review what I found',
								context => jsonb_build_object('user_preferences', ctx->'task'->'input'),
								workflow_id => (ctx->>'workflow_id')::uuid),
								completed_steps => '{find}', percentage => 50)))
$$;
SELECT mycelium.register_executor('hand_over', 'regress.hand_over(jsonb)');
SELECT mycelium.register_executor('worker2', 'regress.echo(jsonb)');
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'a1', 'hand_over', input => '{"finding": "unsafe strcpy"}'),
	mycelium.task('B', 'b1', 'worker', dependencies => '{A}'),
	mycelium.task('C', 'c1', 'worker', dependencies => '{A}'),
	mycelium.task('D', 'b1', 'worker2', dependencies => '{A}'))) AS wf \gset
-- sent by the owner before the workflow runs
SELECT mycelium.send_handoff(:'wf', mycelium.create_handoff('planner', 'plan', 'b1', 'worker',
	'start with the parser', context => '{"files": [{"path": "src/parser.c"}]}')) AS first_id \gset
SELECT mycelium.execute_workflow(:'wf')->>'status' AS status;
SELECT task_id, jsonb_array_length(result->'handoffs') AS messages
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id <> 'A' ORDER BY task_id;
SELECT h->'source' AS source, h->'context' AS context, h->'state' AS state,
	   h->>'workflow_id' = :'wf' AS names_workflow
  FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') WITH ORDINALITY AS x(h, n)
 WHERE t.workflow_id = :'wf' AND t.task_id = 'B' ORDER BY n;
-- the messages delivered are the ones stored, in send order
SELECT (SELECT jsonb_agg(h->>'handoff_id') FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') h
		 WHERE t.workflow_id = :'wf' AND t.task_id = 'B') =
	   (SELECT jsonb_agg(message_id::text ORDER BY seq) FROM mycelium.handoffs WHERE workflow_id = :'wf') AS in_send_order,
	   (SELECT result->'handoffs'->0->>'handoff_id' FROM mycelium.tasks
		 WHERE workflow_id = :'wf' AND task_id = 'B') = :'first_id' AS first_is_first,
	   (SELECT result->>'sent' FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'A') =
	   (SELECT message_id::text FROM mycelium.handoffs WHERE workflow_id = :'wf' ORDER BY seq DESC LIMIT 1) AS executor_sent_it;
-- messages stay within their workflow: another run sees none of them
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('B', 'b1', 'worker'))) AS wf2 \gset
SELECT mycelium.execute_workflow(:'wf2')->>'status' AS status;
SELECT result->'handoffs' AS other_workflow FROM mycelium.tasks WHERE workflow_id = :'wf2';
RESET ROLE;
