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
