-- mycelium: roles and types
--
-- Roles are cluster-wide, so they are created only when missing and are
-- left in place by DROP EXTENSION (like any role an administrator made).
--   mycelium_user  may use the API; sees and controls its own workflows.
--   mycelium_admin sees and controls every workflow.

\echo Use "CREATE EXTENSION mycelium" to load this file. \quit

DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mycelium_user') THEN
		CREATE ROLE mycelium_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mycelium_admin') THEN
		CREATE ROLE mycelium_admin NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('mycelium_admin', 'mycelium_user', 'MEMBER') THEN
		GRANT mycelium_user TO mycelium_admin;
	END IF;
END
$roles$;

-- The state machines behind these types are drawn in doc/state-machines.md.
CREATE TYPE mycelium.workflow_status AS ENUM (
	'pending', 'running', 'paused', 'cancelling', 'failing', 'completed',
	'failed', 'cancelled'
);
COMMENT ON TYPE mycelium.workflow_status IS
	'status of a workflow (cancelling and failing: cancelled or failed while scheduler workers still run some of its attempts, until they stop); see doc/state-machines.md';

CREATE TYPE mycelium.task_status AS ENUM (
	'pending', 'ready', 'running', 'completed', 'failed', 'skipped', 'cancelled'
);
COMMENT ON TYPE mycelium.task_status IS
	'status of a task; see doc/state-machines.md';
