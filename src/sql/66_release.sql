-- mycelium: giving claimed tasks back
--
-- An external agent that claimed a task it will not do (it is stopping,
-- or claimed more than it can start) releases it: the task is ready again
-- at once and the attempt is not counted, unlike fail_task.  History
-- records the release.

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
