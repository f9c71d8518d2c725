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

$node->stop;
done_testing();
