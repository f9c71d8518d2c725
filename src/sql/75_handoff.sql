-- mycelium: the handoff protocol
--
-- A handoff message is a JSON object in the format handoff_schema()
-- returns (a JSON Schema document).  send_handoff stores a validated
-- message for the tasks of a workflow; a task finds the messages addressed
-- to its agent (same agent_id and agent_type) in ctx.handoffs.

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
	'the handoff message format, a JSON Schema (draft 2020-12) document';

CREATE FUNCTION mycelium.create_handoff(
	source_agent_id text,
	source_agent_type text,
	target_agent_id text,
	target_agent_type text,
	task_description text,
	context jsonb DEFAULT '{}',
	metadata jsonb DEFAULT '{}',
	progress jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'mc_create_handoff';
COMMENT ON FUNCTION mycelium.create_handoff(text, text, text, text, text, jsonb, jsonb, jsonb) IS
	'a new handoff message with a fresh message_id and created_at, validated';

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
	'stores a valid handoff message for the tasks of a workflow the caller owns; returns its message_id';
