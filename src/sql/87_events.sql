-- mycelium: custom events and statistics
--
-- An agent records events on its workflow (record_event): something that
-- happened, of a type it chooses, with a payload.  They are shown with the
-- workflow's timeline (mycelium.workflow_events) and counted in its
-- statistics (mycelium.workflow_statistics, workflow_stats).

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
