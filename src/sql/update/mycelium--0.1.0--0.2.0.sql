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

-- ---------------------------------------------------------------------
-- The original module's handoff message format (issue 29): the schema,
-- create_handoff's new arguments, add_result_to_context and
-- update_progress, and the messages stored by 0.1.0 converted.
-- ---------------------------------------------------------------------
COMMENT ON FUNCTION mycelium.handoff_schema() IS
	'the handoff message format, a JSON Schema (draft-07) document: the original coordination module''s';
COMMENT ON FUNCTION mycelium.send_handoff(uuid, jsonb) IS
	'stores a valid handoff message for the tasks of a workflow the caller owns (a message naming another workflow is refused); returns its handoff_id';

DROP FUNCTION mycelium.create_handoff(text, text, text, text, text, jsonb, jsonb, jsonb);
CREATE FUNCTION mycelium.create_handoff(
	source_agent_id text,
	source_agent_type text,
	target_agent_id text,
	target_agent_type text,
	task_description text DEFAULT NULL,
	context jsonb DEFAULT '{}',
	metadata jsonb DEFAULT '{}',
	state jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_create_handoff';
COMMENT ON FUNCTION mycelium.create_handoff(text, text, text, text, text, jsonb, jsonb, jsonb, uuid) IS
	'a new handoff message with a fresh handoff_id and timestamp, validated';

-- The original module's helpers, which change a message and return it.
-- A message that does not follow the protocol is refused (MY004).
CREATE FUNCTION mycelium.add_result_to_context(message jsonb, agent_id text, result jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT m
	  FROM (SELECT message OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('context',
				(message OPERATOR(pg_catalog.->) 'context') OPERATOR(pg_catalog.||)
				pg_catalog.jsonb_build_object('previous_results',
					COALESCE(message OPERATOR(pg_catalog.->) 'context' OPERATOR(pg_catalog.->) 'previous_results', '[]')
					OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
						'agent_id', agent_id,
						'timestamp', pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC',
														'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
						'result', result)))) AS m
			 WHERE mycelium.validate_handoff(message)) x
	 WHERE mycelium.validate_handoff(m);
END;
COMMENT ON FUNCTION mycelium.add_result_to_context(jsonb, text, jsonb) IS
	'the message with {agent_id, timestamp, result} appended to its context.previous_results';

CREATE FUNCTION mycelium.update_progress(
	message jsonb,
	completed_steps text[] DEFAULT NULL,
	pending_steps text[] DEFAULT NULL,
	percentage double precision DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT m
	  FROM (SELECT message OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('state',
				COALESCE(message OPERATOR(pg_catalog.->) 'state', '{}') OPERATOR(pg_catalog.||)
				pg_catalog.jsonb_build_object('progress',
					COALESCE(message OPERATOR(pg_catalog.->) 'state' OPERATOR(pg_catalog.->) 'progress',
							 '{"completed_steps": [], "pending_steps": [], "percentage": 0.0}')
					OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'completed_steps', pg_catalog.to_jsonb(completed_steps),
						'pending_steps', pg_catalog.to_jsonb(pending_steps),
						-- clamped to 0-100 as the original does (NaN: 0)
						'percentage', CASE WHEN percentage IS NULL THEN NULL
										   WHEN percentage OPERATOR(pg_catalog.=) 'NaN'::double precision THEN 0::double precision
										   ELSE LEAST(100::double precision, GREATEST(0::double precision, percentage)) END)))) AS m
			 WHERE mycelium.validate_handoff(message)) x
	 WHERE mycelium.validate_handoff(m);
END;
COMMENT ON FUNCTION mycelium.update_progress(jsonb, text[], text[], double precision) IS
	'the message with state.progress updated: the steps given replace the old ones, percentage clamped to 0-100';

REVOKE ALL ON FUNCTION mycelium.create_handoff(text, text, text, text, text, jsonb, jsonb, jsonb, uuid),
	mycelium.add_result_to_context(jsonb, text, jsonb),
	mycelium.update_progress(jsonb, text[], text[], double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.create_handoff(text, text, text, text, text, jsonb, jsonb, jsonb, uuid),
	mycelium.add_result_to_context(jsonb, text, jsonb),
	mycelium.update_progress(jsonb, text[], text[], double precision) TO mycelium_user;

-- A 0.1.0 message {protocol_version, message_id, created_at, source,
-- target, task_description, context, metadata, progress} becomes
-- {version, handoff_id, workflow_id, source, target, context (with the
-- task_description), state (progress: percent becomes percentage, its
-- other members kept), metadata, timestamp}.  When its free-form context
-- or metadata break the new format (a "priority" that is not one of the
-- four, say), they are kept whole under context.mycelium_0_1 and
-- metadata.mycelium_0_1 instead.
UPDATE mycelium.handoffs h
   SET message = CASE WHEN mycelium.json_schema_validate(mycelium.handoff_schema(), c.converted)
					  THEN c.converted
					  ELSE c.converted OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
						  'context', pg_catalog.jsonb_build_object(
							  'task_description', h.message OPERATOR(pg_catalog.->) 'task_description',
							  'mycelium_0_1', h.message OPERATOR(pg_catalog.->) 'context'),
						  'metadata', pg_catalog.jsonb_build_object(
							  'mycelium_0_1', h.message OPERATOR(pg_catalog.->) 'metadata'))
				 END
  FROM (SELECT x.workflow_id, x.message_id, pg_catalog.jsonb_build_object(
			'version', x.message OPERATOR(pg_catalog.->) 'protocol_version',
			'handoff_id', x.message OPERATOR(pg_catalog.->) 'message_id',
			'workflow_id', x.workflow_id::pg_catalog.text,
			'source', x.message OPERATOR(pg_catalog.->) 'source',
			'target', x.message OPERATOR(pg_catalog.->) 'target',
			'context', (x.message OPERATOR(pg_catalog.->) 'context') OPERATOR(pg_catalog.||)
				pg_catalog.jsonb_build_object('task_description', x.message OPERATOR(pg_catalog.->) 'task_description'),
			'state', CASE WHEN pg_catalog.jsonb_typeof(x.message OPERATOR(pg_catalog.->) 'progress') OPERATOR(pg_catalog.=) 'object'
						  THEN pg_catalog.jsonb_build_object('progress',
							  ((x.message OPERATOR(pg_catalog.->) 'progress') OPERATOR(pg_catalog.-) 'percent'::pg_catalog.text)
							  OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
								  'percentage', x.message OPERATOR(pg_catalog.->) 'progress' OPERATOR(pg_catalog.->) 'percent')))
						  ELSE '{}'::pg_catalog.jsonb END,
			'metadata', x.message OPERATOR(pg_catalog.->) 'metadata',
			'timestamp', x.message OPERATOR(pg_catalog.->) 'created_at') AS converted
		  FROM mycelium.handoffs x
		 WHERE x.message OPERATOR(pg_catalog.?) 'protocol_version') c
 WHERE h.workflow_id OPERATOR(pg_catalog.=) c.workflow_id
   AND h.message_id OPERATOR(pg_catalog.=) c.message_id;

-- ---------------------------------------------------------------------
-- Custom events and statistics (issue 29): record_event, the
-- workflow_events table, the workflow_statistics view and workflow_stats.
-- ---------------------------------------------------------------------
CREATE TABLE mycelium.workflow_events (
	workflow_id uuid NOT NULL,
	event_id bigint GENERATED ALWAYS AS IDENTITY,
	owner regrole NOT NULL,
	event_type text COLLATE "C" NOT NULL,
	payload jsonb NOT NULL,
	agent_id text COLLATE "C",
	worker_id text COLLATE "C",
	recorded_by regrole NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (workflow_id, event_id)
);
COMMENT ON TABLE mycelium.workflow_events IS
	'custom events agents record on their workflows (record_event)';
