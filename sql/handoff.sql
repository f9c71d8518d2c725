-- The handoff protocol: the message format, create / validate / serialize /
-- deserialize, each way a message can be wrong (MY004 with the JSON
-- pointer of the bad value in DETAIL), send_handoff and delivery into the
-- ctx.handoffs of the target agent's tasks.

-- a valid message with a fixed id and time
CREATE FUNCTION regress.msg() RETURNS jsonb LANGUAGE sql AS $$
	SELECT '{"protocol_version": "1.0",
			 "message_id": "6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",
			 "created_at": "2026-01-02T03:04:05.678901Z",
			 "source": {"agent_id": "agent-1", "agent_type": "parser"},
			 "target": {"agent_id": "agent-2", "agent_type": "analyzer"},
			 "task_description": "Analyze code",
			 "context": {"files": ["a.c", "b.c"], "depth": 2},
			 "metadata": {"team": "platform"},
			 "progress": {"percent": 40, "stage": "parsed", "status": "in_progress"}}'::jsonb
$$;

--
-- handoff_schema(): the format, a JSON Schema document
--
SELECT s->>'$schema' AS dialect, s->'required' AS required,
	   s->'additionalProperties' AS additional,
	   (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(s->'properties') k) AS properties,
	   s->'properties'->'protocol_version' AS protocol_version,
	   s->'$defs'->'agent'->'required' AS agent_required
  FROM mycelium.handoff_schema() s;
-- it is what validate_handoff enforces
SELECT mycelium.json_schema_validate(mycelium.handoff_schema(), regress.msg()) AS valid,
	   mycelium.json_schema_validate(mycelium.handoff_schema(), regress.msg() - 'source') AS without_source;

--
-- create_handoff
--
SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'Analyze code') AS m \gset
SELECT jsonb_pretty(:'m'::jsonb - 'message_id' - 'created_at');
-- a fresh random (version 4) UUID and the current time, RFC 3339 in UTC
SELECT :'m'::jsonb->>'message_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_v4,
	   :'m'::jsonb->>'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS rfc3339_utc,
	   abs(extract(epoch FROM (:'m'::jsonb->>'created_at')::timestamptz - clock_timestamp())) < 60 AS now;
SELECT count(DISTINCT mycelium.create_handoff('a', 'b', 'c', 'd', 'e')->>'message_id') AS distinct_ids
  FROM generate_series(1, 100);
-- context, metadata and progress are kept as given (context preservation)
SELECT m->'context' AS context, m->'metadata' AS metadata, m->'progress' AS progress
  FROM mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'Analyze code',
		context => '{"nested": {"deep": [1, 2.50, {"x": null}]}, "big": 123456789012345678901234567890, "s": "héllo ☃ \"q\""}',
		metadata => '{"priority": "high"}',
		progress => '{"percent": 12.5, "stage": "parsing", "message": "3 of 24 files", "status": "in_progress"}') m;
SELECT mycelium.validate_handoff(:'m');
-- what create_handoff refuses
SELECT regress.try($$SELECT mycelium.create_handoff(NULL, 'parser', 'agent-2', 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', NULL, 'agent-2', 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', NULL, 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', NULL, 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', context => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', metadata => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_handoff('', 'parser', 'agent-2', 'analyzer', 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', repeat('t', 256), 'x')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', '')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', context => '[1, 2]')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x', metadata => '"m"')$$);
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x',
	progress => '{"percent": 150, "status": "done", "eta": 3}')$$);
-- size limit: mycelium.max_payload_size
SET mycelium.max_payload_size = '1kB';
SELECT regress.try($$SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', 'x',
	context => jsonb_build_object('blob', repeat('x', 2000)))$$);
RESET mycelium.max_payload_size;

