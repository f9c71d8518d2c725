-- mycelium: schedules on pg_cron
--
-- A schedule is a pg_cron job, owned by the role that made it, whose
-- command is SELECT mycelium.run_schedule('job name'): pg_cron runs it as
-- that role, which starts a workflow from one of its templates.  The
-- overlap policy "skip" (the default) passes over a tick while the
-- schedule's previous workflow has not finished; "allow" starts anyway.
-- pg_cron is optional: only these functions need it.

CREATE TABLE mycelium.workflow_schedules (
	owner regrole NOT NULL,
	job_name text COLLATE "C" NOT NULL
		CHECK (pg_catalog.length(job_name) BETWEEN 1 AND 255),
	job_id bigint NOT NULL,
	schedule text NOT NULL,
	template text COLLATE "C" NOT NULL,
	variables jsonb NOT NULL DEFAULT '{}',
	overlap text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
	runs bigint NOT NULL DEFAULT 0,
	skipped_runs bigint NOT NULL DEFAULT 0,
	last_workflow_id uuid,
	last_run_at timestamptz,
	last_skipped_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, job_name),
	FOREIGN KEY (owner, template) REFERENCES mycelium.workflow_templates (owner, name)
);
COMMENT ON TABLE mycelium.workflow_schedules IS
	'pg_cron jobs that start workflows from templates, with what their runs did';
COMMENT ON COLUMN mycelium.workflow_schedules.job_id IS 'the pg_cron job (cron.job.jobid)';
COMMENT ON COLUMN mycelium.workflow_schedules.overlap IS
	'skip: no new run while the last one has not finished; allow: start anyway';
COMMENT ON COLUMN mycelium.workflow_schedules.skipped_runs IS
	'ticks passed over because the last run had not finished';

ALTER TABLE mycelium.workflow_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_schedules_owner ON mycelium.workflow_schedules FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.workflow_schedules FROM PUBLIC;
GRANT SELECT ON mycelium.workflow_schedules TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_schedules', '');

CREATE VIEW mycelium.schedules WITH (security_invoker = true) AS
SELECT s.job_name, s.owner::text AS owner, s.schedule, s.template, s.variables,
	   s.overlap, s.job_id, s.runs, s.skipped_runs, s.last_workflow_id,
	   w.status AS last_workflow_status, s.last_run_at, s.last_skipped_at,
	   s.created_at
  FROM mycelium.workflow_schedules s
  LEFT JOIN mycelium.workflow_states w ON w.workflow_id = s.last_workflow_id;
COMMENT ON VIEW mycelium.schedules IS 'schedules visible to the current role, with their last run';
GRANT SELECT ON mycelium.schedules TO mycelium_user;

CREATE FUNCTION mycelium.schedule_workflow(
	job_name text,
	schedule text,
	template text,
	variables jsonb DEFAULT '{}',
	overlap text DEFAULT 'skip')
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_schedule_workflow';
COMMENT ON FUNCTION mycelium.schedule_workflow(text, text, text, jsonb, text) IS
	'starts a workflow from a template on a pg_cron schedule, as the calling role; returns the pg_cron job id';

CREATE FUNCTION mycelium.unschedule_workflow(job_name text)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_unschedule_workflow';
COMMENT ON FUNCTION mycelium.unschedule_workflow(text) IS
	'removes one of the caller''s schedules and its pg_cron job';

CREATE FUNCTION mycelium.run_schedule(job_name text)
RETURNS uuid
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_run_schedule';
COMMENT ON FUNCTION mycelium.run_schedule(text) IS
	'one tick of the caller''s schedule (what its pg_cron job runs): starts a workflow, or returns NULL when the overlap rule skips it';