COMMENT ON COLUMN mycelium.workflow_events.event_id IS
	'record order: event ids grow as events are recorded';
COMMENT ON COLUMN mycelium.workflow_events.owner IS
	'owner of the workflow, repeated here so row-level security needs no join';
COMMENT ON COLUMN mycelium.workflow_events.agent_id IS
	'the agent the event is about, as the recorder said (NULL: not said)';
COMMENT ON COLUMN mycelium.workflow_events.worker_id IS
	'the external agent''s worker that recorded it, holding a running task of the workflow then (NULL: not said)';
COMMENT ON COLUMN mycelium.workflow_events.recorded_by IS
	'the role that recorded it';

ALTER TABLE mycelium.workflow_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_events_owner ON mycelium.workflow_events FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.workflow_events FROM PUBLIC;
GRANT SELECT ON mycelium.workflow_events TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_events', '');

CREATE FUNCTION mycelium.record_event(
	workflow_id uuid,
	event_type text,
	payload jsonb DEFAULT '{}',
	agent_id text DEFAULT NULL,
	worker_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_record_event';
COMMENT ON FUNCTION mycelium.record_event(uuid, text, jsonb, text, text) IS
	'records a custom event on a workflow the caller owns (worker_id: the external agent''s worker that records it, which must hold one of its running tasks); returns its event_id';

CREATE VIEW mycelium.workflow_statistics WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.status, w.task_count AS tasks,
	   c.by_status AS tasks_by_status,
	   CASE WHEN c.finished > 0
			THEN pg_catalog.round(c.failed::numeric / c.finished, 4) END AS failure_rate,
	   c.avg_duration, c.p95_duration,
	   (SELECT pg_catalog.count(*) FROM mycelium.handoffs h
		 WHERE h.workflow_id = w.workflow_id) AS handoffs,
	   (SELECT pg_catalog.count(*) FROM mycelium.workflow_events e
		 WHERE e.workflow_id = w.workflow_id) AS events,
	   ARRAY(SELECT a.agent_id FROM (
				SELECT t.agent_id FROM mycelium.task_states t WHERE t.workflow_id = w.workflow_id
				UNION
				SELECT h.message OPERATOR(pg_catalog.->) 'source' OPERATOR(pg_catalog.->>) 'agent_id'
				  FROM mycelium.handoffs h WHERE h.workflow_id = w.workflow_id
				UNION
				SELECT h.target_agent_id FROM mycelium.handoffs h WHERE h.workflow_id = w.workflow_id
				UNION
				SELECT e.agent_id FROM mycelium.workflow_events e
				 WHERE e.workflow_id = w.workflow_id AND e.agent_id IS NOT NULL) a
			 ORDER BY a.agent_id COLLATE "C") AS agents
  FROM mycelium.workflow_states w
 CROSS JOIN LATERAL (
	SELECT COALESCE((SELECT pg_catalog.jsonb_object_agg(s.status, s.n ORDER BY s.status)
					   FROM (SELECT t.status, pg_catalog.count(*) AS n
							   FROM mycelium.task_states t
							  WHERE t.workflow_id = w.workflow_id
							  GROUP BY t.status) s), '{}') AS by_status,
		   d.finished, d.failed, d.avg_duration, d.p95_duration
	  FROM (SELECT pg_catalog.count(*) FILTER (WHERE t.status IN ('completed', 'failed')) AS finished,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed,
				   pg_catalog.avg(t.finished_at - t.started_at)
					   FILTER (WHERE t.status IN ('completed', 'failed')) AS avg_duration,
				   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.finished_at - t.started_at)
					   FILTER (WHERE t.status IN ('completed', 'failed')) AS p95_duration
			  FROM mycelium.task_states t
			 WHERE t.workflow_id = w.workflow_id) d) c;
COMMENT ON VIEW mycelium.workflow_statistics IS
	'per visible workflow: tasks by status, failure rate and task durations (of tasks that completed or failed), handoff and event counts, agents involved';

CREATE FUNCTION mycelium.workflow_stats(workflow_id uuid)
RETURNS SETOF mycelium.workflow_statistics
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	wf_id CONSTANT uuid := workflow_stats.workflow_id;
BEGIN
	-- the view's query for one workflow, each subquery naming the
	-- workflow's id, so that Citus routes it to the workflow's shard group
	-- (it cannot tell which shards a subquery correlated with the
	-- workflow's row reads); PL/pgSQL for Citus, as workflow_history
	RETURN QUERY
	SELECT w.workflow_id, w.name, w.status, w.task_count AS tasks,
		   c.by_status AS tasks_by_status,
		   CASE WHEN c.finished > 0
				THEN pg_catalog.round(c.failed::numeric / c.finished, 4) END AS failure_rate,
		   c.avg_duration, c.p95_duration,
		   (SELECT pg_catalog.count(*) FROM mycelium.handoffs h
			 WHERE h.workflow_id = wf_id) AS handoffs,
		   (SELECT pg_catalog.count(*) FROM mycelium.workflow_events e
			 WHERE e.workflow_id = wf_id) AS events,
		   ARRAY(SELECT a.agent_id FROM (
					SELECT t.agent_id FROM mycelium.task_states t WHERE t.workflow_id = wf_id
					UNION
					SELECT h.message OPERATOR(pg_catalog.->) 'source' OPERATOR(pg_catalog.->>) 'agent_id'
					  FROM mycelium.handoffs h WHERE h.workflow_id = wf_id
					UNION
					SELECT h.target_agent_id FROM mycelium.handoffs h WHERE h.workflow_id = wf_id
					UNION
					SELECT e.agent_id FROM mycelium.workflow_events e
					 WHERE e.workflow_id = wf_id AND e.agent_id IS NOT NULL) a
				 ORDER BY a.agent_id COLLATE "C") AS agents
	  FROM mycelium.workflow_states w
	 CROSS JOIN LATERAL (
		SELECT COALESCE((SELECT pg_catalog.jsonb_object_agg(s.status, s.n ORDER BY s.status)
						   FROM (SELECT t.status, pg_catalog.count(*) AS n
								   FROM mycelium.task_states t
								  WHERE t.workflow_id = wf_id
								  GROUP BY t.status) s), '{}') AS by_status,
			   d.finished, d.failed, d.avg_duration, d.p95_duration
		  FROM (SELECT pg_catalog.count(*) FILTER (WHERE t.status IN ('completed', 'failed')) AS finished,
					   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed,
					   pg_catalog.avg(t.finished_at - t.started_at)
						   FILTER (WHERE t.status IN ('completed', 'failed')) AS avg_duration,
					   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.finished_at - t.started_at)
						   FILTER (WHERE t.status IN ('completed', 'failed')) AS p95_duration
				  FROM mycelium.task_states t
				 WHERE t.workflow_id = wf_id) d) c
	 WHERE w.workflow_id = wf_id;
END;
$$;
COMMENT ON FUNCTION mycelium.workflow_stats(uuid) IS
	'the statistics of one workflow (no row: not visible to the caller)';
REVOKE ALL ON FUNCTION mycelium.record_event(uuid, text, jsonb, text, text),
	mycelium.workflow_stats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.record_event(uuid, text, jsonb, text, text),
	mycelium.workflow_stats(uuid) TO mycelium_user;
GRANT SELECT ON mycelium.workflow_statistics TO mycelium_user;

-- ---------------------------------------------------------------------
-- Structured errors and execution times (issues 28 and 29): a task's,
-- a history row's and a workflow's error gain error_detail jsonb
-- ({error_type, message, sqlstate, attempt}; error stays its message), and
-- tasks and history rows the execution time (ms) of the attempt that
-- ended.  0.1.0's errors are converted: error_type guessed from the text
-- (timeout, lost, lease_expired, output_schema, cancelled, else
-- exception), message = the old text.
ALTER TABLE mycelium.workflow_states ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.task_states ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.task_states ADD COLUMN execution_time double precision;
ALTER TABLE mycelium.workflow_state_history ADD COLUMN error_detail jsonb;
ALTER TABLE mycelium.workflow_state_history ADD COLUMN execution_time double precision;

