# A single-user backend (postgres --single) starts no background worker:
# the API says so instead of leaving work to a scheduler that never
# comes.  start_workflow is refused with a hint; execute_workflow runs the
# workflow in the session, as without shared_preload_libraries, rather
# than waiting for ever.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $node = mycelium_node('single');
$node->stop;

# runs SQL (one statement a line) in a single-user backend; returns its
# stdout and stderr
sub single_user
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ $node->installed_command('postgres'), '--single', '-D', $node->data_dir,
		  '-c', "shared_preload_libraries=mycelium", '-c', 'mycelium.database=postgres',
		  'postgres' ],
		'<', \$sql, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($out, $err);
}

my ($out, $err) = single_user(
	"SELECT mycelium.start_workflow(mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'test'))))\n");
like($err, qr/the mycelium scheduler does not run in a single-user backend/,
	'start_workflow says no scheduler runs in a single-user backend');
like($err, qr/execute_workflow/, 'and points to execute_workflow');

($out, $err) = single_user(
	"SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array("
	  . "mycelium.task('a', 'x', 'test'), mycelium.task('b', 'x', 'test', dependencies => '{a}'))))::text AS done\n");
like($out, qr/done = ".*"task": "b"/s, 'execute_workflow runs the workflow in the session and returns');
unlike($err, qr/ERROR/, 'without an error');

$node->start;
is($node->safe_psql('postgres', q{
	SELECT string_agg(task_id, ',' ORDER BY task_id) FROM public.effects}),
	'a,b', 'both tasks ran, once each');
$node->stop;
done_testing();
