# purge_workflows while the scheduler's workers run: finished workflows go
# with every row they had in every catalog table, workflows still running
# finish untouched, another role's workflows stay, and a CALL outside a
# transaction block commits after each batch.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('purge');

# orphans: rows of any catalog table with a workflow_id column whose
# workflow is gone (every such table, found in the catalog, so a table
# added later is checked too)
my $orphans_sql = $node->safe_psql('postgres', q{
	SELECT string_agg(format('SELECT %L AS tab, count(*) AS n FROM mycelium.%I x
		WHERE NOT EXISTS (SELECT 1 FROM mycelium.workflow_states w WHERE w.workflow_id = x.workflow_id)',
		c.relname, c.relname), ' UNION ALL ' ORDER BY c.relname)
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	 WHERE c.relnamespace = 'mycelium'::regnamespace AND c.relkind = 'r'
	   AND a.attname = 'workflow_id' AND c.relname <> 'workflow_states'});
is(join(',', map { $orphans_sql =~ /mycelium\.$_ x/ ? 1 : 0 }
	qw(task_states task_ids workflow_state_history handoffs workflow_events)), '1,1,1,1,1',
	'the orphan check covers the catalog tables');
my $orphans = "SELECT coalesce(string_agg(tab || '=' || n, ',') FILTER (WHERE n > 0), 'none') FROM ($orphans_sql) o";

# bob: 30 finished workflows and their rows, which alice's purge must leave
$node->safe_psql('postgres', q{
	SET ROLE bob;
	CREATE TEMP TABLE b AS SELECT mycelium.create_workflow((SELECT jsonb_agg(
		mycelium.task('t' || i, 'x', 'test')) FROM generate_series(1, 5) i), name => 'bob') AS id
	  FROM generate_series(1, 30);
	SELECT count(mycelium.record_event(id, 'note')) FROM b;
	SELECT count(mycelium.start_workflow(id)) FROM b;});
# alice: 3 slow workflows that run through the purges, and 200 quick ones
my $slow = $node->safe_psql('postgres', q{
	SET ROLE alice;
	CREATE TEMP TABLE s AS SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('a', 'x', 'test', input => '{"sleep": 1}'),
		mycelium.task('b', 'x', 'test', dependencies => '{a}', input => '{"sleep": 1}')),
		name => 'slow') AS id FROM generate_series(1, 3);
	SELECT count(mycelium.start_workflow(id)) FROM s;
	SELECT string_agg(id::text, ',') FROM s;});
$node->safe_psql('postgres', q{
	SET ROLE alice;
	CREATE TEMP TABLE q AS SELECT mycelium.create_workflow((SELECT jsonb_agg(
		mycelium.task('t' || i, 'x', 'test', dependencies => CASE WHEN i > 1 THEN ARRAY['t1'] END))
		FROM generate_series(1, 5) i), name => 'quick') AS id
	  FROM generate_series(1, 200);
	SELECT count(mycelium.send_handoff(id, mycelium.create_handoff('p', 'plan', 'x', 'test', 'go'))) FROM q;
	SELECT count(mycelium.record_event(id, 'note', '{"n": 1}')) FROM q;
	SELECT count(mycelium.start_workflow(id)) FROM q;});

# purge alice's finished workflows again and again while the workers run
my ($purged, $rounds, $overlapped) = (0, 0, 0);
my $deadline = time + 180;
while (time < $deadline)
{
	my ($n, $running) = split /\n/, $node->safe_psql('postgres', q{
		SET ROLE alice;
		CALL mycelium.purge_workflows('0', batch_size => 7);
		SELECT count(*) FILTER (WHERE status IN ('pending', 'running')) FROM mycelium.workflows;});
	$purged += $n;
	$rounds++;
	$overlapped++ if $n > 0 && $running > 0;
	last if $running == 0 && $n == 0;
	usleep(50_000);
}
ok($overlapped > 0, "purges ran while workflows ran ($overlapped of $rounds rounds removed some while others ran)");

