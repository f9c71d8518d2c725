# The extension in a real server: preloaded or not, the SQL API works and
# workflows survive a restart.
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

$node->stop;
done_testing();
