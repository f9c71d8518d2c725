-- Priorities: the priority arguments and their bad input, the order
-- claim_tasks takes ready tasks in (a workflow's priority, a task's own,
-- set_workflow_priority), and who may change a priority.
-- (The scheduler's workers under a full pool and the starvation bound are
-- tested in test/t/028_priorities.pl.  Named to run after retention, whose
-- count of sequential scans the workflows made here changed: the planner
-- weighs the purge's index scan by the table's size.)

SELECT mycelium.register_executor('regress_prio', NULL);
GRANT EXECUTE ON FUNCTION regress.echo(jsonb) TO regress_alice;

-- bad input: refused, and nothing stored
SET ROLE regress_alice;
CREATE TEMP TABLE before_counts AS SELECT * FROM regress.counts();
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_prio')), priority => NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_prio')), priority => 101)$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_prio')), priority => -101)$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_prio', priority => 101)))$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "regress_prio", "priority": 1.5}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "regress_prio", "priority": "high"}]')$$);
SELECT * FROM regress.try($$SELECT mycelium.start_from_template('no_such', priority => NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.start_from_template('no_such', priority => 1000)$$);
SELECT * FROM regress.try($$SELECT mycelium.set_workflow_priority(gen_random_uuid(), NULL)$$);
SELECT * FROM regress.try($$SELECT mycelium.set_workflow_priority(NULL, 1)$$);
SELECT * FROM regress.try($$SELECT mycelium.set_workflow_priority(gen_random_uuid(), 1)$$);
SELECT * FROM regress.try($$SELECT mycelium.set_workflow_priority(gen_random_uuid(), 200)$$);
SELECT * FROM regress.counts() EXCEPT SELECT * FROM before_counts;
-- a JSON null priority is no priority of its own
SELECT mycelium.create_workflow(
	'[{"task_id": "a", "agent_id": "x", "agent_type": "regress_prio", "priority": null}]',
	name => 'null_priority', priority => 3) AS wf \gset
SELECT priority, own_priority FROM mycelium.task_states WHERE workflow_id = :'wf';
SELECT mycelium.cancel_workflow(:'wf') > 0 AS cancelled;

-- claim_tasks takes the highest priority first: two low workflows, then a
-- high one created last
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	name => 'low1') AS low1 \gset
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	name => 'low2') AS low2 \gset
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	name => 'high', priority => 10) AS high \gset
SELECT count(mycelium.start_workflow(id)) AS started
  FROM unnest(ARRAY[:'low1', :'low2', :'high']::uuid[]) id;
SELECT w.name, w.priority FROM mycelium.claim_tasks('regress_prio', 'a1') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, w.priority FROM mycelium.claim_tasks('regress_prio', 'a1') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, w.priority FROM mycelium.claim_tasks('regress_prio', 'a1') c
  JOIN mycelium.workflow_states w USING (workflow_id);

-- a task's own priority: above its workflow's and another workflow's,
-- below its workflow's, and the tasks without one follow the workflow's
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('plain', 'x', 'regress_prio'),
	mycelium.task('urgent', 'x', 'regress_prio', priority => 20),
	mycelium.task('later', 'x', 'regress_prio', priority => -5)),
	name => 'mixed') AS mixed \gset
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	name => 'ten', priority => 10) AS ten \gset
SELECT task_id, priority, own_priority FROM mycelium.task_states
 WHERE workflow_id = :'mixed' ORDER BY task_no;
SELECT count(mycelium.start_workflow(id)) AS started
  FROM unnest(ARRAY[:'mixed', :'ten']::uuid[]) id;
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a2') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a2') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a2') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a2') c
  JOIN mycelium.workflow_states w USING (workflow_id);

-- set_workflow_priority: a workflow raised above another goes first;
-- its tasks with a priority of their own keep it
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('t', 'x', 'regress_prio'),
	mycelium.task('own', 'x', 'regress_prio', priority => -50)),
	name => 'raised') AS raised \gset
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	name => 'five', priority => 5) AS five \gset
SELECT count(mycelium.start_workflow(id)) AS started
  FROM unnest(ARRAY[:'raised', :'five']::uuid[]) id;
