-- Running workflows: execute_workflow in the calling transaction (a
-- workflow created in the same statement runs right here, one task at a
-- time, with the scheduler's semantics), the background scheduler through
-- start/wait, and the errors of the control functions.

-- executors for these tests
CREATE FUNCTION regress.flaky(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (ctx->>'attempt')::int <= coalesce((ctx->'task'->'input'->>'fail_times')::int, 0) THEN
		RAISE EXCEPTION 'planned failure of attempt %', ctx->>'attempt'
			USING DETAIL = 'the input asked for it';
	END IF;
	PERFORM pg_sleep(coalesce((ctx->'task'->'input'->>'sleep')::float8, 0));
	RETURN jsonb_build_object('task', ctx->'task'->>'task_id', 'who', current_user,
		'prev', (SELECT jsonb_agg(p->>'task_id') FROM jsonb_array_elements(ctx->'previous_results') p));
END $$;
CREATE FUNCTION regress.null_result(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT mycelium.register_executor('flaky', 'regress.flaky(jsonb)');
SELECT mycelium.register_executor('nothing', 'regress.null_result(jsonb)');
CREATE FUNCTION regress.outcome(result jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT (result->>'status') || ': ' || string_agg(key || '=' || (value->>'status') || '/' || (value->>'attempt'), ' ' ORDER BY key)
	  FROM jsonb_each(result->'tasks')
$$;

-- a diamond, created and run in one statement
SELECT regress.outcome(mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'a', 'flaky'),
	mycelium.task('B', 'b', 'flaky', dependencies => '{A}'),
	mycelium.task('C', 'c', 'flaky', dependencies => '{A}'),
	mycelium.task('D', 'd', 'flaky', dependencies => '{B,C}')))));
SELECT result FROM mycelium.tasks WHERE task_id = 'D' AND agent_type = 'flaky'
 ORDER BY started_at DESC LIMIT 1;

-- the execution context an executor gets
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('first', 'agent-1', 'worker', input => '{"q": 1}'),
	mycelium.task('second', 'agent-2', 'worker', dependencies => '{first}', timeout => 30,
				  metadata => '{"team": "x"}')),
	context => '{"goal": "demo"}', variables => '{"v": 42}') AS wf \gset
SELECT mycelium.execute_workflow(:'wf')->>'status';
SELECT jsonb_pretty((result - 'workflow_id') || jsonb_build_object('previous_results',
		(SELECT jsonb_agg(p - 'result') FROM jsonb_array_elements(result->'previous_results') p)))
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'second';
SELECT (result->>'workflow_id')::uuid = :'wf' AS ctx_has_workflow_id,
	   result->'previous_results'->0->'result'->'task'->'input' AS dependency_result_input
  FROM mycelium.tasks WHERE workflow_id = :'wf' AND task_id = 'second';

-- retries: two failures, then success on attempt 3; the errors are kept
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('r', 'a', 'flaky', initial_delay => 0, input => '{"fail_times": 2}'))) AS wf \gset
SELECT regress.outcome(mycelium.execute_workflow(:'wf'));
SELECT version, status, attempt, error, event FROM mycelium.workflow_history(:'wf') WHERE task_id = 'r';

-- out of attempts: the workflow fails with MY002, naming the task
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('bad', 'a', 'flaky', max_attempts => 2, initial_delay => 0, input => '{"fail_times": 5}'),
	mycelium.task('next', 'a', 'flaky', dependencies => '{bad}'))))$$);

-- allow_failure: the workflow goes on and the dependent sees the failure
SELECT regress.outcome(mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('optional', 'a', 'flaky', max_attempts => 1, allow_failure => true, input => '{"fail_times": 1}'),
	mycelium.task('after', 'a', 'flaky', dependencies => '{optional}')))));

-- timeout: the function is interrupted
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('slow', 'a', 'flaky', max_attempts => 1, timeout => 0.2, input => '{"sleep": 30}'))))$$);

-- an executor returning NULL completes with a JSON null result
SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('n', 'a', 'nothing'))))->'tasks'->'n';