COMMENT ON COLUMN mycelium.workflow_states.error IS
	'why the workflow failed or was cancelled: the message of error_detail';
COMMENT ON COLUMN mycelium.workflow_states.error_detail IS
	'why the workflow failed or was cancelled: {error_type (task_failed, cancelled), message}';
COMMENT ON COLUMN mycelium.task_states.error IS
	'why the last attempt failed: the message of error_detail';
COMMENT ON COLUMN mycelium.task_states.error_detail IS
	'why the last attempt failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.task_states.execution_time IS
	'how long the last attempt that ended ran, in milliseconds';
COMMENT ON COLUMN mycelium.workflow_state_history.error_detail IS
	'why the attempt (or the workflow) ended failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.workflow_state_history.execution_time IS
	'how long the attempt this change ended ran, in milliseconds';

CREATE FUNCTION mycelium.upgrade_error_type(error text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
RETURN CASE
	WHEN error LIKE 'task timed out after %' THEN 'timeout'
	WHEN error LIKE 'attempt % was lost: the lease of worker % lapsed' THEN 'lease_expired'
	WHEN error LIKE 'attempt % was lost: %' THEN 'lost'
	WHEN error LIKE 'result of task % does not match the output schema of agent type %' THEN 'output_schema'
	WHEN error LIKE 'not started: %' OR error LIKE 'canceling statement due to user request%' THEN 'cancelled'
	ELSE 'exception' END;
UPDATE mycelium.workflow_states
   SET error_detail = pg_catalog.jsonb_build_object(
		'error_type', CASE WHEN status = 'cancelled' THEN 'cancelled'
						   WHEN error LIKE 'task % failed%' THEN 'task_failed'
						   ELSE 'exception' END,
		'message', error)
 WHERE error IS NOT NULL;
UPDATE mycelium.task_states
   SET error_detail = pg_catalog.jsonb_build_object(
		'error_type', mycelium.upgrade_error_type(error), 'message', error,
		'attempt', attempt)
 WHERE error IS NOT NULL;
UPDATE mycelium.workflow_state_history h
   SET error_detail = CASE WHEN h.task_no = 0 THEN
		pg_catalog.jsonb_build_object(
			'error_type', CASE WHEN h.status = 'cancelled' THEN 'cancelled'
							   WHEN h.error LIKE 'task % failed%' THEN 'task_failed'
							   ELSE 'exception' END,
			'message', h.error)
		ELSE pg_catalog.jsonb_build_object(
			'error_type', mycelium.upgrade_error_type(h.error), 'message', h.error,
			'attempt', h.attempt) END
 WHERE h.error IS NOT NULL;
DROP FUNCTION mycelium.upgrade_error_type(text);

CREATE OR REPLACE VIEW mycelium.workflows WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.owner::text AS owner, w.status, w.version,
	   w.task_count, w.max_parallel_tasks, w.error,
	   w.created_at, w.started_at, w.finished_at, w.updated_at, w.metadata,
	   w.error_detail
  FROM mycelium.workflow_states w;

CREATE OR REPLACE VIEW mycelium.tasks WITH (security_invoker = true) AS
SELECT t.workflow_id, t.task_id, t.agent_id, t.agent_type, t.status,
	   t.attempt, t.max_attempts,
	   ARRAY(SELECT d.task_id
			   FROM mycelium.task_states d
			  WHERE d.workflow_id = t.workflow_id
				AND d.task_no = ANY (t.dependencies)
			  ORDER BY d.task_no) AS dependencies,
	   t.allow_failure, t.timeout, t.input,
	   COALESCE(t.metadata, '{}') AS metadata, t.result, t.error,
	   t.run_after AS next_attempt_at, t.worker_id, t.lease_until, t.progress,
	   t.started_at, t.finished_at, t.error_detail, t.execution_time
  FROM mycelium.task_states t;

DROP FUNCTION mycelium.workflow_history(uuid);
CREATE FUNCTION mycelium.workflow_history(workflow_id uuid)
RETURNS TABLE (
	version bigint,
	task_id text,
	status text,
	attempt integer,
	error text,
	event text,
	changed_by regrole,
	changed_at timestamptz,
	error_detail jsonb,
	execution_time double precision)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL rather than SQL: its statement is planned with the id's
	-- value, which Citus needs to route it to the workflow's shard group
	RETURN QUERY
	SELECT h.version, t.task_id, h.status, h.attempt, h.error, h.event,
		   h.changed_by, h.changed_at, h.error_detail, h.execution_time
	  FROM mycelium.workflow_state_history h
	  LEFT JOIN mycelium.task_states t
		ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	 WHERE h.workflow_id = workflow_history.workflow_id
	 ORDER BY h.version, h.task_no;
END;
$$;
COMMENT ON FUNCTION mycelium.workflow_history(uuid) IS
	'every recorded change of a workflow, oldest first (task_id NULL: the workflow itself), with the error that ended an attempt and how long it ran (ms)';
REVOKE ALL ON FUNCTION mycelium.workflow_history(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.workflow_history(uuid) TO mycelium_user;

DROP FUNCTION mycelium.workflow_timeline(uuid);
CREATE FUNCTION mycelium.workflow_timeline(workflow_id uuid)
RETURNS TABLE (
	task_id text,
	attempt integer,
	outcome text,
	started_at timestamptz,
	finished_at timestamptz,
	duration interval,
	error text,
	execution_time double precision,
	error_detail jsonb)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PL/pgSQL for Citus, as workflow_history; the lateral subquery names
	-- the workflow's id too, so that Citus routes the statement to the
	-- workflow's shard group (it cannot tell which shards a subquery
	-- correlated with another table's row reads)
	RETURN QUERY
	SELECT t.task_id, h.attempt,
		   CASE WHEN e.status IS NULL THEN 'running'
				WHEN e.status IN ('ready', 'pending') AND e.error IS NOT NULL THEN 'retried'
				WHEN e.status IN ('ready', 'pending') THEN 'rolled back'
				ELSE e.status END,
		   h.changed_at, e.changed_at, e.changed_at - h.changed_at, e.error,
		   e.execution_time, e.error_detail
	  FROM mycelium.workflow_state_history h
	  JOIN mycelium.task_states t
		ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	  LEFT JOIN LATERAL (
		SELECT x.status, x.error, x.changed_at, x.execution_time, x.error_detail
		  FROM mycelium.workflow_state_history x
		 WHERE x.workflow_id = workflow_timeline.workflow_id AND x.task_no = h.task_no
		   AND x.version > h.version
		 ORDER BY x.version
		 LIMIT 1) e ON true
	 WHERE h.workflow_id = workflow_timeline.workflow_id
	   AND h.task_no > 0 AND h.status = 'running'
	 ORDER BY t.task_no, h.version;
END;
$$;
COMMENT ON FUNCTION mycelium.workflow_timeline(uuid) IS
	'every attempt of every task of a workflow, from its history: when it started, how it ended (retried: failed and tried again), how long its executor ran (ms) and its error';
REVOKE ALL ON FUNCTION mycelium.workflow_timeline(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.workflow_timeline(uuid) TO mycelium_user;

-- fail_task takes the failure's error_type (issue 29), 'agent_error' by
-- default, so agents' existing four-argument calls are unchanged.
DROP FUNCTION mycelium.fail_task(uuid, text, text, text);
CREATE FUNCTION mycelium.fail_task(
	workflow_id uuid,
	task_id text,
	worker_id text,
	error text,
	error_type text DEFAULT 'agent_error')
RETURNS mycelium.task_status
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_fail_task';
COMMENT ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) IS
	'records a failed attempt of a claimed task, error its message and error_type its kind (lower-case letters, digits and _); returns its new status (ready: it will be retried, or failed)';
REVOKE ALL ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.fail_task(uuid, text, text, text, text) TO mycelium_user;

-- ---------------------------------------------------------------------
-- JSON Schema registry (issue 27): as in 70_json_schema.sql; validation
-- reads it, so it is no longer IMMUTABLE
ALTER FUNCTION mycelium.json_schema_validate(jsonb, jsonb) STABLE;
ALTER FUNCTION mycelium.json_schema_errors(jsonb, jsonb) STABLE;

-- The schema registry: documents that "$ref" (and "$schema") may name by
-- URI.  A role registers its own; members of mycelium_admin also register
-- shared ones, which every role's references reach.  A reference resolves
-- to the current role's registration of the URI, else to the shared one.
CREATE TABLE mycelium.json_schema_registry (
	owner regrole NOT NULL,
	uri text COLLATE "C" NOT NULL
		CHECK (pg_catalog.length(uri) BETWEEN 1 AND 2048),
	schema jsonb NOT NULL,
	shared boolean NOT NULL DEFAULT false,
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (owner, uri)
);
CREATE UNIQUE INDEX json_schema_registry_shared ON mycelium.json_schema_registry (uri)
	WHERE shared;
COMMENT ON TABLE mycelium.json_schema_registry IS
	'JSON Schema documents that references in schemas name by URI: per role, or shared (registered by an admin)';
COMMENT ON COLUMN mycelium.json_schema_registry.owner IS
	'the role that registered the document';
COMMENT ON COLUMN mycelium.json_schema_registry.shared IS
	'whether every role''s references reach it (else only its owner''s)';

ALTER TABLE mycelium.json_schema_registry ENABLE ROW LEVEL SECURITY;
CREATE POLICY json_schema_registry_visible ON mycelium.json_schema_registry FOR SELECT
	USING (shared
		   OR owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.json_schema_registry FROM PUBLIC;
GRANT SELECT ON mycelium.json_schema_registry TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.json_schema_registry', '');

CREATE VIEW mycelium.json_schemas WITH (security_invoker = true) AS
SELECT r.uri, r.owner::text AS owner, r.shared, r.schema, r.registered_at
  FROM mycelium.json_schema_registry r;
COMMENT ON VIEW mycelium.json_schemas IS
	'registered JSON Schema documents visible to the current role: its own and the shared ones';
GRANT SELECT ON mycelium.json_schemas TO mycelium_user;

CREATE FUNCTION mycelium.register_schema(uri text, schema jsonb, shared boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_register_schema';
COMMENT ON FUNCTION mycelium.register_schema(text, jsonb, boolean) IS
	'registers (or replaces) a JSON Schema document under an absolute URI, for the calling role or, by an admin, shared';

CREATE FUNCTION mycelium.unregister_schema(uri text, shared boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_unregister_schema';
COMMENT ON FUNCTION mycelium.unregister_schema(text, boolean) IS
	'removes the calling role''s registration of a URI or, by an admin, the shared one';
REVOKE ALL ON FUNCTION mycelium.register_schema(text, jsonb, boolean),
	mycelium.unregister_schema(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.register_schema(text, jsonb, boolean),
	mycelium.unregister_schema(text, boolean) TO mycelium_user;

-- ---------------------------------------------------------------------
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

-- ---------------------------------------------------------------------
-- live notifications of workflow changes (issue 33, the web dashboard):
-- NOTIFY mycelium_workflows when workflows are created, change status or
-- are deleted (src/sql/89_live.sql)
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
REVOKE ALL ON FUNCTION mycelium.notify_workflows_changed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.notify_workflows_changed() TO mycelium_user;

-- ---------------------------------------------------------------------
-- ---------------------------------------------------------------------
-- Issue 31, fleets (signals half): what an operator watches,
-- agent_type_stats and the executor pool views (src/sql/89_operator.sql).

-- running tasks by agent type, and tasks finished by agent type and time,
-- for agent_type_stats
CREATE INDEX task_states_running_idx ON mycelium.task_states (agent_type)
	WHERE status = 'running';
CREATE INDEX task_states_finished_idx ON mycelium.task_states (agent_type, finished_at)
	WHERE status IN ('completed', 'failed');

CREATE VIEW mycelium.agent_type_stats WITH (security_invoker = true) AS
SELECT e.agent_type,
	   e.executor IS NULL AS external,
	   r.ready,
	   pg_catalog.now() - r.oldest_ready_since AS oldest_ready_age,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.agent_type = e.agent_type AND t.status = 'running') AS running,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.lease_until < pg_catalog.now()
		   AND t.agent_type = e.agent_type AND t.status = 'running') AS lapsed_leases,
	   f.completed_last_hour, f.failed_last_hour, f.p50_ms, f.p95_ms
  FROM mycelium.executors e
 CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) AS ready,
		   pg_catalog.min(GREATEST(t.run_after, w.started_at,
				(SELECT pg_catalog.max(d.finished_at)
				   FROM mycelium.task_states d
				  WHERE d.workflow_id = t.workflow_id
					AND d.task_no = ANY (t.dependencies)))) AS oldest_ready_since
	  FROM mycelium.task_states t
	  JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id
	 WHERE t.agent_type = e.agent_type AND t.status = 'ready' AND t.task_no >= 0) r
 CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed_last_hour,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed_last_hour,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.execution_time) AS p50_ms,
		   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.execution_time) AS p95_ms
	  FROM mycelium.task_states t
	 WHERE t.agent_type = e.agent_type AND t.status IN ('completed', 'failed')
	   AND t.finished_at > pg_catalog.now() - interval '1 hour') f;
