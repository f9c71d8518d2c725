-- mycelium: executor registry API

CREATE FUNCTION mycelium.register_executor(
	agent_type text,
	executor regprocedure DEFAULT NULL,
	output_schema jsonb DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'mc_register_executor';
COMMENT ON FUNCTION mycelium.register_executor(text, regprocedure, jsonb) IS
	'registers (or replaces) the executor of an agent type: a function f(ctx jsonb) RETURNS jsonb, or NULL for external agents';

CREATE FUNCTION mycelium.unregister_executor(agent_type text)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'mc_unregister_executor';
COMMENT ON FUNCTION mycelium.unregister_executor(text) IS
	'removes an agent type from the executor registry';

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