-- tasks run as the workflow's owner
SET ROLE regress_alice;
SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('who', 'a', 'flaky'))))->'tasks'->'who'->'result'->>'who' AS ran_as;
RESET ROLE;

-- the owner must be allowed to execute the executor
CREATE FUNCTION regress.admin_only(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT ctx';
REVOKE EXECUTE ON FUNCTION regress.admin_only(jsonb) FROM PUBLIC;
SELECT mycelium.register_executor('admin-only', 'regress.admin_only(jsonb)');
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('x', 'a', 'admin-only', max_attempts => 1))))$$);
RESET ROLE;

-- tasks of external agents cannot finish inside this transaction
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('ext', 'a', 'external'))))$$);

-- the background scheduler: start, then wait in another statement
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('s1', 'a', 'flaky'),
	mycelium.task('s2', 'a', 'flaky', dependencies => '{s1}'))) AS wf \gset
SELECT mycelium.start_workflow(:'wf');
SELECT regress.outcome(mycelium.wait_workflow(:'wf', '60 s'));
SELECT regress.outcome(mycelium.execute_workflow(:'wf'));

-- control errors (SQLSTATE MY003 for a transition the workflow does not allow)
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('p', 'a', 'flaky'))) AS pending \gset
SELECT regress.try(format($$SELECT mycelium.start_workflow(%L)$$, :'wf'));
SELECT regress.try(format($$SELECT mycelium.pause_workflow(%L)$$, :'pending'));
SELECT regress.try(format($$SELECT mycelium.resume_workflow(%L)$$, :'pending'));
SELECT regress.try(format($$SELECT mycelium.cancel_workflow(%L)$$, :'wf'));
SELECT regress.try($$SELECT mycelium.start_workflow('00000000-0000-0000-0000-000000000000')$$);
SELECT regress.try($$SELECT mycelium.execute_workflow(NULL)$$);
SELECT regress.try($$SELECT mycelium.wait_workflow(NULL)$$);
SELECT regress.try($$SELECT mycelium.cancel_workflow(NULL)$$);
SELECT regress.try(format($$SELECT mycelium.wait_workflow(%L, '-1 s')$$, :'pending'));
SELECT regress.try(format($$SELECT mycelium.wait_workflow(%L, '0.1 s')$$, :'pending'));

-- waiting needs a snapshot that sees progress, and rows the scheduler can see
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.try(format($$SELECT mycelium.wait_workflow(%L, '1 s')$$, :'pending'));
ROLLBACK;
BEGIN;
SELECT mycelium.update_task(:'pending', 'p', 'skipped');
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('q', 'a', 'flaky'))) AS fresh \gset
SELECT regress.try(format($$SELECT mycelium.wait_workflow(%L, '1 s')$$, :'fresh'));
ROLLBACK;

-- cancel a pending workflow: every task is cancelled, with the reason
SELECT mycelium.cancel_workflow(:'pending', 'not needed');
SELECT status, error FROM mycelium.workflows WHERE workflow_id = :'pending';
SELECT task_id, status FROM mycelium.tasks WHERE workflow_id = :'pending';
SELECT regress.try(format($$SELECT mycelium.cancel_workflow(%L)$$, :'pending'));

-- an executor's output_schema: a result that breaks it is a failed attempt
-- (its writes undone) whose error lists the violations
CREATE TABLE regress.output_effects (task text);
CREATE FUNCTION regress.reporter(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress.output_effects VALUES (ctx->'task'->>'task_id');
	RETURN ctx->'task'->'input';
END $$;
SELECT mycelium.register_executor('reporter', 'regress.reporter(jsonb)',
	output_schema => '{"type": "object", "required": ["summary"],
					   "properties": {"summary": {"type": "string"}, "score": {"maximum": 10}}}');
SELECT regress.try($$SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('bad-report', 'a', 'reporter', max_attempts => 2, initial_delay => 0,
				  input => '{"score": 11}'))))$$);
SELECT count(*) AS effects_of_failed_attempts FROM regress.output_effects;
SELECT regress.outcome(mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('good-report', 'a', 'reporter', input => '{"summary": "fine", "score": 7}')))));
SELECT task FROM regress.output_effects;