COMMENT ON VIEW mycelium.agent_type_stats IS
	'per registered agent type: ready and running tasks, age of the oldest ready task, lapsed leases of external agents, tasks completed and failed in the last hour and the p50/p95 length of their last attempt (ms); the current role''s workflows, an admin''s all';

CREATE FUNCTION mycelium.worker_pool_slots()
RETURNS TABLE (
	slot integer,
	state text,
	pid integer,
	busy boolean,
	executing boolean,
	idle boolean,
	workflow_id uuid,
	task_no integer,
	attempt integer,
	roles regrole[],
	role_tasks integer[])
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_worker_pool_slots';
COMMENT ON FUNCTION mycelium.worker_pool_slots() IS
	'the executor pool''s worker slots that are not free, from shared memory; another role''s workflow and role are not shown to a non-admin';

CREATE VIEW mycelium.worker_pool WITH (security_invoker = true) AS
SELECT p.slot, p.state, p.pid, p.busy, p.executing, p.idle,
	   p.workflow_id, p.task_no, p.attempt, p.roles, p.role_tasks
  FROM mycelium.worker_pool_slots() p;
COMMENT ON VIEW mycelium.worker_pool IS
	'each executor worker: starting or running, busy (holds claimed tasks) or idle, the attempt it runs, the roles it holds tasks for';

CREATE VIEW mycelium.worker_pool_summary WITH (security_invoker = true) AS
SELECT pg_catalog.current_setting('mycelium.max_workers')::integer AS max_workers,
	   pg_catalog.count(*) FILTER (WHERE p.state = 'running') AS running,
	   pg_catalog.count(*) FILTER (WHERE p.state = 'starting') AS starting,
	   pg_catalog.count(*) FILTER (WHERE p.busy) AS busy,
	   pg_catalog.count(*) FILTER (WHERE p.idle) AS idle,
	   pg_catalog.count(*) FILTER (WHERE p.executing) AS executing
  FROM mycelium.worker_pool_slots() p;
