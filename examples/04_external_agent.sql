-- Example: a workflow that mixes SQL tasks with tasks for an external
-- agent.  examples/run-demo runs the reference agent, examples/agent.py,
-- outside the database: it LISTENs for mycelium_ready, claims the
-- "writer" tasks, heartbeats while it works, and reports back.  Results
-- flow both ways through previous_results.
\pset footer off
SELECT mycelium.register_executor('writer', NULL);

\echo
\echo '=== external agent: research (SQL) -> (summary-1, summary-2) (examples/agent.py) -> report (SQL)'
\echo '    summary-2 fails its first attempt on purpose and is retried'
SELECT demo.run('external agents', jsonb_build_array(
	mycelium.task('research', 'db', 'demo-agent'),
	mycelium.task('summary-1', 'llm-1', 'writer', dependencies => '{research}',
		input => '{"text": "Agents outside the database claim tasks over any connection.", "sleep": 1}'),
	mycelium.task('summary-2', 'llm-2', 'writer', dependencies => '{research}',
		input => '{"text": "A lapsed lease hands the task to another agent.", "fail_attempts": 1}',
		initial_delay => 0.5),
	mycelium.task('report', 'db', 'demo-agent', dependencies => '{summary-1,summary-2}'))) AS wf \gset
SELECT mycelium.wait_workflow(:'wf', '60 s')->>'status' AS status;
SELECT task_id, attempt, result FROM mycelium.tasks WHERE workflow_id = :'wf' ORDER BY task_id;
SELECT * FROM demo.timeline(:'wf');
