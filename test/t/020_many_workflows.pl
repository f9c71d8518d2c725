# The launcher with more workflows than the dispatch queue holds: after a
# restart, 20,000 running workflows that wait on external agents cost one
# rescan, not a rescan without end (their tasks are the agents' to claim);
# and 20,000 workflows started in one transaction, which overflow the
# queue at commit, all complete, found again by the rescan's pages.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('many', 'mycelium.max_workers = 2');
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.noop(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
	SELECT mycelium.register_executor('noop', 'public.noop(jsonb)');
	SELECT mycelium.register_executor('nobody', NULL);
	SELECT count(mycelium.start_workflow(mycelium.create_workflow(
		jsonb_build_array(mycelium.task('wait', 'a', 'nobody')))))
	  FROM generate_series(1, 20000);});

# restart with the rescans logged, then let the launcher run for a while;
# the log is read from before the restart, since the launcher's first
# rescan can be logged before pg_ctl returns
$node->append_conf('postgresql.conf', 'log_min_messages = debug1');
my $offset = -s $node->logfile;
$node->restart;
sleep 5;
my $log = slurp_file($node->logfile, $offset);
my $rescans = () = $log =~ /mycelium rescan: \d+ workflows/g;
cmp_ok($rescans, '>=', 1, 'the launcher rescanned after the restart');
cmp_ok($rescans, '<=', 3, "... and stopped ($rescans pages in 5 s)");
like($log, qr/mycelium rescan: 0 workflows/,
	'workflows whose ready tasks are external are not queued for the scheduler');
$node->append_conf('postgresql.conf', 'log_min_messages = warning');
$node->reload;

# more workflows with function tasks than the queue holds, started at once
$node->safe_psql('postgres', q{
	CREATE TABLE many (id uuid);
	INSERT INTO many SELECT mycelium.create_workflow(
		jsonb_build_array(mycelium.task('t', 'a', 'noop'))) FROM generate_series(1, 20000);
	SELECT count(mycelium.start_workflow(id)) FROM many;});
my $left;
for (1 .. 600)
{
	$left = $node->safe_psql('postgres', q{
		SELECT count(*) FROM mycelium.workflows w JOIN many ON many.id = w.workflow_id
		 WHERE w.status <> 'completed'});
	last if $left == 0;
	sleep 1;
}
is($left, '0', 'all 20,000 workflows completed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mycelium.workflows WHERE status = 'running'}),
	'20000', 'the workflows waiting on agents are still running');

$node->stop;
done_testing();
