-- mycelium: signal tasks and signals (src/signals.c)
--
-- A signal task waits for a named signal instead of running on an
-- executor: mycelium.signal(workflow_id, name, payload) completes it with
-- the payload as its result.  Its agent type is the reserved
-- 'mycelium.signal', which no executor may be registered for and no
-- external agent may claim; its input is its signal, {name, deadline,
-- on_deadline, default}.  While it waits, its run_after is when its
-- deadline passes ('infinity': none), so the launcher, which sleeps until
-- the earliest run_after of a ready task, ends it at its deadline, also
-- after a restart.

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
