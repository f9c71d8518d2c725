-- Bad input the campaign (test/t/013_bad_input_campaign.pl) found handled
-- wrongly, each with the error it now gets.

SELECT * FROM regress.counts() AS before \gset b_

-- a dependency that is not a task id at all is a malformed field (22023),
-- not an unknown task, and its megabyte is not quoted back
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker', dependencies => ARRAY[repeat('a', 1048576)])))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker', dependencies => '{""}')))$$);
-- C1 control characters (U+0080..U+009F) are control characters too
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a\u0085", "agent_id": "x", "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_template(E'n\u0090', '[]')$$);
-- names too long to exist are clipped in messages
SELECT regress.try($$SELECT mycelium.start_from_template(repeat('t', 1048576))$$);
SELECT regress.try($$SELECT mycelium.register_executor(repeat('t', 300), NULL)$$);
SELECT regress.try($$SELECT * FROM mycelium.claim_tasks(repeat('e', 300), 'w')$$);
-- a lease longer than a timer holds is refused, not an overflow
SELECT regress.try($$SELECT * FROM mycelium.claim_tasks('external', 'w', 1, '25 days')$$);
SELECT regress.try($$SELECT * FROM mycelium.claim_tasks('external', 'w', 1, '1000000 years')$$);
-- an output schema is compiled when registered
SELECT regress.try($$SELECT mycelium.register_executor('bad_schema', NULL, '{"type": 5}')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad_schema', NULL, '{"$ref": "#/$defs/none"}')$$);
SELECT regress.try($$SELECT mycelium.register_executor('bad_schema', NULL, '{"pattern": "["}')$$);
SELECT count(*) AS registered FROM mycelium.executors WHERE agent_type = 'bad_schema';
-- handoff text nested deeper than the parser goes is a limit (54000)
SELECT regress.try($$SELECT mycelium.deserialize_handoff(repeat('[', 3000) || repeat(']', 3000))$$);
SELECT regress.try($$SELECT mycelium.deserialize_handoff(repeat('[', 2000) || repeat(']', 2000))$$);

SELECT * FROM regress.counts() AS after \gset a_
SELECT :b_workflows = :a_workflows AND :b_tasks = :a_tasks
	   AND :b_history = :a_history AS nothing_stored;
