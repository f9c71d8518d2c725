# Mycelium on Citus: a coordinator and two workers on this machine (Unix
# sockets only), citus and mycelium preloaded on each, the catalog
# distributed with mycelium.distribute(), and workflows run through the
# coordinator.  Skipped where Citus is not installed in the PostgreSQL the
# tests use (test/install-citus installs it; test/run-tests calls that).
#
# What does not run through the coordinator yet is marked TODO, with the
# reason; doc/internals.md ("Running on Citus") says why.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

# is Citus installed where the nodes' PostgreSQL looks for libraries?
my $probe = PostgreSQL::Test::Cluster->new('probe');
my $pkglibdir = $probe->config_data('--pkglibdir');
plan skip_all => "Citus is not installed in this PostgreSQL ($pkglibdir/citus.so is missing; bash test/install-citus installs it)"
  unless -f "$pkglibdir/citus.so";

# citus_node(NAME): a node with citus (first, as Citus requires) and
# mycelium preloaded, and the extension citus created
sub citus_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'citus, mycelium'",
		"mycelium.database = 'postgres'",
		"max_worker_processes = 32",
		"max_connections = 100",
		"max_prepared_transactions = 100",
		"mycelium.min_workers = 1",
		"mycelium.max_workers = 2"));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	return $node;
}

my $coord = citus_node('coordinator');
my @workers = (citus_node('worker1'), citus_node('worker2'));
my $host = $coord->host;
$coord->safe_psql('postgres',
	"SELECT citus_set_coordinator_host('$host', " . $coord->port . ")");
$coord->safe_psql('postgres',
	"SELECT citus_add_node('$host', " . $_->port . ")") for @workers;
is($coord->safe_psql('postgres',
	"SELECT count(*) FROM pg_dist_node WHERE isactive AND noderole = 'primary'"),
	'3', 'a coordinator and two workers');

# --- the extension, created on the coordinator, is created on the workers
$coord->safe_psql('postgres', 'CREATE EXTENSION mycelium');
for my $w (@workers)
{
	is($w->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'mycelium'"),
		'0.2.0', $w->name . ': Citus created the extension there too');
}

# --- the workers' launchers stay idle and say so ------------------------
for my $w (@workers)
{
	ok($w->wait_for_log(qr/mycelium scheduler is idle: this server is a Citus worker node/),
		$w->name . "'s launcher is idle and says why");
}

# --- distribute() -------------------------------------------------------
my ($rc, $out, $err) = $workers[0]->psql('postgres', 'SELECT mycelium.distribute()');
like($err, qr/runs on the Citus coordinator, and this is worker node group/,
	'distribute() on a worker is refused');

$coord->safe_psql('postgres', 'SELECT mycelium.distribute()');
is($coord->safe_psql('postgres', q{
	SELECT string_agg(logicalrelid::regclass::text || ':' ||
		   CASE partmethod WHEN 'h' THEN 'hash(' || column_to_column_name(logicalrelid, partkey) || ')'
		                   WHEN 'n' THEN 'reference' END, ' ' ORDER BY logicalrelid::regclass::text)
	  FROM pg_dist_partition
	 WHERE logicalrelid::regclass::text LIKE 'mycelium.%'}),
	join(' ', qw(mycelium.executors:reference mycelium.handoffs:hash(workflow_id)
		mycelium.json_schema_registry:reference mycelium.task_ids:hash(workflow_id)
		mycelium.task_states:hash(workflow_id) mycelium.workflow_events:hash(workflow_id)
		mycelium.workflow_schedules:reference mycelium.workflow_signals:hash(workflow_id)
		mycelium.workflow_state_history:hash(workflow_id)
		mycelium.workflow_states:hash(workflow_id) mycelium.workflow_templates:reference)),
	'the workflow tables are distributed by workflow_id, the others are reference tables');
is($coord->safe_psql('postgres', q{
	SELECT count(DISTINCT colocationid) FROM pg_dist_partition
	 WHERE partmethod = 'h' AND logicalrelid::regclass::text LIKE 'mycelium.%'}),
	'1', 'and the distributed ones are co-located');
$coord->safe_psql('postgres', 'SELECT mycelium.distribute()');
pass('distribute() a second time changes nothing (idempotent)');

# --- workflows through the coordinator ----------------------------------
$coord->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN IN ROLE mycelium_user;
	CREATE ROLE bob LOGIN IN ROLE mycelium_user;
	CREATE FUNCTION public.test_exec(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		IF (ctx->>'attempt')::int <= coalesce((ctx->'task'->'input'->>'fail_times')::int, 0) THEN
			RAISE EXCEPTION 'planned failure of attempt %', ctx->>'attempt';
		END IF;
		PERFORM pg_sleep(coalesce((ctx->'task'->'input'->>'sleep')::float8, 0));
		RETURN jsonb_build_object('task', ctx->'task'->>'task_id');
	END $$;
	GRANT EXECUTE ON FUNCTION public.test_exec(jsonb) TO PUBLIC;
});
($rc, $out, $err) = $coord->psql('postgres',
	"SELECT mycelium.register_executor('test', 'public.test_exec(jsonb)')");