SELECT mycelium.set_workflow_priority(:'raised', 30) - version AS version_delta
  FROM mycelium.workflow_states WHERE workflow_id = :'raised';
SELECT priority FROM mycelium.workflow_states WHERE workflow_id = :'raised';
SELECT task_id, priority, own_priority FROM mycelium.task_states
 WHERE workflow_id = :'raised' ORDER BY task_no;
SELECT status, event FROM mycelium.workflow_state_history
 WHERE workflow_id = :'raised' AND task_no = 0 ORDER BY version DESC LIMIT 1;
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a3') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a3') c
  JOIN mycelium.workflow_states w USING (workflow_id);
SELECT w.name, c.task_id FROM mycelium.claim_tasks('regress_prio', 'a3') c
  JOIN mycelium.workflow_states w USING (workflow_id);

-- only the owner or an admin changes a priority: to another role the
-- workflow does not exist, as for every control function
RESET ROLE;
SET ROLE regress_bob;
SELECT * FROM regress.try(format('SELECT mycelium.set_workflow_priority(%L, 1)', :'five'));
RESET ROLE;
SET ROLE regress_admin;
SELECT mycelium.set_workflow_priority(:'five', -1) > 0 AS changed;
RESET ROLE;
SET ROLE regress_alice;
SELECT priority FROM mycelium.workflow_states WHERE workflow_id = :'five';

-- a finished workflow's priority is not changed
SELECT * FROM regress.try(format('SELECT mycelium.set_workflow_priority(%L, 1)', :'wf'));

-- a caller-chosen id given again with another priority returns the
-- workflow as it is: the priority is not part of the definition
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	workflow_id => '00000000-0000-4000-8000-00000000ba5e', priority => 1) AS again;
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('t', 'x', 'regress_prio')),
	workflow_id => '00000000-0000-4000-8000-00000000ba5e', priority => 2) AS again;
SELECT priority FROM mycelium.workflow_states
 WHERE workflow_id = '00000000-0000-4000-8000-00000000ba5e';
-- but a task's own priority is part of the tasks
SELECT * FROM regress.try($$SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('t', 'x', 'regress_prio', priority => 3)),
	workflow_id => '00000000-0000-4000-8000-00000000ba5e')$$);

-- templates start workflows of a priority
SELECT mycelium.create_template('regress_prio_tpl', jsonb_build_array(
	mycelium.task('t', 'x', 'regress_prio')));
SELECT mycelium.start_from_template('regress_prio_tpl', priority => 7) AS tpl \gset
SELECT priority FROM mycelium.workflow_states WHERE workflow_id = :'tpl';
SELECT priority FROM mycelium.task_states WHERE workflow_id = :'tpl';

-- an agent type limit that lets fewer start than are claimable keeps the
-- first by priority
RESET ROLE;
SELECT mycelium.register_executor('regress_prio_lim', NULL);
SELECT mycelium.set_agent_type_limits('regress_prio_lim', max_running => 1);
SET ROLE regress_alice;
SELECT count(mycelium.start_workflow(mycelium.create_workflow(
	jsonb_build_array(mycelium.task('t', 'x', 'regress_prio_lim')),
	name => 'lim' || p, priority => p))) AS started
  FROM unnest(ARRAY[0, 10, 5]) p;
SELECT w.name FROM mycelium.claim_tasks('regress_prio_lim', 'a4', 3) c
  JOIN mycelium.workflow_states w USING (workflow_id);

-- clean up: nothing of these types left for other tests
SELECT count(mycelium.cancel_workflow(workflow_id)) >= 0 AS cancelled
  FROM mycelium.workflow_states WHERE status IN ('pending', 'running')
   AND workflow_id IN (SELECT workflow_id FROM mycelium.task_states
                        WHERE agent_type IN ('regress_prio', 'regress_prio_lim'));
SELECT mycelium.drop_template('regress_prio_tpl');
RESET ROLE;
