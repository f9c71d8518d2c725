-- mycelium: deleting workflows and keeping the catalog small
--
-- delete_workflow removes one workflow; purge_workflows removes finished
-- workflows older than a given age, in batches, each committed on its own
-- (a pg_cron recipe is in doc/operations.md).  Deleting a workflow's row
-- in workflow_states, by these or by a superuser's DELETE, removes its
-- rows from every other table (the trigger below).

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