is($rc, 0, 'an executor is registered (a reference table)') or diag($err);

# diamond(ROLE): a diamond workflow created and started through the
# coordinator by ROLE; returns its id, or '' with a diagnostic
sub diamond
{
	my ($role) = @_;
	my ($rc, $wf, $err) = $coord->psql('postgres', q{
		SELECT mycelium.create_workflow(jsonb_build_array(
			mycelium.task('A', 'a', 'test'),
			mycelium.task('B', 'b', 'test', dependencies => '{A}'),
			mycelium.task('C', 'c', 'test', dependencies => '{A}'),
			mycelium.task('D', 'd', 'test', dependencies => '{B,C}')))},
		extra_params => [ '-U', $role ]);
	if ($rc) { diag("$role: create_workflow: $err"); return ''; }
	($rc, my $out, $err) = $coord->psql('postgres', "SELECT mycelium.start_workflow('$wf')",
		extra_params => [ '-U', $role ]);
	if ($rc) { diag("$role: start_workflow: $err"); return ''; }
	return $wf;
}

# an administrator's (the superuser's) workflow
my $wf = diamond('postgres');
ok($wf ne '', 'the superuser creates and starts a diamond workflow through the coordinator');
is($coord->safe_psql('postgres', "SELECT status FROM mycelium.workflows WHERE workflow_id = '$wf'"),
	'running', 'it is running');
is($coord->safe_psql('postgres', "SELECT count(*) FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'4', 'its four tasks are in the shards, read through the coordinator');
is($coord->safe_psql('postgres', "SELECT string_agg(task_id || ':' || status, ' ' ORDER BY task_id) FROM mycelium.tasks WHERE workflow_id = '$wf'"),
	'A:ready B:pending C:pending D:pending', 'A is ready, the others wait for it');
TODO:
{
	local $TODO = "the dispatcher claims the tasks of several workflows in one statement, which Citus cannot push down (doc/internals.md, \"Running on Citus\")";
	ok($wf ne '' && wait_for_status($coord, $wf, 'completed', 5), "the superuser's diamond workflow completes");
}

# delete_workflow: the workflow's rows go from every table (on Citus the
# trigger that did it is gone, and the function does it)
my $doomed = $coord->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('A', 'a', 'test'), mycelium.task('B', 'b', 'test', dependencies => '{A}')),
		name => 'doomed')});
my $rows_of = sub {
	$coord->safe_psql('postgres', 'SELECT ' . join(' || \',\' || ', map {
		"(SELECT count(*) FROM mycelium.$_ WHERE workflow_id = '$doomed')" }
		qw(workflow_states task_states task_ids workflow_state_history handoffs workflow_events
		   workflow_signals)));
};
isnt($rows_of->(), '0,0,0,0,0,0,0', 'a workflow has rows in the distributed tables');
$coord->safe_psql('postgres', "SELECT mycelium.delete_workflow('$doomed')");
is($rows_of->(), '0,0,0,0,0,0,0', 'delete_workflow removes them from every table');

# row-level security through the coordinator and on a worker: alice's
# workflow (create_workflow works for her) is hers only
$coord->safe_psql('postgres', q{
	SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('A', 'a', 'test')),
		name => 'alice-only')}, extra_params => [ '-U', 'alice' ]);
for my $n ($coord, $workers[0])
{
	is($n->safe_psql('postgres',
		"SELECT string_agg(name, ',') FROM mycelium.workflows WHERE name = 'alice-only'",
		extra_params => [ '-U', 'alice' ]), 'alice-only', $n->name . ': alice sees her workflow');
	is($n->safe_psql('postgres',
		"SELECT count(*) FROM mycelium.workflows WHERE name = 'alice-only'",
		extra_params => [ '-U', 'bob' ]), '0', $n->name . ': bob does not');
}
is($workers[1]->safe_psql('postgres', q{
	SELECT count(*) FROM pg_policies WHERE schemaname = 'mycelium' AND qual LIKE '%SELECT%'}),
	'0', "the workers' copies of the tables have the policies without sub-selects too");

# a mycelium_user's
TODO:
{
	local $TODO = 'owners are role OIDs, which differ per node (doc/internals.md, "Running on Citus")';
	$wf = diamond('alice');
	ok($wf ne '', 'alice creates and starts a diamond workflow through the coordinator');
	ok($wf ne '' && wait_for_status($coord, $wf, 'completed', 10), "alice's diamond workflow completes");
}

done_testing();
