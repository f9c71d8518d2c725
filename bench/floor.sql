-- bench/floor.sql: what the scheduler's targets are measured against
-- (loaded by bench/engine.sh into its throwaway cluster).
--
-- public.floor_reference(n): the reference of the engine issue, n calls of
-- a no-op PL/pgSQL function in one backend, each in its own subtransaction
-- with a one-row update.
--
-- public.floor_run(part, parts, b): the least that SPEC 2 and 3 make a scheduler
-- write, done as plainly as SQL allows, with none of the scheduler's other
-- work (no ctx, no locks, no limits, no retries, no checks).  It runs the
-- tasks of part number part (from 0) of parts of the workflows copied into
-- floor_tasks and floor_workflows (LIKE the catalog tables, with all their
-- indexes) by floor_copy, in steps of up to b ready tasks:
--   1. the claim, committed before the tasks run (so that a crash counts the
--      attempt): each task row 'running' with its attempt counted, one
--      history row each, each workflow's version and counters;
--   2. each task, in its own subtransaction: a call of a no-op PL/pgSQL
--      function with a small ctx, as the scheduler calls public.noop;
--   3. the completion, committed with the tasks' effects: each task row
--      'completed' with its result, one history row each, the dependents'
--      pending counts (those left with none become 'ready'), each
--      workflow's version and counters.
-- Two backends running it on halves of a benchmark's workflows give the
-- ceiling the scheduler's two workers are measured against.

CREATE TABLE public.floor_tasks (LIKE mycelium.task_states INCLUDING ALL);
CREATE TABLE public.floor_workflows (LIKE mycelium.workflow_states INCLUDING ALL);
CREATE TABLE public.floor_history (LIKE mycelium.workflow_state_history INCLUDING ALL);
CREATE TABLE public.floor_ref (id integer PRIMARY KEY, n integer NOT NULL);

CREATE FUNCTION public.floor_noop(ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END $$;

CREATE PROCEDURE public.floor_reference(n integer)
LANGUAGE plpgsql AS $$
DECLARE
	c jsonb := '{}';
BEGIN
	FOR i IN 1 .. n LOOP
		BEGIN
			c := public.floor_noop(c);
			UPDATE public.floor_ref SET n = floor_ref.n + 1 WHERE id = i;
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
END $$;

-- floor_copy(wfs): copies workflows wfs (created, not started) into the
-- floor tables, their root tasks ready, as start_workflow leaves them
CREATE FUNCTION public.floor_copy(wfs uuid[]) RETURNS void
LANGUAGE sql AS $$
	TRUNCATE public.floor_tasks, public.floor_workflows, public.floor_history;
	INSERT INTO public.floor_workflows
	SELECT * FROM mycelium.workflow_states WHERE workflow_id = ANY (wfs);
	INSERT INTO public.floor_tasks
	SELECT * FROM mycelium.task_states WHERE workflow_id = ANY (wfs);
	UPDATE public.floor_tasks SET status = 'ready' WHERE deps_pending = 0;
	UPDATE public.floor_workflows SET status = 'running';
$$;

CREATE PROCEDURE public.floor_run(part integer, parts integer, b integer)
LANGUAGE plpgsql AS $$
DECLARE
	wfs uuid[] := ARRAY(SELECT w.workflow_id FROM public.floor_workflows w
						 ORDER BY w.workflow_id OFFSET part * (SELECT count(*) FROM public.floor_workflows) / parts
						 LIMIT (SELECT count(*) FROM public.floor_workflows) / parts);
	ids uuid[];
	nos integer[];
	res jsonb[];
	r jsonb;
BEGIN
	LOOP
		-- 1. the claim
		WITH c AS (
			SELECT t.workflow_id, t.task_no FROM public.floor_tasks t
			 WHERE t.workflow_id = ANY (wfs) AND t.status = 'ready'
			 ORDER BY t.workflow_id, t.task_no LIMIT b),
		u AS (
			UPDATE public.floor_tasks t SET status = 'running', attempt = t.attempt + 1,
				started_at = clock_timestamp(), worker_id = 'floor'
			  FROM c WHERE t.workflow_id = c.workflow_id AND t.task_no = c.task_no
			RETURNING t.workflow_id, t.task_no, t.attempt, t.owner),
		h AS (
			INSERT INTO public.floor_history
				(workflow_id, version, task_no, owner, status, attempt, event, changed_by)
			SELECT u.workflow_id, 2 * u.task_no, u.task_no, u.owner, 'running', u.attempt,
				'dispatched', u.owner FROM u),
		w AS (
			UPDATE public.floor_workflows w SET version = w.version + x.n,
				tasks_running = w.tasks_running + x.n, updated_at = clock_timestamp()
			  FROM (SELECT u.workflow_id, count(*)::integer AS n FROM u GROUP BY 1) x
			 WHERE w.workflow_id = x.workflow_id)
		SELECT array_agg(u.workflow_id ORDER BY u.workflow_id, u.task_no),
			   array_agg(u.task_no ORDER BY u.workflow_id, u.task_no)
		  INTO ids, nos FROM u;
		EXIT WHEN ids IS NULL;
		COMMIT;

		-- 2. the tasks
		res := '{}';
		FOR i IN 1 .. cardinality(ids) LOOP
			BEGIN
				r := public.floor_noop(jsonb_build_object('workflow_id', ids[i], 'task_no', nos[i]));
			EXCEPTION WHEN OTHERS THEN
				r := NULL;
			END;
			res := res || r;
		END LOOP;

		-- 3. the completion
		WITH f AS (
			SELECT * FROM unnest(ids, nos, res) AS f(workflow_id, task_no, result)),
		u AS (
			UPDATE public.floor_tasks t SET status = 'completed', result = f.result,
				finished_at = clock_timestamp()
			  FROM f WHERE t.workflow_id = f.workflow_id AND t.task_no = f.task_no
			RETURNING t.workflow_id, t.task_no, t.attempt, t.owner, t.result, t.dependents),
		h AS (
			INSERT INTO public.floor_history
				(workflow_id, version, task_no, owner, status, attempt, result, event, changed_by)
			SELECT u.workflow_id, 2 * u.task_no + 1, u.task_no, u.owner, 'completed', u.attempt,
				u.result, 'completed', u.owner FROM u),
		d AS (
			UPDATE public.floor_tasks t SET deps_pending = t.deps_pending - x.n,
				status = CASE WHEN t.deps_pending = x.n THEN 'ready' ELSE t.status END
			  FROM (SELECT u.workflow_id, k.no, count(*)::integer AS n
					  FROM u, unnest(u.dependents) AS k(no) GROUP BY 1, 2) x
			 WHERE t.workflow_id = x.workflow_id AND t.task_no = x.no)
		UPDATE public.floor_workflows w SET version = w.version + x.n,
			tasks_running = w.tasks_running - x.n, tasks_open = w.tasks_open - x.n,
			updated_at = clock_timestamp()
		  FROM (SELECT u.workflow_id, count(*)::integer AS n FROM u GROUP BY 1) x
		 WHERE w.workflow_id = x.workflow_id;
		COMMIT;
	END LOOP;
END $$;