COMMENT ON VIEW mycelium.worker_pool_summary IS
	'the executor pool at a glance: its size limit, workers running and starting, busy, idle and running an attempt now';

CREATE VIEW mycelium.worker_pool_by_role WITH (security_invoker = true) AS
SELECT r.role, pg_catalog.count(*) AS workers, pg_catalog.sum(r.tasks)::bigint AS tasks
  FROM mycelium.worker_pool_slots() p
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(p.roles), pg_catalog.unnest(p.role_tasks)) AS r(role, tasks)
 GROUP BY r.role;
COMMENT ON VIEW mycelium.worker_pool_by_role IS
	'per role: the workers holding claimed tasks of its workflows and how many tasks (a non-admin sees its own role only)';

REVOKE ALL ON mycelium.agent_type_stats, mycelium.worker_pool,
	mycelium.worker_pool_summary, mycelium.worker_pool_by_role FROM PUBLIC;
GRANT SELECT ON mycelium.agent_type_stats, mycelium.worker_pool,
	mycelium.worker_pool_summary, mycelium.worker_pool_by_role TO mycelium_user;

REVOKE ALL ON FUNCTION mycelium.worker_pool_slots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.worker_pool_slots() TO mycelium_user;

-- ---------------------------------------------------------------------
-- Issue 31, fleets (signals half): delayed starts.  start_workflow and
-- start_from_template take start_at; the time is kept in
-- workflow_states.start_at, where the launcher finds it.

ALTER TABLE mycelium.workflow_states ADD COLUMN start_at timestamptz;
COMMENT ON COLUMN mycelium.workflow_states.start_at IS
	'when start_workflow(start_at => ...) asked the workflow to start; the launcher starts a pending workflow once it is due (NULL: started at once, or not asked to start)';
-- the launcher finds the pending workflows whose delayed start is due
CREATE INDEX workflow_states_start_at_idx ON mycelium.workflow_states (start_at)
	WHERE status = 'pending' AND start_at IS NOT NULL;

CREATE OR REPLACE VIEW mycelium.workflows WITH (security_invoker = true) AS
SELECT w.workflow_id, w.name, w.owner::text AS owner, w.status, w.version,
	   w.task_count, w.max_parallel_tasks, w.error,
	   w.created_at, w.started_at, w.finished_at, w.updated_at, w.metadata,
	   w.error_detail, w.start_at
  FROM mycelium.workflow_states w;

DROP FUNCTION mycelium.start_workflow(uuid);
CREATE FUNCTION mycelium.start_workflow(workflow_id uuid, start_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_start_workflow';
COMMENT ON FUNCTION mycelium.start_workflow(uuid, timestamptz) IS
	'starts a pending workflow in the background when the caller commits, or at start_at (stored, so it survives a restart); returns the new version';

DROP FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid);
CREATE FUNCTION mycelium.start_from_template(
	name text,
	variables jsonb DEFAULT '{}',
	metadata jsonb DEFAULT '{}',
	workflow_id uuid DEFAULT NULL,
	start_at timestamptz DEFAULT NULL)
RETURNS uuid
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_start_from_template';
COMMENT ON FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz) IS
	'creates a workflow from one of the caller''s templates (variables merged over its defaults) and starts it, now or at start_at; a caller-chosen workflow_id makes it idempotent';

REVOKE ALL ON FUNCTION mycelium.start_workflow(uuid, timestamptz),
	mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.start_workflow(uuid, timestamptz),
	mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz) TO mycelium_user;

-- ---------------------------------------------------------------------
-- ---------------------------------------------------------------------
-- Issue 31, running agent fleets (branch fleets-limits): per-agent-type
-- limits of running tasks and of the rate of starts, on executors, set by
-- set_agent_type_limits (src/sql/10_catalog.sql, src/sql/20_executors.sql).

ALTER TABLE mycelium.executors
	ADD COLUMN max_running integer,
	ADD COLUMN rate integer,
	ADD COLUMN rate_per interval,
	ADD COLUMN rate_tokens double precision,
	ADD COLUMN rate_at timestamptz;
COMMENT ON COLUMN mycelium.executors.max_running IS
	'most tasks of the agent type running at once, across all workflows and roles, by workers and external agents (NULL: no limit); set by set_agent_type_limits';
COMMENT ON COLUMN mycelium.executors.rate IS
	'most tasks of the agent type started per rate_per (a token bucket holding a tenth of rate, at least 1; NULL: no limit)';
COMMENT ON COLUMN mycelium.executors.rate_per IS
	'the interval of rate';
COMMENT ON COLUMN mycelium.executors.rate_tokens IS
	'on Citus: starts left in the rate''s token bucket at rate_at (refilled at rate per rate_per); a single server keeps the bucket in shared memory';
COMMENT ON COLUMN mycelium.executors.rate_at IS
	'on Citus: when rate_tokens was last refilled';
-- claims find the agent types with limits (without a sequential scan,
-- which statements planned to go by key would price out of reach)
CREATE INDEX executors_limited_idx ON mycelium.executors (agent_type)
	WHERE max_running IS NOT NULL OR rate IS NOT NULL;
-- the same index as the operator's views make (fleets-signals): one index
CREATE INDEX IF NOT EXISTS task_states_running_idx ON mycelium.task_states (agent_type)
	WHERE status = 'running';

CREATE FUNCTION mycelium.set_agent_type_limits(
	agent_type text,
	max_running integer DEFAULT NULL,
	rate integer DEFAULT NULL,
	per interval DEFAULT '1 second')
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_set_agent_type_limits';
COMMENT ON FUNCTION mycelium.set_agent_type_limits(text, integer, integer, interval) IS
	'limits an agent type to max_running tasks running at once and rate tasks started per interval, across all workflows and roles (NULL: no limit); takes effect at the next claim';
REVOKE ALL ON FUNCTION mycelium.set_agent_type_limits(text, integer, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.set_agent_type_limits(text, integer, integer, interval) TO mycelium_user;

-- engine: 0.1.0's index of ready tasks by agent type and workflow is gone:
-- external agents take an agent type's ready tasks in priority order
-- (task_states_rank_idx), and every index of task_states costs each
-- change of a task's status an entry
DROP INDEX mycelium.task_states_claim_idx;
-- ---------------------------------------------------------------------
-- Issue 31, running agent fleets (branch signal): signal tasks that wait
-- for mycelium.signal(), with deadlines; the workflow_signals table
-- (src/sql/85_signals.sql).

-- 'mycelium.signal' becomes the reserved agent type of signal tasks
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM mycelium.executors WHERE agent_type = 'mycelium.signal') THEN
		RAISE EXCEPTION 'agent type "mycelium.signal" is registered, but version 0.2.0 reserves it for signal tasks'
			USING ERRCODE = 'reserved_name',
				  HINT = 'Unregister it with mycelium.unregister_executor(''mycelium.signal'') and move its tasks to another agent type, then update again.';
	END IF;
END
$$;

CREATE TABLE mycelium.workflow_signals (
	workflow_id uuid NOT NULL,
	signal_no bigint NOT NULL,
	owner regrole NOT NULL,
	name text COLLATE "C" NOT NULL,
	payload jsonb NOT NULL,
	sent_by regrole NOT NULL,
	sent_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	delivered_at timestamptz,
	delivered_to text[],
	PRIMARY KEY (workflow_id, signal_no)
);
COMMENT ON TABLE mycelium.workflow_signals IS
	'every signal sent to a workflow (mycelium.signal): delivered to the tasks waiting for it, or kept until one waits';
COMMENT ON COLUMN mycelium.workflow_signals.signal_no IS
	'numbers a workflow''s signals from 1 in the order they came';
COMMENT ON COLUMN mycelium.workflow_signals.owner IS
	'owner of the workflow, repeated here so row-level security needs no join';
