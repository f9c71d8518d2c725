-- agent_type_stats' ready tasks: ready_task_count(agent_type) counts them
-- from task_states_ready_count_idx, less those of pending and paused
-- workflows, for the workflows the role may see; each count is shown
-- beside what a query of the same tasks gives, per role, as workflows
-- start, pause, resume, end and their tasks are claimed, and within a
-- transaction that has not committed.  Who may call it.
-- (The views on a running scheduler: test/t/025_operator_watch.pl; another
-- session's uncommitted changes: test/isolation/specs/operator_ready_count.spec.)

SELECT mycelium.register_executor('regress_ops', NULL);

-- what a query counts: the ready tasks of running workflows the role sees
CREATE FUNCTION regress.ready_by_query(agent_type text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM mycelium.task_states t
	  JOIN mycelium.workflow_states w USING (workflow_id)
	 WHERE t.agent_type = $1 AND t.status = 'ready' AND t.ready_at IS NOT NULL
	   AND w.status = 'running'
$$;
GRANT EXECUTE ON FUNCTION regress.ready_by_query(text) TO PUBLIC;

-- both counts and the view's, as "count / query / view"
CREATE FUNCTION regress.ready(agent_type text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT mycelium.ready_task_count($1) || ' / ' || regress.ready_by_query($1)
		   || ' / ' || (SELECT s.ready FROM mycelium.agent_type_stats s
					   WHERE s.agent_type = $1)
$$;
GRANT EXECUTE ON FUNCTION regress.ready(text) TO PUBLIC;

-- alice: a running workflow (3 tasks ready, one waiting for a
-- dependency) and one not started (2 ready tasks, not counted)
SET ROLE regress_alice;
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_ops'), mycelium.task('b', 'x', 'regress_ops'),
	mycelium.task('c', 'x', 'regress_ops'),
	mycelium.task('d', 'x', 'regress_ops', dependencies => '{a}'))) AS w1 \gset
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_ops'), mycelium.task('b', 'x', 'regress_ops'))) AS w2 \gset
SELECT regress.ready('regress_ops');
SELECT mycelium.start_workflow(:'w1') > 0;
SELECT regress.ready('regress_ops');

-- bob's running workflow: bob counts his, alice hers, an admin both
SET ROLE regress_bob;
SELECT mycelium.start_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'x', 'regress_ops')))) > 0;
SELECT regress.ready('regress_ops');
SET ROLE regress_alice;
SELECT regress.ready('regress_ops');
SET ROLE regress_admin;
SELECT regress.ready('regress_ops');
RESET ROLE;
SELECT regress.ready('regress_ops');

-- alice starts the second and pauses the first; resumes it
SET ROLE regress_alice;
SELECT mycelium.start_workflow(:'w2') > 0;
SELECT mycelium.pause_workflow(:'w1') > 0;
SELECT regress.ready('regress_ops');
SELECT mycelium.resume_workflow(:'w1') > 0;
SELECT regress.ready('regress_ops');

-- a claim takes a task out, its completion makes d ready
SELECT c.task_id AS claimed FROM mycelium.claim_tasks('regress_ops', 'agent-1') c
 WHERE c.workflow_id = :'w1' \gset
SELECT regress.ready('regress_ops');
SELECT mycelium.complete_task(:'w1', :'claimed', 'agent-1', '{}');
SELECT regress.ready('regress_ops');

-- in a transaction, its own changes count before it commits; rolled back,
-- they are gone
BEGIN;
SELECT mycelium.cancel_workflow(:'w2') > 0;
SELECT regress.ready('regress_ops');
ROLLBACK;
SELECT regress.ready('regress_ops');

-- without its index (dropped here, in a transaction rolled back), the
-- count is one query, as where Citus distributes task_states
BEGIN;
RESET ROLE;
DROP INDEX mycelium.task_states_ready_count_idx;
SET ROLE regress_alice;
SELECT regress.ready('regress_ops');
SET ROLE regress_bob;
SELECT regress.ready('regress_ops');
SET ROLE regress_admin;
SELECT regress.ready('regress_ops');
ROLLBACK;
SET ROLE regress_alice;

-- an agent type without ready tasks, one not registered, NULL
SELECT mycelium.ready_task_count('external') >= 0 AS other_types_ok,
	   mycelium.ready_task_count('regress_no_such_type') AS not_registered,
	   mycelium.ready_task_count(NULL) AS null_type;

-- a role that is not a member of mycelium_user may not call it; one
-- allowed to call it that may not read task_states is refused too
SET ROLE regress_outsider;
SELECT regress.try($$SELECT mycelium.ready_task_count('regress_ops')$$);
RESET ROLE;
GRANT USAGE ON SCHEMA mycelium TO regress_outsider;
GRANT EXECUTE ON FUNCTION mycelium.ready_task_count(text) TO regress_outsider;
SET ROLE regress_outsider;
SELECT regress.try($$SELECT mycelium.ready_task_count('regress_ops')$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION mycelium.ready_task_count(text) FROM regress_outsider;
REVOKE USAGE ON SCHEMA mycelium FROM regress_outsider;

-- ended workflows' tasks are not ready
SELECT count(mycelium.cancel_workflow(w)) > 0
  FROM (SELECT DISTINCT workflow_id FROM mycelium.task_states
		 WHERE agent_type = 'regress_ops' AND status = 'ready') t(w);
SELECT regress.ready('regress_ops');
