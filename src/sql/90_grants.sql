-- mycelium: privileges
--
-- Only members of mycelium_user may call the API (USAGE on the schema is
-- not enough): EXECUTE is revoked from PUBLIC on every function.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mycelium FROM PUBLIC;
GRANT USAGE ON SCHEMA mycelium TO mycelium_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mycelium TO mycelium_user;
GRANT SELECT ON mycelium.workflows, mycelium.tasks, mycelium.workflow_progress
	TO mycelium_user;
-- procedures are not among ALL FUNCTIONS
REVOKE ALL ON ALL PROCEDURES IN SCHEMA mycelium FROM PUBLIC;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA mycelium TO mycelium_user;
GRANT SELECT ON mycelium.workflow_statistics TO mycelium_user;
