-- mycelium: the handoff protocol
--
-- A handoff message is a JSON object in the format handoff_schema()
-- returns (a JSON Schema document): the original Python module's message
-- format.  send_handoff stores a validated message for the tasks of a
-- workflow; a task finds the messages addressed to its agent (same
-- target agent_id and agent_type) in ctx.handoffs.

CREATE TABLE mycelium.handoffs (
	workflow_id uuid NOT NULL,
	message_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	owner regrole NOT NULL,
	target_agent_id text COLLATE "C" NOT NULL,
	target_agent_type text COLLATE "C" NOT NULL,
	message jsonb NOT NULL,
	sent_by regrole NOT NULL,
	sent_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (workflow_id, message_id)
);
COMMENT ON TABLE mycelium.handoffs IS
	'handoff messages sent to the tasks of a workflow (send_handoff)';
COMMENT ON COLUMN mycelium.handoffs.seq IS
	'send order: a task receives its messages in this order';
COMMENT ON COLUMN mycelium.handoffs.owner IS
	'owner of the workflow, repeated here so row-level security needs no join';
COMMENT ON COLUMN mycelium.handoffs.message IS
	'the message as sent';
COMMENT ON COLUMN mycelium.handoffs.sent_by IS
	'the role that sent it (the owner, an administrator or the owner''s executor)';
-- a task's messages: one index probe when its ctx is built
CREATE INDEX handoffs_target_idx ON mycelium.handoffs
	(workflow_id, target_agent_id, target_agent_type, seq);

ALTER TABLE mycelium.handoffs ENABLE ROW LEVEL SECURITY;
CREATE POLICY handoffs_owner ON mycelium.handoffs FOR SELECT
	USING (owner = (SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid)
		   OR (SELECT pg_catalog.pg_has_role('mycelium_admin', 'MEMBER')));
REVOKE ALL ON mycelium.handoffs FROM PUBLIC;
GRANT SELECT ON mycelium.handoffs TO mycelium_user;
SELECT pg_catalog.pg_extension_config_dump('mycelium.handoffs', '');

CREATE FUNCTION mycelium.handoff_schema()
RETURNS jsonb
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_handoff_schema_sql';
COMMENT ON FUNCTION mycelium.handoff_schema() IS
	'the handoff message format, a JSON Schema (draft-07) document: the original coordination module''s';

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

CREATE FUNCTION mycelium.validate_handoff(message jsonb)
RETURNS boolean
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_validate_handoff';
COMMENT ON FUNCTION mycelium.validate_handoff(jsonb) IS
	'true if the message follows the handoff protocol; else error MY004 naming each bad value by its JSON pointer';

CREATE FUNCTION mycelium.serialize_handoff(message jsonb)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_serialize_handoff';
COMMENT ON FUNCTION mycelium.serialize_handoff(jsonb) IS
	'the canonical text of a valid handoff message (compact, keys in byte order)';

CREATE FUNCTION mycelium.deserialize_handoff(message text)
RETURNS jsonb
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_deserialize_handoff';
COMMENT ON FUNCTION mycelium.deserialize_handoff(text) IS
	'the handoff message a text holds, validated; text that is not JSON is error MY004 with its line and column';

CREATE FUNCTION mycelium.send_handoff(workflow_id uuid, message jsonb)
RETURNS uuid
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'mc_send_handoff';
COMMENT ON FUNCTION mycelium.send_handoff(uuid, jsonb) IS
	'stores a valid handoff message for the tasks of a workflow the caller owns (a message naming another workflow is refused); returns its handoff_id';


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
