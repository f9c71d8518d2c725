-- Catalog statements reach their rows by key through indexes, even when
-- their plans are made while the tables are still small (a generic plan
-- lives until the tables are analyzed; catalog.c, catalog_run).
-- A fresh connection prepares every statement anew.
\c
SELECT mycelium.register_executor('regress_plans', NULL);
CREATE TEMP TABLE plan_wfs AS
SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'agent', 'regress_plans'),
	mycelium.task('b', 'agent', 'regress_plans', dependencies => ARRAY['a']))) AS id
FROM generate_series(1, 3);

-- the statements of a workflow's life, and the table scans they made
BEGIN;
SELECT count(mycelium.start_workflow(id)) FROM plan_wfs;
CREATE TEMP TABLE claimed AS
SELECT workflow_id, task_id FROM mycelium.claim_tasks('regress_plans', 'p1', 10);
SELECT count(*) FROM claimed;
SELECT count(*) FROM mycelium.complete_tasks('p1',
	(SELECT array_agg(workflow_id ORDER BY workflow_id) FROM claimed),
	(SELECT array_agg(task_id ORDER BY workflow_id) FROM claimed));
SELECT count(*) FROM mycelium.claim_tasks('regress_plans', 'p1', 10);
SELECT mycelium.cancel_workflow(id) FROM plan_wfs LIMIT 1;
SELECT relname, seq_scan FROM pg_stat_xact_user_tables
WHERE schemaname = 'mycelium' ORDER BY relname;
COMMIT;

-- a completion leaves a function task's indexed columns as they were, so
-- it is a HOT update (see task_states.is_ready); claims and releases are
-- not.  Three tasks a -> (b, c), run in this backend: two releases, three
-- claims, three completions.
CREATE FUNCTION public.regress_plans_noop(ctx jsonb) RETURNS jsonb
LANGUAGE sql AS 'SELECT NULL::jsonb';
SELECT mycelium.register_executor('regress_plans_fn', 'public.regress_plans_noop(jsonb)');
BEGIN;
SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
	mycelium.task('a', 'agent', 'regress_plans_fn'),
	mycelium.task('b', 'agent', 'regress_plans_fn', dependencies => ARRAY['a']),
	mycelium.task('c', 'agent', 'regress_plans_fn', dependencies => ARRAY['a']))))->>'status' AS status;
SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables
WHERE relid = 'mycelium.task_states'::regclass;
COMMIT;

-- no index of task_states involves status, in its columns or predicate
SELECT i.indexrelid::regclass AS index, pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_index i WHERE i.indrelid = 'mycelium.task_states'::regclass
ORDER BY 1::text;
SELECT count(*) AS indexes_on_status
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = 'status'
WHERE i.indrelid = 'mycelium.task_states'::regclass
  AND (a.attnum = ANY (i.indkey)
	   OR pg_get_expr(i.indpred, i.indrelid) ~ '\mstatus\M'
	   OR pg_get_expr(i.indexprs, i.indrelid) ~ '\mstatus\M');