COMMENT ON COLUMN mycelium.workflow_signals.payload IS
	'the result of the tasks it completes';
COMMENT ON COLUMN mycelium.workflow_signals.sent_by IS
	'the role that sent it (the owner or an administrator)';
COMMENT ON COLUMN mycelium.workflow_signals.delivered_at IS
	'when it completed its tasks (NULL: kept until a task waits for it)';
COMMENT ON COLUMN mycelium.workflow_signals.delivered_to IS
	'the task_id of each task it completed';
-- the signals kept for tasks not waiting yet, oldest first
CREATE INDEX workflow_signals_kept_idx ON mycelium.workflow_signals (workflow_id, name, signal_no)
	WHERE delivered_at IS NULL;

ALTER TABLE mycelium.workflow_signals ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_signals_owner ON mycelium.workflow_signals FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.workflow_signals FROM PUBLIC;
GRANT SELECT ON mycelium.workflow_signals TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_signals', '');

-- the launcher finds the signal tasks that started waiting (it then sets
-- their run_after, which takes them out of this index)
CREATE INDEX task_states_signal_idx ON mycelium.task_states (workflow_id)
	WHERE agent_type = 'mycelium.signal' AND status = 'ready' AND run_after IS NULL;

CREATE FUNCTION mycelium.signal_task(
	task_id text,
	signal text,
	dependencies text[] DEFAULT '{}',
	deadline interval DEFAULT NULL,
	on_deadline text DEFAULT NULL,
	default_result jsonb DEFAULT NULL,
	allow_failure boolean DEFAULT false,
	metadata jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object(
		'task_id', task_id,
		'signal', pg_catalog.jsonb_build_object(
			'name', signal,
			'deadline', pg_catalog.date_part('epoch', deadline),
			'on_deadline', on_deadline,
			'default', default_result),
		'dependencies', pg_catalog.to_jsonb(COALESCE(dependencies, '{}'::text[])),
		'allow_failure', allow_failure,
		'metadata', metadata);
END;
COMMENT ON FUNCTION mycelium.signal_task(text, text, text[], interval, text, jsonb, boolean, jsonb) IS
	'builds the definition of a task that waits for a signal (mycelium.signal) and takes its payload as its result; at its deadline (after it starts waiting) it fails, or completes with default_result';

CREATE FUNCTION mycelium.signal(workflow_id uuid, name text, payload jsonb DEFAULT '{}')
RETURNS integer
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_signal';
COMMENT ON FUNCTION mycelium.signal(uuid, text, jsonb) IS
	'completes the workflow''s tasks waiting for signal name with payload as their result and returns how many; a signal sent before its task waits is kept for it (returns 0)';

REVOKE ALL ON FUNCTION mycelium.signal_task(text, text, text[], interval, text, jsonb, boolean, jsonb),
	mycelium.signal(uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.signal_task(text, text, text[], interval, text, jsonb, boolean, jsonb),
	mycelium.signal(uuid, text, jsonb) TO mycelium_user;

-- ---------------------------------------------------------------------
-- Issue 31, running agent fleets (branch prio): priorities.  A workflow
-- priority (create_workflow, start_from_template, set_workflow_priority)
-- and a task-level override (the task definition's "priority") order
-- which ready tasks start first, by ready_rank, with aging
-- (src/sql/10_catalog.sql, 30_workflows.sql, 60_control.sql,
-- 82_templates.sql; src/priority.c).
-- ---------------------------------------------------------------------
-- (added without defaults and filled, as metadata above, so the tables
-- equal a fresh install's)
ALTER TABLE mycelium.workflow_states ADD COLUMN priority integer;
UPDATE mycelium.workflow_states SET priority = 0;
ALTER TABLE mycelium.workflow_states
	ALTER COLUMN priority SET DEFAULT 0,
	ALTER COLUMN priority SET NOT NULL;
COMMENT ON COLUMN mycelium.workflow_states.priority IS
	'the workflow''s priority, from -100 to 100 (higher starts first when capacity is short); its tasks'' unless they set their own; set_workflow_priority changes it';

ALTER TABLE mycelium.task_states
	ADD COLUMN priority integer,
	ADD COLUMN own_priority integer,
	ADD COLUMN ready_rank timestamptz;
-- the tasks ready now rank from now: none overtakes another by the update
UPDATE mycelium.task_states
	SET priority = 0,
		ready_rank = CASE WHEN status = 'ready'
			THEN COALESCE(run_after, pg_catalog.now()) END;
ALTER TABLE mycelium.task_states
	ALTER COLUMN priority SET DEFAULT 0,
	ALTER COLUMN priority SET NOT NULL;
COMMENT ON COLUMN mycelium.task_states.priority IS
	'the task''s priority: own_priority, or else its workflow''s';
COMMENT ON COLUMN mycelium.task_states.own_priority IS
	'the priority the task definition gave (NULL: the workflow''s)';
COMMENT ON COLUMN mycelium.task_states.ready_rank IS
	'the order ready tasks start in, lowest first: when the task last became ready, less priority times mycelium.priority_aging';
-- claim_tasks takes an agent type's ready tasks in ready_rank order (its
-- predicate's "task_no >= 0": see the fresh install script)
CREATE INDEX task_states_rank_idx ON mycelium.task_states (agent_type, ready_rank)
	WHERE status = 'ready' AND task_no >= 0;
-- the scheduler finds a workflow's ready tasks with a priority of their own
CREATE INDEX task_states_own_priority_idx ON mycelium.task_states (workflow_id, ready_rank)
	WHERE status = 'ready' AND own_priority IS NOT NULL;

DROP FUNCTION mycelium.task(text, text, text, text[], integer, double precision,
	double precision, double precision, double precision, boolean, jsonb, jsonb);
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

DROP FUNCTION mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid);
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

DROP FUNCTION mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz);
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

CREATE FUNCTION mycelium.set_workflow_priority(workflow_id uuid, priority integer)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_set_workflow_priority';
COMMENT ON FUNCTION mycelium.set_workflow_priority(uuid, integer) IS
	'changes a workflow''s priority (-100 to 100) and that of its tasks without one of their own, ready ones included; returns the new version';

REVOKE ALL ON FUNCTION
	mycelium.task(text, text, text, text[], integer, double precision, double precision, double precision, double precision, boolean, jsonb, jsonb, integer),
	mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid, integer),
	mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz, integer),
	mycelium.set_workflow_priority(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mycelium.task(text, text, text, text[], integer, double precision, double precision, double precision, double precision, boolean, jsonb, jsonb, integer),
	mycelium.create_workflow(jsonb, jsonb, jsonb, integer, text, jsonb, uuid, integer),
	mycelium.start_from_template(text, jsonb, jsonb, uuid, timestamptz, integer),
	mycelium.set_workflow_priority(uuid, integer) TO mycelium_user;

-- running on Citus (mycelium.distribute; src/sql/96_citus.sql)
CREATE FUNCTION mycelium.distribute()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- a workflow's rows, one shard group per workflow
	by_workflow CONSTANT regclass[] := ARRAY['mycelium.workflow_states',
		'mycelium.task_states', 'mycelium.task_ids',
		'mycelium.workflow_state_history', 'mycelium.handoffs',
		'mycelium.workflow_events', 'mycelium.workflow_signals']::regclass[];
	-- small, read everywhere: a copy on every node
	everywhere CONSTANT regclass[] := ARRAY['mycelium.executors',
		'mycelium.json_schema_registry', 'mycelium.workflow_templates',
		'mycelium.workflow_schedules']::regclass[];
	-- row-level security without sub-selects, which Citus refuses in a
	-- distributed table's policies
	mine CONSTANT text := 'owner = pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid '
		'OR pg_catalog.pg_has_role(''mycelium_admin'', ''MEMBER'')';
	triggers CONSTANT text[] := ARRAY['workflows_deleted'];
	-- agent_type_stats as Citus can plan it: the executors, a reference
	-- table, joined by agent type with the counts of task_states grouped
	-- by agent type (on plain PostgreSQL the view looks up each agent
	-- type's tasks through the indexes instead, in correlated subqueries,
	-- which Citus cannot plan from a reference table); the same columns
	-- and results
	agent_type_stats CONSTANT text := $view$
		CREATE OR REPLACE VIEW mycelium.agent_type_stats WITH (security_invoker = true) AS
		SELECT e.agent_type,
			   e.executor IS NULL AS external,
			   mycelium.ready_task_count(e.agent_type) AS ready,
			   GREATEST(pg_catalog.now() - r.oldest_ready_at, interval '0') AS oldest_ready_age,
			   COALESCE(n.running, 0) AS running,
			   COALESCE(n.lapsed_leases, 0) AS lapsed_leases,
			   COALESCE(f.completed_last_hour, 0) AS completed_last_hour,
			   COALESCE(f.failed_last_hour, 0) AS failed_last_hour,
			   f.p50_ms, f.p95_ms,
			   e.max_running, e.rate, e.rate_per
		  FROM mycelium.executors e
		  LEFT JOIN (
			SELECT t.agent_type, pg_catalog.min(t.ready_at) AS oldest_ready_at
			  FROM mycelium.task_states t
			  JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id
			 WHERE t.status = 'ready' AND t.ready_at IS NOT NULL AND w.status = 'running'
			 GROUP BY t.agent_type) r ON r.agent_type = e.agent_type
		  LEFT JOIN (
			SELECT t.agent_type, pg_catalog.count(*) AS running,
				   pg_catalog.count(*) FILTER (WHERE t.lease_until < pg_catalog.now()) AS lapsed_leases
			  FROM mycelium.task_states t
			 WHERE t.status = 'running' AND t.task_no >= 0
			 GROUP BY t.agent_type) n ON n.agent_type = e.agent_type
		  LEFT JOIN (
			SELECT t.agent_type,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed_last_hour,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed_last_hour,
				   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.execution_time) AS p50_ms,
				   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.execution_time) AS p95_ms
			  FROM mycelium.task_states t
			 WHERE t.status IN ('completed', 'failed')
			   AND t.finished_at > pg_catalog.now() - interval '1 hour'
			 GROUP BY t.agent_type) f ON f.agent_type = e.agent_type$view$;
	trigger text;
	statement text;
	policy record;
	t regclass;
	group_id integer;
	has_rows boolean;
	kept text;
	r record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'Citus is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Put citus first in shared_preload_libraries, CREATE EXTENSION citus on every node, add the workers on the coordinator, then call mycelium.distribute() there.';
	END IF;
	EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO group_id;
	IF group_id IS DISTINCT FROM 0 THEN
		RAISE EXCEPTION 'mycelium.distribute() runs on the Citus coordinator, and this is worker node group %', group_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;

	-- a role crosses between the nodes by its name, and each node stores
	-- its own OID of it (see mc_citus_catalog_open in src/catalog/citus.c):
	-- results of queries in text for every session of this database on
	-- every node (what users read, Citus' own copies of shards) and for
	-- this call's statements
	PERFORM pg_catalog.set_config('citus.enable_binary_protocol', 'off', true);
	statement := pg_catalog.format('ALTER DATABASE %I SET citus.enable_binary_protocol = off',
		pg_catalog.current_database());
	EXECUTE statement;
	PERFORM pg_catalog.run_command_on_workers(statement);

	-- Citus would copy the rows a table holds to its shards in binary, with
	-- the coordinator's OIDs of roles: the workflow tables must be empty
	FOREACH t IN ARRAY by_workflow LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s)', t) INTO has_rows;
			IF has_rows THEN
				RAISE EXCEPTION 'mycelium.distribute() needs the workflow tables empty, and % holds rows', t
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  HINT = 'Distribute the catalog before workflows are created; delete or purge the existing workflows first.';
			END IF;
		END IF;
	END LOOP;

	-- policies, before the tables are distributed: Citus copies a table's
	-- policies to its shards when it distributes it
	FOR policy IN
		SELECT p.polname, c.relname,
			   EXISTS (SELECT FROM pg_catalog.pg_attribute a
					   WHERE a.attrelid = c.oid AND a.attname = 'shared') AS shared
		  FROM pg_catalog.pg_policy p
		  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
		 WHERE c.relnamespace = 'mycelium'::regnamespace
		   AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) LIKE '%SELECT%'
	LOOP
		-- on every node: the workers' copies of the extension's tables,
		-- which Citus plans a query on a worker against, have them too
		statement := pg_catalog.format('ALTER POLICY %I ON mycelium.%I USING (%s)',
			policy.polname, policy.relname,
			CASE WHEN policy.shared THEN 'shared OR ' ELSE '' END || mine);
		EXECUTE statement;
		PERFORM pg_catalog.run_command_on_workers(statement);
	END LOOP;

	-- reference tables first: Citus will not switch a transaction that
	-- used remote shards back to executing on the coordinator's own copy.
	-- The schedules' foreign key to the templates is dropped on every node
	-- (the workers' copies of the extension's tables have it too) and made
	-- again once both are reference tables.
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
				   WHERE logicalrelid = 'mycelium.workflow_templates'::regclass) THEN
		ALTER TABLE mycelium.workflow_schedules
			DROP CONSTRAINT IF EXISTS workflow_schedules_owner_template_fkey;
		PERFORM pg_catalog.run_command_on_workers(
			'ALTER TABLE mycelium.workflow_schedules DROP CONSTRAINT IF EXISTS workflow_schedules_owner_template_fkey');
	END IF;
	-- A reference table's rows (executors registered, templates, ...) are
	-- kept aside, the table made a reference table empty, and the rows put
	-- back one by one through the coordinator, which sends each node the
	-- roles and functions by name
	FOREACH t IN ARRAY everywhere LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			kept := 'mycelium_distribute_' || (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t);
			EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I ON COMMIT DROP AS SELECT * FROM %s', kept, t);
			EXECUTE pg_catalog.format('DELETE FROM %s', t);
			PERFORM pg_catalog.create_reference_table(t);
			FOR r IN EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(k) AS j FROM pg_temp.%I k', kept) LOOP
				SELECT pg_catalog.format('INSERT INTO %s (%s) VALUES (%s)', t,
						pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
						pg_catalog.string_agg(pg_catalog.format('%L::%s', r.j ->> a.attname::text,
							pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum))
				  INTO statement
				  FROM pg_catalog.pg_attribute a
				 WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped;
				EXECUTE statement;
			END LOOP;
		END IF;
	END LOOP;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint
				   WHERE conrelid = 'mycelium.workflow_schedules'::regclass
					 AND conname = 'workflow_schedules_owner_template_fkey') THEN
		ALTER TABLE mycelium.workflow_schedules
			ADD CONSTRAINT workflow_schedules_owner_template_fkey
			FOREIGN KEY (owner, template) REFERENCES mycelium.workflow_templates (owner, name);
	END IF;

	-- workflow_states' delete trigger would fire on the shards, on the
	-- workers, and query other shards from inside one: it is dropped on
	-- every node, and delete_workflow and purge_workflows delete the other
	-- tables' rows themselves (see doc/internals.md, "Running on Citus")
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
				   WHERE logicalrelid = 'mycelium.workflow_states'::regclass) THEN
		FOREACH trigger IN ARRAY triggers LOOP
			EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON mycelium.workflow_states', trigger);
			PERFORM pg_catalog.run_command_on_workers(pg_catalog.format(
				'DROP TRIGGER IF EXISTS %I ON mycelium.workflow_states', trigger));
		END LOOP;
	END IF;

	-- a workflow's tables by workflow_id, co-located, so that every
	-- statement about one workflow goes to one shard group
	FOREACH t IN ARRAY by_workflow LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			PERFORM pg_catalog.create_distributed_table(t, 'workflow_id',
				colocate_with => CASE WHEN t = by_workflow[1] THEN 'default'
									  ELSE by_workflow[1]::text END);
		END IF;
	END LOOP;

	-- the views Citus plans otherwise, on every node, every time (an
	-- update of the extension puts back their plain forms)
	EXECUTE agent_type_stats;
	PERFORM pg_catalog.run_command_on_workers(agent_type_stats);
