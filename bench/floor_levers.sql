-- bench/floor_levers.sql: what would raise the floor (loaded by
-- bench/floor_levers.sh after bench/floor.sql, into its throwaway cluster).
--
-- public.floor_lever_<lever>(part, parts, b) runs the floor's steps
-- (bench/floor.sql: claim and commit, each task in its own subtransaction,
-- completion and commit) on the tasks of the floor tables, with one change
-- to what the steps write, so that its effect on the floor is measured
-- before the catalog is changed to get it:
--   none           the floor's own writes (what the other levers are
--                  compared with, run by this same procedure);
--   narrow         the task rows that the steps update hold only what
--                  changes as a task runs (status, attempt, result, worker,
--                  times); its definition (ids, dependencies and
--                  dependents, retry policy, input, metadata) is in a table
--                  never updated, joined for the dependents;
--   no_claim_rows  the claim writes one row for the whole step instead of
--                  updating each task row (the attempt is counted at the
--                  completion);
--   hot            the task table has its primary key only: no partial
--                  index of ready tasks tests the status, so the updates
--                  can be HOT (the claim finds ready tasks through the
--                  primary key from a cursor, which is only fast for
--                  independent tasks);
--   no_history     no history rows;
--   locked         the claimed task rows are locked (FOR UPDATE) while the
--                  tasks run, as the scheduler locks them.
-- Levers joined by "+" are taken together (narrow+no_claim_rows+hot).
-- With "hot", the claim takes the first ready tasks after a cursor,
-- (workflow_id, task_no) after the last claimed, in the range of ids of
-- the backend's workflows, and starts again from the first task when none
-- is left after it; the run ends when a pass from the first task finds
-- none.  bench/floor_levers.sh makes the procedures it runs with
-- floor_steps_create (bench/floor.sql), which makes floor_run too: "none"
-- is floor_run.

-- the narrow task rows: the state that changes as a task runs (the
-- catalog's columns, without the definition's)
CREATE TABLE public.floor_lv_states WITH (fillfactor = 70) AS
SELECT workflow_id, task_no, agent_type, owner, status, attempt, deps_pending, result, error,
	   run_after, worker_id, lease_until, lease, progress, started_at, finished_at
  FROM mycelium.task_states
  WITH NO DATA;
ALTER TABLE public.floor_lv_states ADD PRIMARY KEY (workflow_id, task_no);
CREATE INDEX ON public.floor_lv_states (workflow_id, task_no) WHERE status = 'ready';
CREATE INDEX ON public.floor_lv_states (agent_type, workflow_id, task_no) WHERE status = 'ready';
CREATE INDEX ON public.floor_lv_states (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX ON public.floor_lv_states (run_after) WHERE status = 'ready' AND run_after IS NOT NULL;

-- ... and the definitions, never updated
CREATE TABLE public.floor_lv_defs AS
SELECT workflow_id, task_no, task_id, agent_id, dependencies, dependents, max_attempts,
	   initial_delay, max_delay, exponential_base, timeout, allow_failure, input, metadata
  FROM mycelium.task_states
  WITH NO DATA;
ALTER TABLE public.floor_lv_defs ADD PRIMARY KEY (workflow_id, task_no);

-- the task rows, wide and narrow, with no index but the primary key
CREATE TABLE public.floor_lv_hot (LIKE mycelium.task_states INCLUDING DEFAULTS,
								  PRIMARY KEY (workflow_id, task_no)) WITH (fillfactor = 70);
CREATE TABLE public.floor_lv_states_hot (LIKE public.floor_lv_states INCLUDING DEFAULTS,
										 PRIMARY KEY (workflow_id, task_no)) WITH (fillfactor = 70);

-- a step's claim as one row
CREATE TABLE public.floor_lv_claims (
	worker_id text NOT NULL,
	workflow_ids uuid[] NOT NULL,
	task_nos integer[] NOT NULL,
	claimed_at timestamptz NOT NULL
);

-- floor_lever_copy(): copies the floor's tasks (bench/floor.sql's
-- floor_copy) into the levers' tables, each taking the columns it has
CREATE FUNCTION public.floor_lever_copy() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	t regclass;
BEGIN
	TRUNCATE public.floor_lv_states, public.floor_lv_defs, public.floor_lv_hot, public.floor_lv_states_hot,
		public.floor_lv_claims;
	FOREACH t IN ARRAY ARRAY['public.floor_lv_states', 'public.floor_lv_defs', 'public.floor_lv_hot',
							 'public.floor_lv_states_hot']::regclass[] LOOP
		EXECUTE format('INSERT INTO %s SELECT %s FROM public.floor_tasks', t,
					   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
						  FROM pg_attribute a WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped));
	END LOOP;
END $$;
