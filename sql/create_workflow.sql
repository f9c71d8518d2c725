-- create_workflow: what it stores, and every way a definition can be wrong.

-- the task() builder fills in the seed's defaults
SELECT mycelium.task('a', 'agent-1', 'worker');
SELECT mycelium.task('b', 'agent-2', 'worker', dependencies => '{a}',
					 max_attempts => 5, initial_delay => 0.5, max_delay => 30,
					 exponential_base => 3, timeout => 10, allow_failure => true,
					 input => '{"n": 1}', metadata => '{"team": "x"}');

-- a diamond A -> (B, C) -> D: roots are ready, the rest pending
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'a1', 'worker'),
	mycelium.task('B', 'b1', 'worker', dependencies => '{A}'),
	mycelium.task('C', 'c1', 'worker', dependencies => '{A}'),
	mycelium.task('D', 'd1', 'worker', dependencies => '{B,C}')),
	context => '{"goal": "demo"}', variables => '{"x": 1}',
	max_parallel_tasks => 2, name => 'diamond') AS wf \gset
SELECT name, owner, status, version, task_count, max_parallel_tasks
  FROM mycelium.workflows WHERE workflow_id = :'wf';
SELECT task_id, agent_id, status, attempt, dependencies
  FROM mycelium.tasks WHERE workflow_id = :'wf' ORDER BY task_id;
SELECT task_no, task_id, deps_pending, dependencies, dependents
  FROM mycelium.task_states WHERE workflow_id = :'wf' ORDER BY task_no;
SELECT name, status, version, total, pending, ready, running, completed, percent_done
  FROM mycelium.workflow_progress WHERE workflow_id = :'wf';

-- get_workflow: the whole workflow as one document
SELECT doc - '{workflow_id,created_at,updated_at,tasks}'::text[] AS workflow,
	   (doc->'tasks'->'D') - '{started_at,finished_at}'::text[] AS task_d,
	   (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(doc->'tasks') k) AS task_ids
  FROM mycelium.get_workflow(:'wf') doc \gx

-- fields written as JSON, with nulls meaning "default"
SELECT mycelium.create_workflow(
	'[{"task_id": "t", "agent_id": "a", "agent_type": "external",
	   "dependencies": null, "retry_policy": {"max_attempts": null, "max_delay": 5},
	   "timeout": null, "allow_failure": null, "input": [1, 2], "metadata": null}]') AS wf_json \gset
SELECT task_id, max_attempts, timeout, allow_failure, input, metadata
  FROM mycelium.tasks WHERE workflow_id = :'wf_json';
SELECT doc->'tasks'->'t'->'retry_policy' FROM mycelium.get_workflow(:'wf_json') doc;

-- an empty workflow is allowed
SELECT mycelium.create_workflow('[]') AS wf_empty \gset
SELECT task_count, status FROM mycelium.workflows WHERE workflow_id = :'wf_empty';

-- every error below stores nothing
SELECT * FROM regress.counts() AS before \gset b_

-- the tasks argument
SELECT regress.try($$SELECT mycelium.create_workflow(NULL)$$);
SELECT regress.try($$SELECT mycelium.create_workflow('{"task_id": "a"}')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('"a"')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[1]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker"}, []]')$$);

-- required fields
SELECT regress.try($$SELECT mycelium.create_workflow('[{"agent_id": "x", "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x"}]')$$);

-- field types
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": 1, "agent_id": "x", "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": true, "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "dependencies": "b"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "dependencies": [1]}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retry_policy": 3}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retry_policy": {"max_attempts": "3"}}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "timeout": "10"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "allow_failure": "yes"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "metadata": [1]}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retries": 3}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retry_policy": {"attempts": 3}}]')$$);

-- names
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "", "agent_id": "x", "agent_type": "worker"}]')$$);
SELECT regress.try(format($$SELECT mycelium.create_workflow('[{"task_id": "%s", "agent_id": "x", "agent_type": "worker"}]')$$, repeat('a', 256)));
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a\nb", "agent_id": "x", "agent_type": "worker"}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "", "agent_type": "worker"}]')$$);

-- values out of range
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', max_attempts => 0)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', max_attempts => 1001)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retry_policy": {"max_attempts": 2.5}}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "worker", "retry_policy": {"max_attempts": 1e400}}]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', initial_delay => -1)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', max_delay => 1e10)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', exponential_base => 0.5)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', timeout => 0)))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', timeout => -5)))$$);

-- the graph (SQLSTATE MY001)
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker'), mycelium.task('a', 'y', 'worker')))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker', dependencies => '{nope}')))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker', dependencies => '{a}')))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker', dependencies => '{a,a}')))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('A', 'x', 'worker', dependencies => '{C}'),
	mycelium.task('B', 'x', 'worker', dependencies => '{A}'),
	mycelium.task('C', 'x', 'worker', dependencies => '{B}')))$$);
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('root', 'x', 'worker'),
	mycelium.task('p', 'x', 'worker', dependencies => '{root,q}'),
	mycelium.task('q', 'x', 'worker', dependencies => '{p}'),
	mycelium.task('leaf', 'x', 'worker', dependencies => '{q}')))$$);
-- a cycle through 1,000 tasks is named by its first tasks and its length
SELECT regress.try($$SELECT mycelium.create_workflow(
	(SELECT jsonb_agg(mycelium.task('t' || i, 'x', 'worker',
			dependencies => ARRAY['t' || CASE WHEN i = 1 THEN 1000 ELSE i - 1 END]))
	   FROM generate_series(1, 1000) i))$$);

-- agent types (SQLSTATE MY000)
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'no-such-type')))$$);

-- the other arguments
SELECT regress.try($$SELECT mycelium.create_workflow('[]', context => '[]')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', variables => '1')$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', max_parallel_tasks => 0)$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', max_parallel_tasks => NULL)$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', name => '')$$);

-- limits
SET mycelium.max_tasks_per_workflow = 2;
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker'), mycelium.task('c', 'x', 'worker')))$$);
RESET mycelium.max_tasks_per_workflow;
SET mycelium.max_payload_size = '1kB';
SELECT regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'worker', input => to_jsonb(repeat('x', 2000)))))$$);
SELECT regress.try($$SELECT mycelium.create_workflow('[]', context => jsonb_build_object('k', repeat('x', 2000)))$$);
RESET mycelium.max_payload_size;

-- nothing was stored by any of the failures
SELECT * FROM regress.counts() AS after \gset a_
SELECT :b_workflows = :a_workflows AND :b_tasks = :a_tasks
	   AND :b_history = :a_history AS nothing_stored;

-- a role that cannot log in cannot own workflows
SET ROLE regress_nologin;
SELECT regress.try($$SELECT mycelium.create_workflow('[]')$$);
RESET ROLE;