END;
$$;
COMMENT ON FUNCTION mycelium.distribute() IS
	'on a Citus coordinator: distributes the workflow tables by workflow_id (co-located), makes executors, JSON schemas, templates and schedules reference tables, and gives agent_type_stats a form Citus can plan; idempotent (run it again after an update)';
REVOKE ALL ON FUNCTION mycelium.distribute() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Issue 31 and 33, operator views and the dashboard (branch views):
-- agent_type_stats shows an agent type's limits and counts and dates its
-- ready tasks from task_states.ready_at (set where a task becomes ready,
-- src/observe.c) and task_states_ready_at_idx; the live channel mycelium_workflows is notified by the
-- C functions that create, delete, start, pause and resume workflows, no
-- longer by triggers on workflow_states, which the scheduler's every save
-- of a workflow passed through (src/sql/89_operator.sql, src/observe.c).
DROP TRIGGER workflows_status_changed ON mycelium.workflow_states;
DROP TRIGGER workflows_created ON mycelium.workflow_states;
DROP FUNCTION mycelium.notify_workflows_changed();

ALTER TABLE mycelium.task_states ADD COLUMN ready_at timestamptz;
COMMENT ON COLUMN mycelium.task_states.ready_at IS
	'since when a ready task waits to run: its creation, its workflow''s resume (or start, a second or more after its creation), its last dependency''s end, or the end of its retry''s back-off (agent_type_stats dates the ready tasks of running workflows by it)';
