-- mycelium: workflow definition API

CREATE FUNCTION mycelium.task(
	task_id text,
	agent_id text,
	agent_type text,
	dependencies text[] DEFAULT '{}',
	max_attempts integer DEFAULT 3,
	initial_delay double precision DEFAULT 1.0,
	max_delay double precision DEFAULT 60.0,
	exponential_base double precision DEFAULT 2.0,
	timeout double precision DEFAULT NULL,
	allow_failure boolean DEFAULT false,
	input jsonb DEFAULT NULL,
	metadata jsonb DEFAULT '{}',
	priority integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object(
		'task_id', task_id,
		'agent_id', agent_id,
		'agent_type', agent_type,
		'dependencies', pg_catalog.to_jsonb(COALESCE(dependencies, '{}'::text[])),
		'retry_policy', pg_catalog.jsonb_build_object(
			'max_attempts', max_attempts,
			'initial_delay', initial_delay,
			'max_delay', max_delay,
			'exponential_base', exponential_base),
		'timeout', timeout,
		'allow_failure', allow_failure,
		'input', input,
		'metadata', metadata)
		|| CASE WHEN priority IS NULL THEN '{}'::jsonb
			ELSE pg_catalog.jsonb_build_object('priority', priority) END;
END;
COMMENT ON FUNCTION mycelium.task(text, text, text, text[], integer, double precision, double precision, double precision, double precision, boolean, jsonb, jsonb, integer) IS
	'builds a task definition for create_workflow from named arguments (priority NULL: the workflow''s)';

CREATE FUNCTION mycelium.create_workflow(
	tasks jsonb,
	context jsonb DEFAULT '{}',
	variables jsonb DEFAULT '{}',
	max_parallel_tasks integer DEFAULT 10,
	name text DEFAULT NULL,
	metadata jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL,
	priority integer DEFAULT 0)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_create_workflow';
COMMENT ON FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid, integer) IS
	'validates a DAG of task definitions and stores it as a new pending workflow of a priority (-100 to 100); a caller-chosen workflow_id makes it idempotent';

CREATE FUNCTION mycelium.get_workflow(workflow_id uuid)
RETURNS jsonb
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'mc_get_workflow';
COMMENT ON FUNCTION mycelium.get_workflow(uuid) IS
	'the workflow with its version, status and every task, as jsonb';
