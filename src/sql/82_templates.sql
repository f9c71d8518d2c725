-- mycelium: workflow templates
--
-- A template is a named workflow definition a role keeps to start
-- workflows from, by hand or on a schedule.  Names belong to their owner:
-- every role creates, uses and drops its own templates; mycelium_admin
-- sees them all.

CREATE TABLE mycelium.workflow_templates (
	owner regrole NOT NULL,
	name text COLLATE "C" NOT NULL
		CHECK (pg_catalog.length(name) BETWEEN 1 AND 255),
	tasks jsonb NOT NULL,
	context jsonb NOT NULL DEFAULT '{}',
	variables jsonb NOT NULL DEFAULT '{}',
	max_parallel_tasks integer NOT NULL CHECK (max_parallel_tasks >= 1),
	description text,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, name)
);
COMMENT ON TABLE mycelium.workflow_templates IS
	'named workflow definitions, per owner, that start_from_template and schedules start workflows from';
COMMENT ON COLUMN mycelium.workflow_templates.variables IS
	'default variables; start_from_template merges the caller''s over them';

ALTER TABLE mycelium.workflow_templates ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_templates_owner ON mycelium.workflow_templates FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.workflow_templates FROM PUBLIC;
GRANT SELECT ON mycelium.workflow_templates TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_templates', '');

CREATE VIEW mycelium.templates WITH (security_invoker = true) AS
SELECT t.name, t.owner::text AS owner, t.description,
	   pg_catalog.jsonb_array_length(t.tasks) AS task_count,
	   t.variables, t.max_parallel_tasks, t.created_at
  FROM mycelium.workflow_templates t;
COMMENT ON VIEW mycelium.templates IS 'workflow templates visible to the current role';
GRANT SELECT ON mycelium.templates TO mycelium_user;

CREATE FUNCTION mycelium.create_template(
	name text,
	tasks jsonb,
	context jsonb DEFAULT '{}',
	variables jsonb DEFAULT '{}',
	max_parallel_tasks integer DEFAULT 10,
	description text DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_create_template';
COMMENT ON FUNCTION mycelium.create_template(text, jsonb, jsonb, jsonb, integer, text) IS
	'stores a workflow definition, validated like create_workflow, under a name of the calling role';

CREATE FUNCTION mycelium.start_from_template(
	name text,
	variables jsonb DEFAULT '{}',
	metadata jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL,
	start_at timestamptz DEFAULT NULL,
	priority integer DEFAULT 0)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_start_from_template';
COMMENT ON FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz, integer) IS
	'creates a workflow of a priority from one of the caller''s templates (variables merged over its defaults) and starts it, now or at start_at; a caller-chosen workflow_id makes it idempotent';

CREATE FUNCTION mycelium.drop_template(name text)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_drop_template';
COMMENT ON FUNCTION mycelium.drop_template(text) IS
	'removes one of the caller''s templates; refused while a schedule uses it';
