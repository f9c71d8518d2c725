-- mycelium: catalog tables
--
-- Every table carries workflow_id as the leading key column and no foreign
-- key points from one workflow's rows to another's, so the tables can be
-- distributed by workflow_id (Citus) and a workflow's rows are co-located.
-- Users never write these tables directly: the API functions do, after
-- checking ownership.  Users read them through row-level security.

CREATE TABLE mycelium.executors (
	agent_type text COLLATE "C" PRIMARY KEY
		CHECK (pg_catalog.length(agent_type) BETWEEN 1 AND 255),
	executor regprocedure,
	output_schema jsonb,
	registered_by regrole NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	max_running integer,
	rate integer,
	rate_per interval,
	rate_tokens double precision,
	rate_at timestamptz
);
COMMENT ON TABLE mycelium.executors IS
	'agent types and the executor that runs their tasks (NULL executor: external agents)';
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

-- The three tables below are written for every task an agent or worker
-- runs.  The rows of the first two are updated many times (a workflow's
-- at every batch that touches it, a task's three or four times when it
-- runs), so their pages are filled only part way when rows are inserted:
-- a new version that fits on its row's page is written there, as a HOT
-- update if no indexed column changed, and one that does not fit costs a
-- page search and an extra WAL record (the old version's lock).  Measured
-- on 1,000 x 20 tasks (bench/RESULTS.md in git history): 9% less WAL a task.
--
-- The three have no CHECK constraints: each statement that writes a
-- table with CHECK constraints rebuilds their expressions from the
-- catalog when it starts (about a tenth of an external agent's claim and
-- completion, one task per call).  The values are validated before they
-- are stored (versions and counters from 1 and 0 up, task numbers from
-- 1, task 0 of history being the workflow itself), and
-- test/t/014_fault_campaign.pl checks the counters against the tasks
-- after every fault it injects.
CREATE TABLE mycelium.workflow_states (
	workflow_id uuid PRIMARY KEY,
	name text,
	owner regrole NOT NULL,
	status mycelium.workflow_status NOT NULL DEFAULT 'pending',
	version bigint NOT NULL DEFAULT 1,
	context jsonb NOT NULL DEFAULT '{}',
	variables jsonb NOT NULL DEFAULT '{}',
	max_parallel_tasks integer NOT NULL,
	task_count integer NOT NULL,
	tasks_open integer NOT NULL,
	tasks_running integer NOT NULL DEFAULT 0,
	error text,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at timestamptz,
	finished_at timestamptz,
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	metadata jsonb NOT NULL DEFAULT '{}',
	definition_hash bytea,
	error_detail jsonb,
	start_at timestamptz,
	priority integer NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
COMMENT ON TABLE mycelium.workflow_states IS
	'one row per workflow: status, version and counters';
COMMENT ON COLUMN mycelium.workflow_states.metadata IS
	'the caller''s own description of the workflow (create_workflow''s metadata), stored as given';
COMMENT ON COLUMN mycelium.workflow_states.definition_hash IS
	'SHA-256 of the definition of a workflow created with a caller-chosen workflow_id, to tell a repeated creation from a conflicting one (NULL: the id was generated)';
COMMENT ON COLUMN mycelium.workflow_states.error IS
	'why the workflow failed or was cancelled: the message of error_detail';
COMMENT ON COLUMN mycelium.workflow_states.error_detail IS
	'why the workflow failed or was cancelled: {error_type (task_failed, cancelled), message}';
COMMENT ON COLUMN mycelium.workflow_states.start_at IS
	'when start_workflow(start_at => ...) asked the workflow to start; the launcher starts a pending workflow once it is due (NULL: started at once, or not asked to start)';
COMMENT ON COLUMN mycelium.workflow_states.priority IS
	'the workflow''s priority, from -100 to 100 (higher starts first when capacity is short); its tasks'' unless they set their own; set_workflow_priority changes it';
COMMENT ON COLUMN mycelium.workflow_states.tasks_open IS
	'tasks not yet in a terminal status (the workflow ends when it reaches 0)';
CREATE INDEX workflow_states_owner_idx ON mycelium.workflow_states (owner);
-- the launcher finds the pending workflows whose delayed start is due
CREATE INDEX workflow_states_start_at_idx ON mycelium.workflow_states (start_at)
	WHERE status = 'pending' AND start_at IS NOT NULL;
CREATE INDEX workflow_states_active_idx ON mycelium.workflow_states (status)
	WHERE status IN ('running', 'paused');

CREATE TABLE mycelium.task_states (
	workflow_id uuid NOT NULL,
	task_no integer NOT NULL,
	task_id text COLLATE "C" NOT NULL,
	agent_id text COLLATE "C" NOT NULL,
	agent_type text COLLATE "C" NOT NULL,
	owner regrole NOT NULL,
	status mycelium.task_status NOT NULL,
	attempt integer NOT NULL DEFAULT 0,
	deps_pending integer NOT NULL,
	dependencies integer[],
	dependents integer[],
	max_attempts integer NOT NULL,
	initial_delay double precision NOT NULL,
	max_delay double precision NOT NULL,
	exponential_base double precision NOT NULL,
	timeout double precision,
	allow_failure boolean NOT NULL,
	input jsonb,
	metadata jsonb,
	result jsonb,
	error text,
	run_after timestamptz,
	worker_id text,
	lease_until timestamptz,
	lease interval,
	progress jsonb,
	started_at timestamptz,
	finished_at timestamptz,
	error_detail jsonb,
	execution_time double precision,
	priority integer NOT NULL DEFAULT 0,
	own_priority integer,
	ready_rank timestamptz,
	ready_at timestamptz,
	PRIMARY KEY (workflow_id, task_no)
) WITH (fillfactor = 70);
COMMENT ON TABLE mycelium.task_states IS
	'one row per task; task_no numbers a workflow''s tasks from 1 in definition order';
-- identifiers (task ids, agent ids and types) compare byte by byte: the
-- same order on every cluster whatever its locale, and cheaper index work
COMMENT ON COLUMN mycelium.task_states.deps_pending IS
	'dependencies not yet satisfied; the task is ready when this reaches 0';
COMMENT ON COLUMN mycelium.task_states.dependencies IS
	'task_no of each dependency (NULL: none)';
COMMENT ON COLUMN mycelium.task_states.dependents IS
	'task_no of each task that depends on this one (NULL: none)';
COMMENT ON COLUMN mycelium.task_states.owner IS
	'owner of the workflow, repeated here so row-level security needs no join';
COMMENT ON COLUMN mycelium.task_states.run_after IS
	'earliest start of the next attempt (retry back-off)';
COMMENT ON COLUMN mycelium.task_states.worker_id IS
	'who runs the current attempt: a scheduler worker or an external agent';
COMMENT ON COLUMN mycelium.task_states.lease_until IS
	'when an external agent''s claim on the running attempt lapses (NULL: not claimed by an external agent)';
COMMENT ON COLUMN mycelium.task_states.lease IS
	'how long a heartbeat extends the external agent''s lease';
COMMENT ON COLUMN mycelium.task_states.progress IS
	'the progress an external agent last reported with heartbeat()';
COMMENT ON COLUMN mycelium.task_states.error IS
	'why the last attempt failed: the message of error_detail';
COMMENT ON COLUMN mycelium.task_states.error_detail IS
	'why the last attempt failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.task_states.execution_time IS
	'how long the last attempt that ended ran, in milliseconds';
COMMENT ON COLUMN mycelium.task_states.priority IS
	'the task''s priority: own_priority, or else its workflow''s';
COMMENT ON COLUMN mycelium.task_states.own_priority IS
	'the priority the task definition gave (NULL: the workflow''s)';
COMMENT ON COLUMN mycelium.task_states.ready_rank IS
	'the order ready tasks start in, lowest first: when the task last became ready, less priority times mycelium.priority_aging';
COMMENT ON COLUMN mycelium.task_states.ready_at IS
	'since when a ready task waits to run: its creation, its workflow''s resume (or start, a second or more after its creation), its last dependency''s end, or the end of its retry''s back-off (agent_type_stats dates the ready tasks of running workflows by it)';
CREATE INDEX task_states_ready_idx ON mycelium.task_states (workflow_id, task_no)
	WHERE status = 'ready';
-- claim_tasks takes an agent type's ready tasks in ready_rank order, across
-- workflows; the predicate's "task_no >= 0" (true of every task) is written
-- only by the statements meant to use this index (external agents' claims,
-- and the launcher's look for limited agent types' tasks), so the
-- scheduler's statements, which read one workflow's ready tasks in task
-- order (task_states_ready_idx), cannot take it: planned while statistics
-- say no task is ready, they would, and then scan and sort every ready
-- task at each claim
CREATE INDEX task_states_rank_idx ON mycelium.task_states (agent_type, ready_rank)
	WHERE status = 'ready' AND task_no >= 0;
-- the scheduler finds a workflow's ready tasks with a priority of their own
CREATE INDEX task_states_own_priority_idx ON mycelium.task_states (workflow_id, ready_rank)
	WHERE status = 'ready' AND own_priority IS NOT NULL;
-- the launcher finds external agents' lapsed leases
CREATE INDEX task_states_lease_idx ON mycelium.task_states (lease_until)
	WHERE lease_until IS NOT NULL;
CREATE INDEX task_states_retry_idx ON mycelium.task_states (run_after)
	WHERE status = 'ready' AND run_after IS NOT NULL;

-- A task is found by its id through this table, which is written once
-- per task and never updated.  An index on (workflow_id, task_id) of
-- task_states would take a new entry at each change of a task's status
-- (those updates cannot be HOT: the indexes of ready tasks test the
-- status), two a task run by the scheduler, for lookups that only the
-- API functions make.
CREATE TABLE mycelium.task_ids (
	workflow_id uuid NOT NULL,
	task_id text COLLATE "C" NOT NULL,
	task_no integer NOT NULL,
	PRIMARY KEY (workflow_id, task_id)
);
COMMENT ON TABLE mycelium.task_ids IS
	'the task_no of each task of task_states by its task_id (the unique index of task ids)';

CREATE TABLE mycelium.workflow_state_history (
	workflow_id uuid NOT NULL,
	version bigint NOT NULL,
	task_no integer NOT NULL,
	owner regrole NOT NULL,
	status text NOT NULL,
	attempt integer,
	result jsonb,
	error text,
	event text NOT NULL,
	changed_by regrole NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	error_detail jsonb,
	execution_time double precision,
	PRIMARY KEY (workflow_id, version, task_no)
);
COMMENT ON TABLE mycelium.workflow_state_history IS
	'every change to a workflow: the new state of each task (task_no >= 1) or of the workflow (task_no = 0) at a version';
COMMENT ON COLUMN mycelium.workflow_state_history.error_detail IS
	'why the attempt (or the workflow) ended failed: {error_type, message, sqlstate, attempt}';
COMMENT ON COLUMN mycelium.workflow_state_history.execution_time IS
	'how long the attempt this change ended ran, in milliseconds';

-- Row-level security: a role sees only its own workflows unless it is a
-- member of mycelium_admin.  The role tests are wrapped in sub-selects so
-- they are evaluated once per query, not once per row.  The role name is
-- quoted before to_regrole parses it, so a role named "Bob" is not taken
-- for bob.
ALTER TABLE mycelium.workflow_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE mycelium.task_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE mycelium.workflow_state_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY workflow_states_owner ON mycelium.workflow_states FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
CREATE POLICY task_states_owner ON mycelium.task_states FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
CREATE POLICY workflow_state_history_owner ON mycelium.workflow_state_history FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));

REVOKE ALL ON mycelium.executors, mycelium.workflow_states,
	mycelium.task_states, mycelium.task_ids, mycelium.workflow_state_history FROM PUBLIC;
GRANT SELECT ON mycelium.executors, mycelium.workflow_states,
	mycelium.task_states, mycelium.workflow_state_history TO mycelium_user;

SELECT pg_catalog.pg_extension_config_dump('mycelium.executors', '');
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_states', '');
SELECT pg_catalog.pg_extension_config_dump('mycelium.task_states', '');
SELECT pg_catalog.pg_extension_config_dump('mycelium.task_ids', '');
SELECT pg_catalog.pg_extension_config_dump('mycelium.workflow_state_history', '');
