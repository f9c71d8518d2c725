-- mycelium: per-agent-type limits (set_agent_type_limits, src/agent_limits.c)
--
-- Claims of an agent type with max_running count its running tasks through
-- this index.  The operator's views (branch fleets-signals, issue 31) make
-- the same index: IF NOT EXISTS, and this part comes after theirs, so the
-- two merge into one index.
CREATE INDEX IF NOT EXISTS task_states_running_idx ON mycelium.task_states (agent_type)
	WHERE status = 'running' AND task_no >= 0;
