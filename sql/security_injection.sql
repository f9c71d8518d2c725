-- SQL injection through every text input is harmless: hostile strings as
-- agent types, task and agent ids, workflow, template and schedule
-- names, worker ids, JSON keys and values, handoff fields, errors and
-- reasons are stored and returned verbatim (or refused with a clear
-- error), they cannot break the graph syntax, and nothing else happens:
-- the canary table is still there with its rows.

CREATE SCHEMA inj;
CREATE TABLE inj.canary AS SELECT g AS x FROM generate_series(1, 3) g;
CREATE TABLE inj.h (n int PRIMARY KEY, s text NOT NULL);
INSERT INTO inj.h VALUES
	(1, $x$'); DROP TABLE inj.canary; --$x$),
	(2, $x$"; DROP TABLE inj.canary; --$x$),
	(3, $x$$$; DROP TABLE inj.canary; $$$x$),
	(4, $x$\'; DELETE FROM inj.canary; --\\$x$),
	(5, $x$Robert'); DELETE FROM inj.canary;--$x$),
	(6, $x$%s %I %L %% $1 :'x' \gset$x$),
	(7, $x$ünïcødé ✓ 𝄞 日本語 ‮ltr$x$),
	(8, $x$a"]; t1 --> evil["x<br/>$x$),
	(9, $x$x" ]; evil [label="y\"; \\ {}$x$),
	(10, $x$</b><script>alert(1)</script>&amp;$x$),
	(11, repeat('ж', 127)),
	(12, repeat('x', 255));
CREATE TABLE inj.wf (n int, id uuid);
GRANT USAGE ON SCHEMA inj TO PUBLIC;
GRANT SELECT ON inj.h, inj.canary TO PUBLIC;
GRANT ALL ON inj.wf TO PUBLIC;
SELECT n, octet_length(s) AS bytes FROM inj.h ORDER BY n;

-- hostile agent types, registered by the superuser for everyone
SELECT count(*) AS registered FROM inj.h, mycelium.register_executor(s, NULL);
SELECT count(*) AS verbatim FROM inj.h JOIN mycelium.executors e ON e.agent_type = h.s;
CREATE EXTENSION pg_cron;
GRANT USAGE ON SCHEMA cron TO regress_alice;

SET ROLE regress_alice;
-- a workflow per string, named by it, with it as task id, agent id,
-- agent type, and as keys and values of the input, metadata, context and
-- variables
INSERT INTO inj.wf
SELECT n, mycelium.create_workflow(
		jsonb_build_array(mycelium.task(s, s, s, input => jsonb_build_object(s, s),
										metadata => jsonb_build_object(s, s), max_attempts => 2,
										initial_delay => 0)),
		jsonb_build_object(s, s), jsonb_build_object(s, s), 1, s)
  FROM inj.h;
SELECT count(*) AS verbatim
  FROM inj.h JOIN inj.wf USING (n), mycelium.get_workflow(wf.id) g
 WHERE g->>'name' = s AND g->'context'->>s = s AND g->'variables'->>s = s
   AND g->'tasks'->s->>'task_id' = s AND g->'tasks'->s->>'agent_id' = s
   AND g->'tasks'->s->>'agent_type' = s AND g->'tasks'->s->'input'->>s = s
   AND g->'tasks'->s->'metadata'->>s = s;
SELECT count(*) AS started FROM inj.wf, mycelium.start_workflow(id);

-- handoffs with the strings in every field, delivered to the task
SELECT count(*) AS sent
  FROM inj.h JOIN inj.wf USING (n),
	   mycelium.send_handoff(wf.id, mycelium.create_handoff(s, s, s, s, s,
			jsonb_build_object(s, s), jsonb_build_object(s, s),
			jsonb_build_object('stage', s, 'message', s)));

-- an external agent named by the string claims, heartbeats, fails and
-- completes the task; ctx carries the strings verbatim
SELECT count(*) AS verbatim
  FROM inj.h, mycelium.claim_tasks(s, s, 5, '1 minute') c
 WHERE c.task_id = s AND c.ctx->'task'->>'agent_type' = s
   AND c.ctx->'workflow_context'->>s = s
   AND c.ctx->'handoffs'->0->'context'->>'task_description' = s
   AND c.ctx->'handoffs'->0->'source'->>'agent_id' = s
   AND c.ctx->'handoffs'->0->'context'->>s = s;
SELECT count(*) AS beats FROM inj.h JOIN inj.wf USING (n),
	mycelium.heartbeat(wf.id, s, s, jsonb_build_object(s, s));
SELECT count(*) AS verbatim FROM inj.h JOIN mycelium.tasks t ON t.task_id = h.s
 WHERE t.worker_id = s AND t.progress->>s = s;
SELECT mycelium.fail_task(wf.id, s, s, s) AS failed, count(*)
  FROM inj.h JOIN inj.wf USING (n) GROUP BY 1;
SELECT count(*) AS verbatim FROM inj.h JOIN mycelium.tasks t ON t.task_id = h.s
 WHERE t.error = s;
SELECT count(*) AS reclaimed FROM inj.h, mycelium.claim_tasks(s, s, 5, '1 minute') c;
SELECT mycelium.complete_task(wf.id, s, s, jsonb_build_object(s, s)) AS completed, count(*)
  FROM inj.h JOIN inj.wf USING (n) GROUP BY 1;
SELECT count(*) AS verbatim FROM inj.h JOIN mycelium.tasks t ON t.task_id = h.s
 WHERE t.result->>s = s AND t.status = 'completed';
SELECT count(*) AS verbatim FROM inj.h JOIN inj.wf USING (n), mycelium.workflow_timeline(wf.id) t
 WHERE t.task_id = s AND (t.outcome = 'completed' OR t.error = s);

-- the pictures escape them: no string ends a label or starts a node
SELECT n, mycelium.workflow_graph(id) FROM inj.wf WHERE n IN (8, 10) ORDER BY n;
SELECT n, mycelium.workflow_graph(id, 'dot') FROM inj.wf WHERE n IN (4, 9) ORDER BY n;
SELECT count(*) AS one_node_each
  FROM inj.wf, mycelium.workflow_graph(id) g
 WHERE (SELECT count(*) FROM regexp_matches(g, '^    t[0-9]+\[', 'gn')) = 1;

-- update_task's error and cancel_workflow's reason, verbatim
SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('u', 'x', 'external')), name => 'errors') AS err_wf \gset
SELECT mycelium.update_task(:'err_wf', 'u', 'failed', error => (SELECT s FROM inj.h WHERE n = 1));
SELECT error = (SELECT s FROM inj.h WHERE n = 1) AS verbatim FROM mycelium.tasks WHERE workflow_id = :'err_wf';
SELECT mycelium.create_workflow('[]') AS cancel_wf \gset
SELECT mycelium.cancel_workflow(:'cancel_wf', (SELECT s FROM inj.h WHERE n = 3));
SELECT error = (SELECT s FROM inj.h WHERE n = 3) AS verbatim FROM mycelium.workflows WHERE workflow_id = :'cancel_wf';

-- templates and pg_cron schedules named by the strings: the job's
-- command quotes the name, and a tick runs the right schedule
SELECT count(*) AS templates
  FROM inj.h, mycelium.create_template(s, jsonb_build_array(mycelium.task(s, s, s)),
									   jsonb_build_object(s, s), jsonb_build_object(s, s), 1, s);
SELECT count(*) AS verbatim FROM inj.h JOIN mycelium.templates t ON t.name = h.s
 WHERE t.description = s AND t.variables->>s = s;
-- (pg_cron keeps job names of up to 63 bytes: longer ones are refused, or
-- two schedules would share one pg_cron job)
SELECT n, regress.try(format($$SELECT mycelium.schedule_workflow(%L, '0 0 1 1 *', %L)$$, s, s))
  FROM inj.h WHERE octet_length(s) > 63 ORDER BY n;
SELECT count(*) AS scheduled FROM inj.h, mycelium.schedule_workflow(s, '0 0 1 1 *', s, jsonb_build_object(s, 'cron'))
 WHERE octet_length(s) <= 63;
SELECT n, command FROM inj.h JOIN cron.job j ON j.jobname = h.s WHERE n IN (1, 3, 4, 6) ORDER BY n;
SELECT count(*) AS quoted FROM inj.h JOIN cron.job j ON j.jobname = h.s
 WHERE j.command = format('SELECT mycelium.run_schedule(%L)', s);
INSERT INTO inj.wf SELECT -n, mycelium.run_schedule(s) FROM inj.h WHERE octet_length(s) <= 63;
SELECT count(*) AS ran
  FROM inj.h JOIN inj.wf ON wf.n = -h.n JOIN mycelium.workflow_states w ON w.workflow_id = wf.id
 WHERE w.name = s AND w.variables->>s = 'cron';
SELECT count(*) AS runs FROM inj.h JOIN mycelium.schedules c ON c.job_name = h.s WHERE c.runs = 1;
SELECT count(*) AS cancelled FROM inj.h JOIN mycelium.schedules c ON c.job_name = h.s,
	mycelium.cancel_workflow(c.last_workflow_id);
SELECT count(*) AS unscheduled FROM inj.h, mycelium.unschedule_workflow(s) WHERE octet_length(s) <= 63;
SELECT count(*) AS dropped FROM inj.h, mycelium.drop_template(s);

-- too long or with control characters: refused, clearly
SELECT regress.try(format($$SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task(%L, 'x', 'external')))$$,
						  repeat('x', 256)));
SELECT regress.try(format($$SELECT mycelium.create_workflow('[]', name => %L)$$, repeat('ж', 128)));
SELECT regress.try($$SELECT mycelium.create_workflow('[]', name => E'two\nlines')$$);
SELECT regress.try($$SELECT mycelium.create_template(E'tab\tbed', '[]')$$);
SELECT regress.try(format($$SELECT count(*) FROM mycelium.claim_tasks('external', %L)$$, repeat('w', 256)));
RESET ROLE;

-- nothing else happened
SELECT count(*) AS canary_rows, sum(x) AS canary_sum FROM inj.canary;
SELECT count(*) AS stray_tables FROM pg_class WHERE relname = 'canary';

SELECT count(*) AS unregistered FROM inj.h, mycelium.unregister_executor(s);
DROP EXTENSION pg_cron;
DROP SCHEMA inj CASCADE;
