-- mycelium--0.1.0--0.2.0.sql
--	Updates a 0.1.0 catalog to 0.2.0 (ALTER EXTENSION mycelium UPDATE).
--
-- Every catalog change of the 0.2.0 release goes here and into the fresh
-- install script (src/sql/*.sql) alike; test/t/021_upgrade.pl checks that
-- both give the same schema and that workflows running across the update
-- finish.  Statements are schema-qualified: the script runs with
-- search_path set to the extension's schema, but must not depend on it.

\echo Use "ALTER EXTENSION mycelium UPDATE" to load this file. \quit

-- Issue 30, agent SDKs: release_task and release_tasks give claimed tasks
-- back without spending an attempt (src/sql/66_release.sql).

CREATE FUNCTION mycelium.release_task(
	workflow_id uuid,
	task_id text,
	worker_id text)
RETURNS mycelium.task_status
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_release_task';
COMMENT ON FUNCTION mycelium.release_task(uuid, text, text) IS
	'gives back a task worker_id claimed: it is ready again at once and the attempt is not counted; returns its new status (ready)';

CREATE FUNCTION mycelium.release_tasks(
	worker_id text,
	workflow_ids uuid[],
	task_ids text[])
RETURNS TABLE (workflow_id uuid, task_id text, status mycelium.task_status)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_release_tasks';
COMMENT ON FUNCTION mycelium.release_tasks(text, uuid[], text[]) IS
	'gives back several tasks worker_id claimed (task_ids[i] of workflow_ids[i]), all or none, without counting their attempts; returns each task''s new status';

REVOKE ALL ON FUNCTION mycelium.release_task(uuid, text, text),
	mycelium.release_tasks(text, uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.release_task(uuid, text, text),
	mycelium.release_tasks(text, uuid[], text[]) TO mycelium_user;