# bob's workflows must have finished too before the last checks
for my $i (1 .. 600)
{
	last if $node->safe_psql('postgres',
		"SELECT count(*) FROM mycelium.workflow_states WHERE status IN ('pending', 'running')") == 0;
	usleep(100_000);
}
$node->safe_psql('postgres', q{
	SET ROLE alice;
	CALL mycelium.purge_workflows('0');});

is($purged + 0 >= 200, 1, "alice's finished workflows were purged ($purged)");
is($node->safe_psql('postgres', q{
		SELECT count(*) FROM mycelium.workflow_states w
		 WHERE w.owner = 'alice'::regrole}),
	'0', 'none of alice\'s workflows is left');
is($node->safe_psql('postgres', $orphans), 'none', 'no orphan row in any catalog table');
is($node->safe_psql('postgres', q{
		SELECT count(*) || ' workflows, ' || sum(task_count) || ' tasks, all '
			   || string_agg(DISTINCT status::text, ',')
		  FROM mycelium.workflow_states WHERE owner = 'bob'::regrole}),
	'30 workflows, 150 tasks, all completed', "bob's workflows are untouched");
is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM mycelium.task_states WHERE owner = 'bob'::regrole) || ','
			|| (SELECT count(*) FROM mycelium.task_ids i JOIN mycelium.workflow_states w USING (workflow_id)
				 WHERE w.owner = 'bob'::regrole)}),
	'150,150', "bob's tasks and task ids are all there");
is($node->safe_psql('postgres', q{
		SELECT count(*) FROM mycelium.workflow_events WHERE owner = 'bob'::regrole}),
	'30', "bob's events are all there");
is($node->safe_psql('postgres', q{
		SELECT count(DISTINCT workflow_id) FROM public.effects e
		 WHERE e.task_id = 'b' AND e.who = 'alice'}),
	'3', 'the slow workflows ran to the end before they were purged');

# a CALL outside a transaction block commits after each batch: 25
# finished workflows in batches of 5 take at least 5 transactions (the
# workers are idle now and assign no transaction ids)
$node->safe_psql('postgres', q{
	SET ROLE alice;
	CREATE TEMP TABLE c AS SELECT mycelium.create_workflow('[]', name => 'c') AS id
	  FROM generate_series(1, 25);
	SELECT count(mycelium.cancel_workflow(id)) FROM c;});
my $xids = $node->safe_psql('postgres', q{
	SELECT pg_current_xact_id()::text::bigint \gset before_
	SET ROLE alice;
	CALL mycelium.purge_workflows('0', batch_size => 5);
	RESET ROLE;
	SELECT pg_current_xact_id()::text::bigint - :before_pg_current_xact_id;});
my @lines = split /\n/, $xids;
is($lines[0], '25', 'the purge removed the 25 workflows');
cmp_ok($lines[-1], '>=', 6, "it committed each batch on its own ($lines[-1] transaction ids)");
# inside a transaction block it is one transaction
$node->safe_psql('postgres', q{
	SET ROLE alice;
	CREATE TEMP TABLE c AS SELECT mycelium.create_workflow('[]', name => 'c') AS id
	  FROM generate_series(1, 25);
	SELECT count(mycelium.cancel_workflow(id)) FROM c;});
$xids = $node->safe_psql('postgres', q{
	SELECT pg_current_xact_id()::text::bigint \gset before_
	BEGIN;
	SET LOCAL ROLE alice;
	CALL mycelium.purge_workflows('0', batch_size => 5);
	COMMIT;
	SELECT pg_current_xact_id()::text::bigint - :before_pg_current_xact_id;});
@lines = split /\n/, $xids;
is($lines[0], '25', 'in a transaction block too');
cmp_ok($lines[-1], '<=', 3, "but in that one transaction ($lines[-1] transaction ids)");
is($node->safe_psql('postgres', $orphans), 'none', 'still no orphan row');

$node->stop;
done_testing();
