-- mycelium: live notifications of workflow changes
--
-- Watchers (the web dashboard, clients/dashboard) LISTEN on the channel
-- mycelium_workflows to refresh when a workflow is created, changes status
-- or is deleted, instead of polling.  The payload is empty: LISTEN is not
-- subject to privileges, so a notification must not tell one role about
-- another's workflows; a watcher reads what changed through the views,
-- where row-level security applies.  Notifications with the same payload
-- in one transaction are sent once, so creating many workflows in one
-- transaction notifies once; task-level changes do not notify (external
-- agents have mycelium_ready).

CREATE FUNCTION mycelium.notify_workflows_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_catalog.pg_notify('mycelium_workflows', '');
	RETURN NULL;
END;
$$;
COMMENT ON FUNCTION mycelium.notify_workflows_changed() IS
	'trigger: NOTIFY mycelium_workflows (empty payload) when workflows are created, change status or are deleted';

CREATE TRIGGER workflows_created AFTER INSERT OR DELETE ON mycelium.workflow_states
	FOR EACH STATEMENT EXECUTE FUNCTION mycelium.notify_workflows_changed();
COMMENT ON TRIGGER workflows_created ON mycelium.workflow_states IS
	'NOTIFY mycelium_workflows when workflows are created or deleted';

CREATE TRIGGER workflows_status_changed AFTER UPDATE OF status ON mycelium.workflow_states
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION mycelium.notify_workflows_changed();
COMMENT ON TRIGGER workflows_status_changed ON mycelium.workflow_states IS
	'NOTIFY mycelium_workflows when a workflow changes status';