--
-- validate_handoff: each way a message can be wrong
--
SELECT mycelium.validate_handoff(regress.msg());
SELECT mycelium.validate_handoff(NULL) IS NULL AS strict;
-- missing field
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() - 'task_description')$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() #- '{target,agent_id}')$$);
-- wrong type
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{source,agent_id}', '42'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{context}', '["a"]'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{progress}', '"half"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff('[]')$$);
-- bad enum
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{protocol_version}', '"2.0"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{progress,status}', '"done"'))$$);
-- extra property
SELECT regress.try($$SELECT mycelium.validate_handoff(regress.msg() || '{"priority": "high"}')$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{target,host}', '"h"'))$$);
-- bad values: not a UUID, not an RFC 3339 time, out of range, empty
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{message_id}', '"not-a-uuid"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{created_at}', '"2026-13-02T03:04:05Z"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{created_at}', '"yesterday"'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{progress,percent}', '100.5'))$$);
SELECT regress.try($$SELECT mycelium.validate_handoff(jsonb_set(regress.msg(), '{source,agent_type}', '""'))$$);
-- every violation is listed
SELECT regress.try($$SELECT mycelium.validate_handoff(
	(regress.msg() - 'metadata' || '{"extra": 1, "protocol_version": 1}') #- '{source,agent_type}')$$);
-- no progress at all, or progress null, are both fine; offsets in created_at too
SELECT mycelium.validate_handoff(regress.msg() - 'progress') AS without_progress,
	   mycelium.validate_handoff(jsonb_set(regress.msg(), '{progress}', 'null')) AS null_progress,
	   mycelium.validate_handoff(jsonb_set(regress.msg(), '{created_at}', '"2026-01-02T05:04:05+02:00"')) AS offset;

--
-- serialize_handoff: canonical text; deserialize_handoff: back again
--
SELECT mycelium.serialize_handoff(regress.msg());
-- the same message written differently gives the same text
SELECT mycelium.serialize_handoff(regress.msg()) =
	   mycelium.serialize_handoff(('{"metadata": {"team":"platform"},' || substr(regress.msg()::text, 2))::jsonb) AS same_text;
-- round trip, with numbers, escapes and non-ASCII text in the context
SELECT mycelium.create_handoff('agent-1', 'parser', 'agent-2', 'analyzer', E'line\nbreak "quoted"',
		context => '{"n": [0, -1.50, 1e-7, 123456789012345678901234567890], "s": "héllo ☃ \\ \/ \t", "z": {"b": 1, "a": 2, "aa": 3}}') AS m \gset
SELECT mycelium.serialize_handoff(:'m') AS text \gset
SELECT substr(:'text', strpos(:'text', '"context"'), 130) AS context_text;
SELECT mycelium.deserialize_handoff(:'text') = :'m'::jsonb AS round_trip,
	   mycelium.deserialize_handoff(:'text')->'context' = :'m'::jsonb->'context' AS context_preserved;
SELECT mycelium.serialize_handoff(NULL) IS NULL AND mycelium.deserialize_handoff(NULL) IS NULL AS strict;
SELECT regress.try($$SELECT mycelium.serialize_handoff(regress.msg() - 'source')$$);
-- deserialize accepts any layout of valid JSON
SELECT mycelium.deserialize_handoff(jsonb_pretty(regress.msg())) = regress.msg() AS pretty_text;
-- bad JSON: where (line, column, byte) and why
SELECT regress.try($$SELECT mycelium.deserialize_handoff(E'{\n  "protocol_version": "1.0",\n  "message_id": x\n}')$$);
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
-- send_handoff: stores a valid message for a workflow the caller owns
--
CREATE FUNCTION regress.handoffs_of(wf uuid) RETURNS TABLE (message_id uuid, target text, sender text)
LANGUAGE sql AS $$
	SELECT message_id, target_agent_id || '/' || target_agent_type, sent_by::text
	  FROM mycelium.handoffs WHERE workflow_id = wf ORDER BY seq
$$;
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'agent-2', 'external'))) AS wf \gset
SELECT mycelium.send_handoff(:'wf', regress.msg()) = (regress.msg()->>'message_id')::uuid AS returns_message_id;
SELECT * FROM regress.handoffs_of(:'wf');
SELECT message = regress.msg() AS stored_as_sent, owner, sent_at <= clock_timestamp() AS sent_at
  FROM mycelium.handoffs WHERE workflow_id = :'wf';
-- the same message twice
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, regress.msg())', :'wf'));
-- bad messages and arguments store nothing
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, regress.msg() - %L)', :'wf', 'context'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, %L)', :'wf', '{"a": 1}'));
SELECT regress.try(format('SELECT mycelium.send_handoff(%L, NULL)', :'wf'));
SELECT regress.try($$SELECT mycelium.send_handoff(NULL, regress.msg())$$);
SELECT regress.try($$SELECT mycelium.send_handoff('00000000-0000-0000-0000-000000000000', regress.msg())$$);
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
		mycelium.create_handoff(ctx->'task'->>'agent_id', ctx->'task'->>'agent_type',
								'b1', 'worker', 'review what I found',
								context => ctx->'task'->'input',
								progress => '{"percent": 50, "stage": "found"}')))
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
	'start with the parser', context => '{"step": 1}')) AS first_id \gset
SELECT mycelium.execute_workflow(:'wf')->>'status' AS status;
SELECT task_id, jsonb_array_length(result->'handoffs') AS messages
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id <> 'A' ORDER BY task_id;
SELECT h->'source' AS source, h->>'task_description' AS task_description,
	   h->'context' AS context, h->'progress' AS progress
  FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') WITH ORDINALITY AS x(h, n)
 WHERE t.workflow_id = :'wf' AND t.task_id = 'B' ORDER BY n;
-- the messages delivered are the ones stored, in send order
SELECT (SELECT jsonb_agg(h->>'message_id') FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') h
		 WHERE t.workflow_id = :'wf' AND t.task_id = 'B') =
	   (SELECT jsonb_agg(message_id::text ORDER BY seq) FROM mycelium.handoffs WHERE workflow_id = :'wf') AS in_send_order,
	   (SELECT result->'handoffs'->0->>'message_id' FROM mycelium.tasks
		 WHERE workflow_id = :'wf' AND task_id = 'B') = :'first_id' AS first_is_first,
	   (SELECT result->>'sent' FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'A') =
	   (SELECT message_id::text FROM mycelium.handoffs WHERE workflow_id = :'wf' ORDER BY seq DESC LIMIT 1) AS executor_sent_it;
-- messages stay within their workflow: another run sees none of them
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('B', 'b1', 'worker'))) AS wf2 \gset
SELECT mycelium.execute_workflow(:'wf2')->>'status' AS status;
SELECT result->'handoffs' AS other_workflow FROM mycelium.tasks WHERE workflow_id = :'wf2';
RESET ROLE;