-- the ready tasks: ready since their workflow started (or was created,
-- if it has not started), their last dependency finished or their
-- back-off ends
UPDATE mycelium.task_states t
   SET ready_at = COALESCE(GREATEST(t.run_after, w.started_at,
		(SELECT pg_catalog.max(d.finished_at)
		   FROM mycelium.task_states d
		  WHERE d.workflow_id = t.workflow_id
			AND d.task_no = ANY (t.dependencies))), w.created_at)
  FROM mycelium.workflow_states w
 WHERE w.workflow_id = t.workflow_id AND t.status = 'ready';
-- ready tasks by agent type and since when they are ready:
-- agent_type_stats counts them from this index alone (owner, for
-- row-level security, is in it) and finds the oldest from its start;
-- those of workflows not running (pending or paused) it finds through
-- workflow_states_waiting_idx and leaves out.  Every ready task has a
-- ready_at; the predicate says so, which keeps the scheduler's statements
-- on ready tasks (which do not) from planning with this index
CREATE INDEX task_states_ready_at_idx ON mycelium.task_states (agent_type, ready_at)
	INCLUDE (owner) WHERE status = 'ready' AND ready_at IS NOT NULL;
CREATE INDEX workflow_states_waiting_idx ON mycelium.workflow_states (status)
	WHERE status IN ('pending', 'paused');

-- engine: the running tasks' index, like the agents' ones, has the
-- predicate "task_no >= 0": only the statements that count running tasks
-- by agent type (limits, agent_type_stats) or look for all of them
-- (recovery) state it, so the scheduler's statements on a batch's tasks
-- probe the primary key rather than scan every running task
DROP INDEX mycelium.task_states_running_idx;
CREATE INDEX task_states_running_idx ON mycelium.task_states (agent_type)
	WHERE status = 'running' AND task_no >= 0;

-- engine: a workflow cancelled, or failed by a task, while scheduler
-- workers still run some of its attempts is cancelling or failing until
-- they have stopped, so that a finished workflow never has a running task
ALTER TYPE mycelium.workflow_status ADD VALUE 'cancelling' AFTER 'paused';
ALTER TYPE mycelium.workflow_status ADD VALUE 'failing' AFTER 'cancelling';
COMMENT ON TYPE mycelium.workflow_status IS
	'status of a workflow (cancelling and failing: cancelled or failed while scheduler workers still run some of its attempts, until they stop); see doc/state-machines.md';
-- ---------------------------------------------------------------------
-- Issue 31: agent_type_stats counts an agent type's ready tasks with
-- ready_task_count (src/api/api_operator.c) from the deduplicated index
-- task_states_ready_count_idx (src/sql/89_operator.sql), not through an
-- index-only scan of task_states_ready_at_idx (task_states_claim_idx,
-- dropped above, makes room for its index: a task becoming ready updates
-- as many indexes as in 0.1.0).
-- ready tasks by agent type and owner, which ready_task_count counts: its
-- keys repeat, so the index keeps each (agent type, owner) once with the
-- list of its tasks (deduplication), a few pages for 100,000 ready tasks;
-- predicate as task_states_ready_at_idx's
CREATE INDEX task_states_ready_count_idx ON mycelium.task_states (agent_type, owner)
	WHERE status = 'ready' AND ready_at IS NOT NULL;
CREATE FUNCTION mycelium.ready_task_count(agent_type text)
RETURNS bigint
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'mc_ready_task_count';
COMMENT ON FUNCTION mycelium.ready_task_count(text) IS
	'how many tasks of the agent type are ready in running workflows the current role may see (its own, an admin''s all), counted from task_states_ready_count_idx: agent_type_stats.ready';

CREATE OR REPLACE VIEW mycelium.agent_type_stats WITH (security_invoker = true) AS
SELECT e.agent_type,
	   e.executor IS NULL AS external,
	   mycelium.ready_task_count(e.agent_type) AS ready,
	   GREATEST(pg_catalog.now() -
				(SELECT t.ready_at
				   FROM mycelium.task_states t
				   JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id
				  WHERE t.agent_type = e.agent_type AND t.status = 'ready'
					AND t.ready_at IS NOT NULL AND w.status = 'running'
				  ORDER BY t.ready_at LIMIT 1), interval '0') AS oldest_ready_age,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.agent_type = e.agent_type AND t.status = 'running'
		   AND t.task_no >= 0) AS running,
	   (SELECT pg_catalog.count(*)
		  FROM mycelium.task_states t
		 WHERE t.lease_until < pg_catalog.now()
		   AND t.agent_type = e.agent_type AND t.status = 'running'
		   AND t.task_no >= 0) AS lapsed_leases,
	   f.completed_last_hour, f.failed_last_hour, f.p50_ms, f.p95_ms,
	   e.max_running, e.rate, e.rate_per
  FROM mycelium.executors e
 CROSS JOIN LATERAL (
	SELECT pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed_last_hour,
		   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed_last_hour,
		   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.execution_time) AS p50_ms,
		   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.execution_time) AS p95_ms
	  FROM mycelium.task_states t
	 WHERE t.agent_type = e.agent_type AND t.status IN ('completed', 'failed')
	   AND t.finished_at > pg_catalog.now() - interval '1 hour') f;
COMMENT ON VIEW mycelium.agent_type_stats IS
	'per registered agent type: ready tasks (of running workflows) and running tasks, how long the oldest ready task has waited, lapsed leases of external agents, tasks completed and failed in the last hour and the p50/p95 length of their last attempt (ms), and the agent type''s limits (set_agent_type_limits); the current role''s workflows, an admin''s all';
REVOKE ALL ON FUNCTION mycelium.ready_task_count(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mycelium.ready_task_count(text) TO mycelium_user;
