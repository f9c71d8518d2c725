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
-- ceiling the scheduler's two workers are measured against.  floor_run is
-- made by floor_steps_create, which also makes the variants of
-- bench/floor_levers.sql.

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

-- floor_lever_has(lever, one): whether the levers lever include one
CREATE FUNCTION public.floor_lever_has(lever text, one text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT one = ANY (string_to_array(lever, '+'));
$$;

-- floor_lever_table(lever): the table of task rows the lever's steps
-- update (the levers' tables are in bench/floor_levers.sql)
CREATE FUNCTION public.floor_lever_table(lever text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN public.floor_lever_has(lever, 'narrow') AND public.floor_lever_has(lever, 'hot')
				THEN 'public.floor_lv_states_hot'
				WHEN public.floor_lever_has(lever, 'narrow') THEN 'public.floor_lv_states'
				WHEN public.floor_lever_has(lever, 'hot') THEN 'public.floor_lv_hot'
				ELSE 'public.floor_tasks' END;
$$;

-- floor_steps_create(name, lever): creates (or replaces) public.name(part,
-- parts, b) that runs the floor's steps, with the change lever makes to
-- what they write ('none': the floor's own; the others are described in
-- bench/floor_levers.sql), on part number part (from 0) of parts of the
-- floor's workflows, in steps of up to b ready tasks.  Its statements are
-- static SQL, their plans cached as the scheduler's are.
CREATE FUNCTION public.floor_steps_create(name text, lever text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	tasks text := public.floor_lever_table(lever);
	by_cursor boolean := public.floor_lever_has(lever, 'hot');
	narrow boolean := public.floor_lever_has(lever, 'narrow');
	history boolean := NOT public.floor_lever_has(lever, 'no_history');
	claim_rows boolean := NOT public.floor_lever_has(lever, 'no_claim_rows');
	claim_sql text;
	complete_sql text;
	lock_sql text := '';
BEGIN
	IF NOT string_to_array(lever, '+') <@ ARRAY['none', 'narrow', 'no_claim_rows', 'hot', 'no_history', 'locked'] THEN
		RAISE EXCEPTION 'unknown lever "%"', lever;
	END IF;
	-- 1. the claim: the first ready tasks, or with the cursor (see
	-- bench/floor_levers.sql) the first after (after_wf, after_no)
	claim_sql := format($q$
		WITH c AS (
			SELECT t.workflow_id, t.task_no FROM %1$s t
			 WHERE %5$s AND t.status = 'ready'
			 ORDER BY t.workflow_id, t.task_no LIMIT b),
		u AS (%2$s),
		k AS (%3$s),
		h AS (
			INSERT INTO public.floor_history
				(workflow_id, version, task_no, owner, status, attempt, event, changed_by)
			SELECT u.workflow_id, 2 * u.task_no, u.task_no, u.owner, 'running', u.attempt,
				'dispatched', u.owner FROM u WHERE %4$L),
		w AS (
			UPDATE public.floor_workflows w SET version = w.version + x.n,
				tasks_running = w.tasks_running + x.n, updated_at = clock_timestamp()
			  FROM (SELECT u.workflow_id, count(*)::integer AS n FROM u GROUP BY 1) x
			 WHERE w.workflow_id = x.workflow_id)
		SELECT array_agg(u.workflow_id ORDER BY u.workflow_id, u.task_no),
			   array_agg(u.task_no ORDER BY u.workflow_id, u.task_no) INTO ids, nos FROM u$q$,
		tasks,
		CASE WHEN claim_rows THEN format($q$
			UPDATE %1$s t SET status = 'running', attempt = t.attempt + 1,
				started_at = clock_timestamp(), worker_id = 'floor'
			  FROM c WHERE t.workflow_id = c.workflow_id AND t.task_no = c.task_no
			RETURNING t.workflow_id, t.task_no, t.attempt, t.owner$q$, tasks)
		ELSE format($q$
			SELECT t.workflow_id, t.task_no, t.attempt + 1 AS attempt, t.owner
			  FROM c JOIN %1$s t ON t.workflow_id = c.workflow_id AND t.task_no = c.task_no$q$, tasks)
		END,
		CASE WHEN claim_rows THEN 'SELECT'
		ELSE $q$
			INSERT INTO public.floor_lv_claims
			SELECT worker, array_agg(u.workflow_id), array_agg(u.task_no), clock_timestamp() FROM u
			HAVING count(*) > 0$q$
		END,
		history,
		CASE WHEN by_cursor THEN
			't.workflow_id BETWEEN wfs[1] AND wfs[cardinality(wfs)] AND (t.workflow_id, t.task_no) > (after_wf, after_no)'
		ELSE 't.workflow_id = ANY (wfs)' END);
	-- 3. the completion of the tasks (ids, nos) with their results res
	complete_sql := format($q$
		WITH f AS (
			SELECT * FROM unnest(ids, nos, res) AS f(workflow_id, task_no, result)),
		u AS (
			UPDATE %1$s t SET status = 'completed', result = f.result,
				finished_at = clock_timestamp()%2$s
			  FROM f WHERE t.workflow_id = f.workflow_id AND t.task_no = f.task_no
			RETURNING t.workflow_id, t.task_no, t.attempt, t.owner, t.result%3$s),
		e AS (%4$s),
		h AS (
			INSERT INTO public.floor_history
				(workflow_id, version, task_no, owner, status, attempt, result, event, changed_by)
			SELECT u.workflow_id, 2 * u.task_no + 1, u.task_no, u.owner, 'completed', u.attempt,
				u.result, 'completed', u.owner FROM u WHERE %5$L),
		k AS (%6$s),
		d AS (
			UPDATE %1$s t SET deps_pending = t.deps_pending - x.n,
				status = CASE WHEN t.deps_pending = x.n THEN 'ready' ELSE t.status END
			  FROM (SELECT e.workflow_id, k.no, count(*)::integer AS n
					  FROM e, unnest(e.dependents) AS k(no) GROUP BY 1, 2) x
			 WHERE t.workflow_id = x.workflow_id AND t.task_no = x.no)
		UPDATE public.floor_workflows w SET version = w.version + x.n,
			tasks_running = w.tasks_running - x.n, tasks_open = w.tasks_open - x.n,
			updated_at = clock_timestamp()
		  FROM (SELECT u.workflow_id, count(*)::integer AS n FROM u GROUP BY 1) x
		 WHERE w.workflow_id = x.workflow_id$q$,
		tasks,
		CASE WHEN claim_rows THEN '' ELSE ', attempt = t.attempt + 1' END,
		CASE WHEN narrow THEN '' ELSE ', t.dependents' END,
		CASE WHEN narrow THEN $q$
			SELECT u.workflow_id, d.dependents FROM u JOIN public.floor_lv_defs d
				ON d.workflow_id = u.workflow_id AND d.task_no = u.task_no$q$
		ELSE 'SELECT u.workflow_id, u.dependents FROM u' END,
		history,
		CASE WHEN claim_rows THEN 'SELECT'
		ELSE 'DELETE FROM public.floor_lv_claims WHERE worker_id = worker' END);
	-- the claimed rows locked while the tasks run
	IF public.floor_lever_has(lever, 'locked') THEN
		lock_sql := format($q$
		PERFORM FROM unnest(ids, nos) AS c(workflow_id, task_no)
		  JOIN %1$s t ON t.workflow_id = c.workflow_id AND t.task_no = c.task_no
		 ORDER BY t.workflow_id, t.task_no FOR UPDATE OF t;$q$, tasks);
	END IF;

	EXECUTE format($f$
CREATE OR REPLACE PROCEDURE public.%1$I(part integer, parts integer, b integer)
LANGUAGE plpgsql AS %2$L$f$, name, format($q$
DECLARE
	wfs uuid[] := ARRAY(SELECT w.workflow_id FROM public.floor_workflows w
						 ORDER BY w.workflow_id OFFSET part * (SELECT count(*) FROM public.floor_workflows) / parts
						 LIMIT (SELECT count(*) FROM public.floor_workflows) / parts);
	worker text := 'floor ' || part;
	first_wf constant uuid := '00000000-0000-0000-0000-000000000000';
	after_wf uuid := first_wf;
	after_no integer := 0;
	ids uuid[];
	nos integer[];
	res jsonb[];
	r jsonb;
BEGIN
	LOOP
		%1$s;
		%4$s
		COMMIT;
		%3$s
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

		%2$s;
		COMMIT;
	END LOOP;
END$q$, claim_sql, complete_sql, lock_sql,
		CASE WHEN by_cursor THEN $q$
		IF ids IS NULL THEN
			EXIT WHEN after_wf = first_wf AND after_no = 0;
			after_wf := first_wf;
			after_no := 0;
			CONTINUE;
		END IF;
		after_wf := ids[cardinality(ids)];
		after_no := nos[cardinality(nos)];$q$
		ELSE 'EXIT WHEN ids IS NULL;' END));
END $$;

SELECT public.floor_steps_create('floor_run', 'none');
