-- Schedules on pg_cron: a clear error while pg_cron is missing; the
-- pg_cron job belongs to the scheduling role and runs run_schedule with
-- the job name quoted; the overlap rule; errors.  (The TAP test
-- test/t/008_schedules.pl has pg_cron itself start the runs.)

SET ROLE regress_alice;
SELECT mycelium.create_template('waits', jsonb_build_array(mycelium.task('gate', 'g', 'external')),
								variables => '{"from": "template"}');

-- pg_cron is preloaded but not created in this database
SELECT regress.try($$SELECT mycelium.schedule_workflow('hourly', '0 * * * *', 'waits')$$);

RESET ROLE;
CREATE EXTENSION pg_cron;
-- a role that may not use schema cron may not make pg_cron jobs
SET ROLE regress_alice;
SELECT regress.try($$SELECT mycelium.schedule_workflow('hourly', '0 * * * *', 'waits')$$);
RESET ROLE;
GRANT USAGE ON SCHEMA cron TO regress_alice, regress_bob;

SET ROLE regress_alice;
SELECT mycelium.schedule_workflow('hourly', '0 0 1 1 *', 'waits', '{"run": "scheduled"}') AS job \gset
SELECT jobid = :job AS same_job, schedule, command, username FROM cron.job;
SELECT job_name, owner, schedule, template, variables, overlap, runs, skipped_runs,
	   last_workflow_id FROM mycelium.schedules;

-- a tick (what pg_cron runs) starts a workflow as alice, with the
-- schedule's variables over the template's
SELECT mycelium.run_schedule('hourly') AS first \gset
SELECT name, owner, status FROM mycelium.workflows WHERE workflow_id = :'first';
SELECT variables FROM mycelium.workflow_states WHERE workflow_id = :'first';
-- overlap "skip": while that workflow runs, a tick starts nothing
SELECT mycelium.run_schedule('hourly') IS NULL AS skipped;
SELECT runs, skipped_runs, last_workflow_id = :'first' AS last_is_first,
	   last_workflow_status, last_skipped_at IS NOT NULL AS skip_recorded
  FROM mycelium.schedules WHERE job_name = 'hourly';
-- once it has finished, the next tick starts a new one
SELECT mycelium.update_task(:'first', 'gate', 'completed');
SELECT mycelium.run_schedule('hourly') AS second \gset
SELECT :'second' <> :'first' AS new_workflow, runs, skipped_runs, last_workflow_status
  FROM mycelium.schedules WHERE job_name = 'hourly';

-- overlap "allow": every tick starts one
SELECT mycelium.schedule_workflow('eager', '0 0 1 1 *', 'waits', overlap => 'allow') IS NOT NULL AS scheduled;
SELECT mycelium.run_schedule('eager') IS NOT NULL AS started,
	   mycelium.run_schedule('eager') IS NOT NULL AS started_again;
SELECT runs, skipped_runs FROM mycelium.schedules WHERE job_name = 'eager';

-- a job name that needs quoting reaches run_schedule intact
SELECT mycelium.schedule_workflow($$it's "odd"; DROP TABLE x --$$, '0 0 1 1 *', 'waits') IS NOT NULL AS scheduled;
SELECT command FROM cron.job WHERE jobname = $$it's "odd"; DROP TABLE x --$$;
SELECT mycelium.run_schedule($$it's "odd"; DROP TABLE x --$$) IS NOT NULL AS started;

-- refused, changing nothing
SELECT count(*) AS jobs_before FROM cron.job \gset
SELECT regress.try($$SELECT mycelium.schedule_workflow('hourly', '0 0 1 1 *', 'waits')$$);
SELECT cron.schedule('plain', '0 0 1 1 *', 'SELECT 1') IS NOT NULL AS plain_job;
SELECT regress.try($$SELECT mycelium.schedule_workflow('plain', '0 0 1 1 *', 'waits')$$);
SELECT cron.unschedule('plain');
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', '0 0 1 1 *', 'missing')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', 'every day', 'waits')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', '0 0 1 1 *', 'waits', overlap => 'queue')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', '0 0 1 1 *', 'waits', '[]')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('', '0 0 1 1 *', 'waits')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow(NULL, '0 0 1 1 *', 'waits')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', NULL, 'waits')$$);
SELECT regress.try($$SELECT mycelium.schedule_workflow('new', '0 0 1 1 *', NULL)$$);
SELECT count(*) = :jobs_before AS no_new_job, count(*) FILTER (WHERE jobname = 'new') = 0 AS no_new
  FROM cron.job;
SELECT count(*) AS schedules FROM mycelium.schedules;
-- a template in use cannot be dropped
SELECT regress.try($$SELECT mycelium.drop_template('waits')$$);

-- bob sees none of alice's schedules and cannot run or remove them
SET ROLE regress_bob;
SELECT count(*) FROM mycelium.schedules;
SELECT regress.try($$SELECT mycelium.run_schedule('hourly')$$);
SELECT regress.try($$SELECT mycelium.unschedule_workflow('hourly')$$);

-- unscheduling removes the pg_cron job too
SET ROLE regress_alice;
SELECT mycelium.unschedule_workflow('hourly');
SELECT mycelium.unschedule_workflow('eager');
SELECT mycelium.unschedule_workflow($$it's "odd"; DROP TABLE x --$$);
SELECT count(*) AS jobs_left FROM cron.job;
SELECT count(*) AS schedules_left FROM mycelium.schedules;
SELECT regress.try($$SELECT mycelium.unschedule_workflow('hourly')$$);
SELECT regress.try($$SELECT mycelium.run_schedule('hourly')$$);
SELECT mycelium.drop_template('waits');

-- a schedule whose pg_cron is gone can still be removed
SELECT mycelium.create_template('waits', jsonb_build_array(mycelium.task('gate', 'g', 'external')));
SELECT mycelium.schedule_workflow('orphan', '0 0 1 1 *', 'waits') IS NOT NULL AS scheduled;
RESET ROLE;
DROP EXTENSION pg_cron;
SET ROLE regress_alice;
SELECT mycelium.unschedule_workflow('orphan');
SELECT mycelium.drop_template('waits');
RESET ROLE;
