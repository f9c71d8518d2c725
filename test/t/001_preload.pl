# The extension in a real server: preloaded or not, the SQL API works and
# workflows survive a restart; workers that started before CREATE EXTENSION
# take the first workflow at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preload');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mycelium'");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION mycelium');
$node->safe_psql('postgres',
	"SELECT mycelium.register_executor('external-agents', NULL)");
my $wf = $node->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('a', 'x', 'external-agents'),
		mycelium.task('b', 'x', 'external-agents', dependencies => '{a}')))});
like($wf, qr/^[0-9a-f-]{36}$/, 'create_workflow returns a uuid');

$node->safe_psql('postgres', "SELECT mycelium.update_task('$wf', 'a', 'running')");
$node->restart;
is( $node->safe_psql('postgres',
		"SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id) FROM mycelium.tasks"),
	'a=running,b=pending',
	'workflow state survives a restart');
is($node->safe_psql('postgres',
		"SELECT version FROM mycelium.workflows WHERE workflow_id = '$wf'"),
	'2', 'and so does its version');

# without shared_preload_libraries the SQL API still works
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
is( $node->safe_psql('postgres',
		"SELECT mycelium.update_task('$wf', 'a', 'completed')"),
	'3', 'update_task works without the library preloaded');
is( $node->safe_psql('postgres',
		"SELECT status FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'b'"),
	'ready', 'and releases dependents');

# what needs the scheduler says what to configure
my ($ret, $out, $err) = $node->psql('postgres', "SELECT mycelium.start_workflow('$wf')");
like($err, qr/the mycelium scheduler is not running/, 'start_workflow needs the scheduler');
like($err, qr/HINT:  Add mycelium to shared_preload_libraries, set mycelium.database/,
	'and says what to configure');
# while execute_workflow runs the workflow in the session instead
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.done(ctx jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT ''"ok"''::jsonb';
	SELECT mycelium.register_executor('inline', 'public.done(jsonb)')});
is( $node->safe_psql('postgres', q{
		SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
			mycelium.task('x', 'a', 'inline'))))->>'status'}),
	'completed', 'execute_workflow works without the scheduler');

# a workflow started just after CREATE EXTENSION runs at once: the workers,
# started before the extension existed, are woken like idle ones rather
# than finding it at their next look a second later
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mycelium'");
for my $round (1 .. 3)
{
	$node->safe_psql('postgres', 'DROP EXTENSION mycelium CASCADE');
	$node->restart;
	sleep 1;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION mycelium;
		SELECT mycelium.register_executor('inline', 'public.done(jsonb)');});
	my $id = $node->safe_psql('postgres', q{
		SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('x', 'a', 'inline')))});
	$node->safe_psql('postgres', "SELECT mycelium.start_workflow('$id')");
	$node->poll_query_until('postgres',
		"SELECT status = 'completed' FROM mycelium.workflows WHERE workflow_id = '$id'")
	  or die "the workflow of round $round did not complete";
	cmp_ok($node->safe_psql('postgres', qq{
		SELECT round(extract(epoch FROM finished_at - started_at) * 1000)
		  FROM mycelium.workflows WHERE workflow_id = '$id'}),
		'<', 250,
		"round $round: the first workflow after CREATE EXTENSION ran within 250 ms of its start");
}

$node->stop;
done_testing();
