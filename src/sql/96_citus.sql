-- mycelium: running on Citus (mycelium.distribute; doc/operations.md,
-- "Running on Citus", and doc/internals.md)
--
-- An administrator runs mycelium.distribute() once on a Citus coordinator,
-- after CREATE EXTENSION citus and the worker nodes are added, and again
-- after each update of the extension.  On plain
-- PostgreSQL nothing here runs and nothing changes.

CREATE FUNCTION mycelium.distribute()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- a workflow's rows, one shard group per workflow
	by_workflow CONSTANT regclass[] := ARRAY['mycelium.workflow_states',
		'mycelium.task_states', 'mycelium.task_ids',
		'mycelium.workflow_state_history', 'mycelium.handoffs',
		'mycelium.workflow_events', 'mycelium.workflow_signals']::regclass[];
	-- small, read everywhere: a copy on every node
	everywhere CONSTANT regclass[] := ARRAY['mycelium.executors',
		'mycelium.json_schema_registry', 'mycelium.workflow_templates',
		'mycelium.workflow_schedules']::regclass[];
	-- row-level security without sub-selects, which Citus refuses in a
	-- distributed table's policies
	mine CONSTANT text := 'owner = pg_catalog.to_regrole(pg_catalog.quote_ident(pg_catalog.current_user()::text))::oid '
		'OR pg_catalog.pg_has_role(''mycelium_admin'', ''MEMBER'')';
	triggers CONSTANT text[] := ARRAY['workflows_deleted'];
	-- agent_type_stats as Citus can plan it: the executors, a reference
	-- table, joined by agent type with the counts of task_states grouped
	-- by agent type (on plain PostgreSQL the view looks up each agent
	-- type's tasks through the indexes instead, in correlated subqueries,
	-- which Citus cannot plan from a reference table); the same columns
	-- and results
	agent_type_stats CONSTANT text := $view$
		CREATE OR REPLACE VIEW mycelium.agent_type_stats WITH (security_invoker = true) AS
		SELECT e.agent_type,
			   e.executor IS NULL AS external,
			   mycelium.ready_task_count(e.agent_type) AS ready,
			   GREATEST(pg_catalog.now() - r.oldest_ready_at, interval '0') AS oldest_ready_age,
			   COALESCE(n.running, 0) AS running,
			   COALESCE(n.lapsed_leases, 0) AS lapsed_leases,
			   COALESCE(f.completed_last_hour, 0) AS completed_last_hour,
			   COALESCE(f.failed_last_hour, 0) AS failed_last_hour,
			   f.p50_ms, f.p95_ms,
			   e.max_running, e.rate, e.rate_per
		  FROM mycelium.executors e
		  LEFT JOIN (
			SELECT t.agent_type, pg_catalog.min(t.ready_at) AS oldest_ready_at
			  FROM mycelium.task_states t
			  JOIN mycelium.workflow_states w ON w.workflow_id = t.workflow_id
			 WHERE t.status = 'ready' AND t.ready_at IS NOT NULL AND w.status = 'running'
			 GROUP BY t.agent_type) r ON r.agent_type = e.agent_type
		  LEFT JOIN (
			SELECT t.agent_type, pg_catalog.count(*) AS running,
				   pg_catalog.count(*) FILTER (WHERE t.lease_until < pg_catalog.now()) AS lapsed_leases
			  FROM mycelium.task_states t
			 WHERE t.status = 'running' AND t.task_no >= 0
			 GROUP BY t.agent_type) n ON n.agent_type = e.agent_type
		  LEFT JOIN (
			SELECT t.agent_type,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'completed') AS completed_last_hour,
				   pg_catalog.count(*) FILTER (WHERE t.status = 'failed') AS failed_last_hour,
				   pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY t.execution_time) AS p50_ms,
				   pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY t.execution_time) AS p95_ms
			  FROM mycelium.task_states t
			 WHERE t.status IN ('completed', 'failed')
			   AND t.finished_at > pg_catalog.now() - interval '1 hour'
			 GROUP BY t.agent_type) f ON f.agent_type = e.agent_type$view$;
	trigger text;
	statement text;
	policy record;
	t regclass;
	group_id integer;
	has_rows boolean;
	kept text;
	r record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'Citus is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Put citus first in shared_preload_libraries, CREATE EXTENSION citus on every node, add the workers on the coordinator, then call mycelium.distribute() there.';
	END IF;
	EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO group_id;
	IF group_id IS DISTINCT FROM 0 THEN
		RAISE EXCEPTION 'mycelium.distribute() runs on the Citus coordinator, and this is worker node group %', group_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;

	-- a role crosses between the nodes by its name, and each node stores
	-- its own OID of it (see mc_citus_catalog_open in src/catalog/citus.c):
	-- results of queries in text for every session of this database on
	-- every node (what users read, Citus' own copies of shards) and for
	-- this call's statements
	PERFORM pg_catalog.set_config('citus.enable_binary_protocol', 'off', true);
	statement := pg_catalog.format('ALTER DATABASE %I SET citus.enable_binary_protocol = off',
		pg_catalog.current_database());
	EXECUTE statement;
	PERFORM pg_catalog.run_command_on_workers(statement);

	-- Citus would copy the rows a table holds to its shards in binary, with
	-- the coordinator's OIDs of roles: the workflow tables must be empty
	FOREACH t IN ARRAY by_workflow LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s)', t) INTO has_rows;
			IF has_rows THEN
				RAISE EXCEPTION 'mycelium.distribute() needs the workflow tables empty, and % holds rows', t
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  HINT = 'Distribute the catalog before workflows are created; delete or purge the existing workflows first.';
			END IF;
		END IF;
	END LOOP;

	-- policies, before the tables are distributed: Citus copies a table's
	-- policies to its shards when it distributes it
	FOR policy IN
		SELECT p.polname, c.relname,
			   EXISTS (SELECT FROM pg_catalog.pg_attribute a
					   WHERE a.attrelid = c.oid AND a.attname = 'shared') AS shared
		  FROM pg_catalog.pg_policy p
		  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
		 WHERE c.relnamespace = 'mycelium'::regnamespace
		   AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) LIKE '%SELECT%'
	LOOP
		-- on every node: the workers' copies of the extension's tables,
		-- which Citus plans a query on a worker against, have them too
		statement := pg_catalog.format('ALTER POLICY %I ON mycelium.%I USING (%s)',
			policy.polname, policy.relname,
			CASE WHEN policy.shared THEN 'shared OR ' ELSE '' END || mine);
		EXECUTE statement;
		PERFORM pg_catalog.run_command_on_workers(statement);
	END LOOP;

	-- reference tables first: Citus will not switch a transaction that
	-- used remote shards back to executing on the coordinator's own copy.
	-- The schedules' foreign key to the templates is dropped on every node
	-- (the workers' copies of the extension's tables have it too) and made
	-- again once both are reference tables.
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
				   WHERE logicalrelid = 'mycelium.workflow_templates'::regclass) THEN
		ALTER TABLE mycelium.workflow_schedules
			DROP CONSTRAINT IF EXISTS workflow_schedules_owner_template_fkey;
		PERFORM pg_catalog.run_command_on_workers(
			'ALTER TABLE mycelium.workflow_schedules DROP CONSTRAINT IF EXISTS workflow_schedules_owner_template_fkey');
	END IF;
	-- A reference table's rows (executors registered, templates, ...) are
	-- kept aside, the table made a reference table empty, and the rows put
	-- back one by one through the coordinator, which sends each node the
	-- roles and functions by name
	FOREACH t IN ARRAY everywhere LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			kept := 'mycelium_distribute_' || (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t);
			EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I ON COMMIT DROP AS SELECT * FROM %s', kept, t);
			EXECUTE pg_catalog.format('DELETE FROM %s', t);
			PERFORM pg_catalog.create_reference_table(t);
			FOR r IN EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(k) AS j FROM pg_temp.%I k', kept) LOOP
				SELECT pg_catalog.format('INSERT INTO %s (%s) VALUES (%s)', t,
						pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
						pg_catalog.string_agg(pg_catalog.format('%L::%s', r.j ->> a.attname::text,
							pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum))
				  INTO statement
				  FROM pg_catalog.pg_attribute a
				 WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped;
				EXECUTE statement;
			END LOOP;
		END IF;
	END LOOP;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint
				   WHERE conrelid = 'mycelium.workflow_schedules'::regclass
					 AND conname = 'workflow_schedules_owner_template_fkey') THEN
		ALTER TABLE mycelium.workflow_schedules
			ADD CONSTRAINT workflow_schedules_owner_template_fkey
			FOREIGN KEY (owner, template) REFERENCES mycelium.workflow_templates (owner, name);
	END IF;

	-- workflow_states' delete trigger would fire on the shards, on the
	-- workers, and query other shards from inside one: it is dropped on
	-- every node, and delete_workflow and purge_workflows delete the other
	-- tables' rows themselves (see doc/internals.md, "Running on Citus")
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
				   WHERE logicalrelid = 'mycelium.workflow_states'::regclass) THEN
		FOREACH trigger IN ARRAY triggers LOOP
			EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON mycelium.workflow_states', trigger);
			PERFORM pg_catalog.run_command_on_workers(pg_catalog.format(
				'DROP TRIGGER IF EXISTS %I ON mycelium.workflow_states', trigger));
		END LOOP;
	END IF;

	-- a workflow's tables by workflow_id, co-located, so that every
	-- statement about one workflow goes to one shard group
	FOREACH t IN ARRAY by_workflow LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = t) THEN
			PERFORM pg_catalog.create_distributed_table(t, 'workflow_id',
				colocate_with => CASE WHEN t = by_workflow[1] THEN 'default'
									  ELSE by_workflow[1]::text END);
		END IF;
	END LOOP;

	-- the views Citus plans otherwise, on every node, every time (an
	-- update of the extension puts back their plain forms)
	EXECUTE agent_type_stats;
	PERFORM pg_catalog.run_command_on_workers(agent_type_stats);
END;
$$;
COMMENT ON FUNCTION mycelium.distribute() IS
	'on a Citus coordinator: distributes the workflow tables by workflow_id (co-located), makes executors, JSON schemas, templates and schedules reference tables, and gives agent_type_stats a form Citus can plan; idempotent (run it again after an update)';
REVOKE ALL ON FUNCTION mycelium.distribute() FROM PUBLIC;
