-- mycelium--0.1.0--0.2.0.sql
--	Updates a 0.1.0 catalog to 0.2.0 (ALTER EXTENSION mycelium UPDATE).
--
-- Every catalog change of the 0.2.0 release goes here and into the fresh
-- install script (src/sql/*.sql) alike; test/t/021_upgrade.pl checks that
-- both give the same schema and that workflows running across the update
-- finish.  Statements are schema-qualified: the script runs with
-- search_path set to the extension's schema, but must not depend on it.

\echo Use "ALTER EXTENSION mycelium UPDATE" to load this file. \quit

-- ---------------------------------------------------------------------
-- Workflow metadata and caller-chosen ids (issue 29): create_workflow
-- and start_from_template take metadata and a workflow_id that makes
-- creation idempotent.
-- ---------------------------------------------------------------------
-- (added without a default and filled, rather than with ADD COLUMN ...
-- DEFAULT, whose "missing value" would make the table differ from a fresh
-- install's)
ALTER TABLE mycelium.workflow_states
	ADD COLUMN metadata jsonb,
	ADD COLUMN definition_hash bytea;
UPDATE mycelium.workflow_states SET metadata = '{}';
ALTER TABLE mycelium.workflow_states
	ALTER COLUMN metadata SET DEFAULT '{}',
	ALTER COLUMN metadata SET NOT NULL;
COMMENT ON COLUMN mycelium.workflow_states.metadata IS
	'the caller''s own description of the workflow (create_workflow''s metadata), stored as given';
COMMENT ON COLUMN mycelium.workflow_states.definition_hash IS
	'SHA-256 of the definition of a workflow created with a caller-chosen workflow_id, to tell a repeated creation from a conflicting one (NULL: the id was generated)';

DROP FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text);
CREATE FUNCTION mycelium.create_workflow(
	tasks jsonb,
	context jsonb DEFAULT '{}',
	variables jsonb DEFAULT '{}',
	max_parallel_tasks integer DEFAULT 10,
	name text DEFAULT NULL,
	metadata jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_create_workflow';
COMMENT ON FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid) IS
	'validates a DAG of task definitions and stores it as a new pending workflow; a caller-chosen workflow_id makes it idempotent';
REVOKE ALL ON FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid) TO mycelium_user;

DROP FUNCTION mycelium.start_from_template(text, jsonb);
CREATE FUNCTION mycelium.start_from_template(
	name text,
	variables jsonb DEFAULT '{}',
	metadata jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_start_from_template';
COMMENT ON FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid) IS
	'creates a workflow from one of the caller''s templates (variables merged over its defaults) and starts it; a caller-chosen workflow_id makes it idempotent';
REVOKE ALL ON FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid) TO mycelium_user;

CREATE OR REPLACE VIEW mycelium.workflows WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.owner::text AS owner, w.status, w.version,
	   w.task_count, w.max_parallel_tasks, w.error,
	   w.created_at, w.started_at, w.finished_at, w.updated_at, w.metadata
  FROM mycelium.workflow_states w;

-- ---------------------------------------------------------------------
-- Deletion and retention (issue 29): delete_workflow, purge_workflows,
-- and a trigger that removes a deleted workflow's rows everywhere.
-- ---------------------------------------------------------------------
-- purge_workflows finds the oldest finished workflows through this index
CREATE INDEX workflow_states_finished_idx ON mycelium.workflow_states (finished_at)
	WHERE status IN ('completed', 'failed', 'cancelled');

CREATE FUNCTION mycelium.workflows_deleted()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'mc_workflows_deleted';
COMMENT ON FUNCTION mycelium.workflows_deleted() IS
	'trigger: refuses to delete a workflow whose tasks may run, and deletes the rows of deleted workflows from the other catalog tables';

CREATE TRIGGER workflows_deleted AFTER DELETE ON mycelium.workflow_states
	REFERENCING OLD TABLE AS deleted_workflows
	FOR EACH STATEMENT EXECUTE FUNCTION mycelium.workflows_deleted();
COMMENT ON TRIGGER workflows_deleted ON mycelium.workflow_states IS
	'a deleted workflow takes its tasks, task ids, history and handoff messages with it';

CREATE FUNCTION mycelium.delete_workflow(workflow_id uuid)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_delete_workflow';
COMMENT ON FUNCTION mycelium.delete_workflow(uuid) IS
	'removes a workflow the caller owns and all its rows; refused while its tasks may run';

CREATE PROCEDURE mycelium.purge_workflows(
	older_than interval,
	statuses mycelium.workflow_status[] DEFAULT '{completed,failed,cancelled}',
	batch_size integer DEFAULT 1000,
	INOUT purged bigint DEFAULT NULL)
LANGUAGE c
AS 'MODULE_PATHNAME', 'mc_purge_workflows';
COMMENT ON PROCEDURE mycelium.purge_workflows(interval, mycelium.workflow_status[], integer, bigint) IS
	'removes the caller''s workflows (an administrator''s: all) that finished longer than older_than ago, batch_size at a time, committing after each batch; purged: how many';
REVOKE ALL ON FUNCTION mycelium.workflows_deleted() FROM PUBLIC;
REVOKE ALL ON FUNCTION mycelium.delete_workflow(uuid) FROM PUBLIC;
REVOKE ALL ON PROCEDURE mycelium.purge_workflows(interval, mycelium.workflow_status[], integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.workflows_deleted() TO mycelium_user;
GRANT EXECUTE ON FUNCTION mycelium.delete_workflow(uuid) TO mycelium_user;
GRANT EXECUTE ON PROCEDURE mycelium.purge_workflows(interval, mycelium.workflow_status[], integer, bigint) TO mycelium_user;
