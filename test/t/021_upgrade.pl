# A real upgrade from 0.1.0: the 0.1.0 release is built from the git
# history (test/run-tests extracts it, see mc_upgrade_sources in
# test/lib/common.sh) and installed into a private copy of this
# PostgreSQL installation.  A cluster runs workflows on it (function tasks
# mid-run, an external task claimed, a template, a schedule); the server
# is stopped, the new build put in place and started.  The scheduler must
# idle and say why, the API refuse with a HINT, until ALTER EXTENSION
# mycelium UPDATE; then every workflow finishes with its history intact,
# and the updated schema equals a fresh install's (pg_dump of the
# extension's objects, compared as a set).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use Cwd qw(abs_path);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $from = '0.1.0';
my $old_src = $ENV{MC_UPGRADE_FROM}
  // abs_path("$FindBin::RealBin/../..") . "/tmp_upgrade/mycelium-$from";
plan skip_all => "the $from sources are not at $old_src (test/run-tests extracts them from git)"
  unless -f "$old_src/Makefile";

# --- a private installation: this server's, with 0.1.0 over it ----------
sub pg_config
{
	my ($what) = @_;
	my $v = `pg_config --$what`;
	chomp $v;
	return $v;
}
my %dir = map { $_ => pg_config($_) } qw(bindir sharedir pkglibdir);

# PostgreSQL finds its share and lib directories relative to its binaries,
# so a copy that keeps their layout below a common prefix is a working
# installation of its own
my $prefix = $dir{bindir};
$prefix = dirname($prefix)
  while grep { index($_, "$prefix/") != 0 } values %dir;
my $inst = PostgreSQL::Test::Utils::tempdir('upgrade_inst');
for my $d (values %dir)
{
	(my $rel = $d) =~ s/^\Q$prefix\E//;
	make_path(dirname("$inst$rel"));
	system('cp', '-a', $d, "$inst$rel") == 0 or BAIL_OUT("cannot copy $d");
}
(my $bin_rel = $dir{bindir}) =~ s/^\Q$prefix\E//;
my $install_path = dirname("$inst$bin_rel");
(my $ext_dir = "$dir{sharedir}/extension") =~ s/^\Q$prefix\E/$inst/;
(my $lib_dir = $dir{pkglibdir}) =~ s/^\Q$prefix\E/$inst/;

# the new build's files, as installed for the other tests
my @new_files = ("$lib_dir/mycelium.so", "$ext_dir/mycelium.control");
my $keep = PostgreSQL::Test::Utils::tempdir('upgrade_new');
copy($_, $keep) or BAIL_OUT("cannot keep $_: $!") for @new_files;

# build 0.1.0 (plain PGXS, no coverage) and put it in place
my $build = PostgreSQL::Test::Utils::tempdir('upgrade_build');
system('cp', '-a', "$old_src/.", $build) == 0 or BAIL_OUT('cannot copy the sources');
my ($out, $err);
IPC::Run::run(['make', '-C', $build, '-s', '-j2', 'PG_CONFIG=pg_config'],
	'>', \$out, '2>', \$err)
  or BAIL_OUT("building $from failed: $err");
copy("$build/mycelium.so", "$lib_dir/mycelium.so") or BAIL_OUT($!);
copy("$build/mycelium.control", "$ext_dir/mycelium.control") or BAIL_OUT($!);
copy("$build/mycelium--$from.sql", $ext_dir) or BAIL_OUT($!);
ok(-f "$ext_dir/mycelium--$from--0.2.0.sql", 'the upgrade script is installed');

# --- a cluster on 0.1.0 with work under way ------------------------------
my $node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $install_path);
$node->init;
$node->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'mycelium, pg_cron'",
	"mycelium.database = 'postgres'",
	"cron.database_name = 'postgres'",
	"max_worker_processes = 32"));
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION mycelium;
	CREATE EXTENSION pg_cron;
	CREATE ROLE alice LOGIN IN ROLE mycelium_user;
	GRANT USAGE ON SCHEMA cron TO alice;
	CREATE FUNCTION public.nap(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_sleep(coalesce((ctx->'task'->'input'->>'sleep')::float8, 0));
		RETURN jsonb_build_object('task', ctx->'task'->>'task_id', 'attempt', ctx->'attempt');
	END $$;
	GRANT EXECUTE ON FUNCTION public.nap(jsonb) TO PUBLIC;
	CREATE FUNCTION public.inbox(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$
		SELECT jsonb_build_object('handoffs', ctx->'handoffs') $$;
	GRANT EXECUTE ON FUNCTION public.inbox(jsonb) TO PUBLIC;
	SET ROLE alice;
	SELECT mycelium.register_executor('nap', 'public.nap(jsonb)');
	SELECT mycelium.register_executor('inbox', 'public.inbox(jsonb)');
	SELECT mycelium.register_executor('outside', NULL);
	SELECT mycelium.create_template('pair', jsonb_build_array(
		mycelium.task('a', 'x', 'nap'),
		mycelium.task('b', 'x', 'nap', dependencies => '{a}')));
	SELECT mycelium.schedule_workflow('yearly', '0 0 1 1 *', 'pair');
});
is($node->safe_psql('postgres',
	"SELECT extversion FROM pg_extension WHERE extname = 'mycelium'"),
	$from, "version $from is installed");

sub alice
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', "SET ROLE alice; $sql");
}

# finished before the upgrade
my $done = alice(q{SELECT mycelium.execute_workflow(mycelium.create_workflow(
	jsonb_build_array(mycelium.task('only', 'x', 'nap'))))->>'workflow_id'});
# a function task running when the server stops (its attempt is lost)
my $running = alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('long', 'x', 'nap', input => '{"sleep": 30}',
		max_attempts => 3, initial_delay => 0),
	mycelium.task('after', 'x', 'nap', dependencies => '{long}')))});
alice("SELECT mycelium.start_workflow('$running')");
# an external task claimed by an agent
my $claimed = alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('gate', 'g', 'outside'),
	mycelium.task('then', 'x', 'nap', dependencies => '{gate}')))});
alice("SELECT mycelium.start_workflow('$claimed')");
# handoff messages in 0.1.0's format, for a task that runs after the
# update: one with progress, one whose free-form metadata breaks the new
# format (a priority that is not one of the four)
my $handed = alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('read', 'r', 'inbox')))});
my $old_ids = alice(qq{
	SELECT string_agg(mycelium.send_handoff('$handed', m)::text, ',' ORDER BY n)
	  FROM (VALUES
		(1, mycelium.create_handoff('p', 'plan', 'r', 'inbox', 'read this',
			context => '{"notes": ["a.c"], "depth": 2}', metadata => '{"team": "x"}',
			progress => '{"percent": 40, "stage": "parsed"}')),
		(2, mycelium.create_handoff('p', 'plan', 'r', 'inbox', 'then this',
			context => '{"previous_results": "not a list"}', metadata => '{"priority": "urgent"}'))) v(n, m)});
is(alice(q{SELECT task_id FROM mycelium.claim_tasks('outside', 'agent-1', 1, '1 hour')}),
	'gate', 'an external agent holds a task');
# a workflow failed by a task's error (text errors, converted by the update)
my $failed = alice(q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.task('late', 'g', 'outside')))});
alice("SELECT mycelium.start_workflow('$failed')");
alice("SELECT mycelium.update_task('$failed', 'late', 'failed', NULL, 'task timed out after 1 s')");
ok(wait_for_status_task($running, 'long', 'running'), 'a function task is running');

# wait_for_status_task(WF, TASK, STATUS): polls the task's status
sub wait_for_status_task
{
	my ($wf, $task, $status) = @_;
	for (1 .. 600)
	{
		return 1 if $node->safe_psql('postgres', qq{
			SELECT status FROM mycelium.tasks
			 WHERE workflow_id = '$wf' AND task_id = '$task'}) eq $status;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# history so far, to compare after the upgrade
my %history;
for my $wf ($done, $running, $claimed, $failed)
{
	$history{$wf} = $node->safe_psql('postgres', qq{
		SELECT string_agg(concat_ws(' ', version, task_id, status, attempt, event, changed_at), E'\n'
						  ORDER BY version, task_id)
		  FROM mycelium.workflow_history('$wf')});
}
$node->stop('fast');

# --- the new build over the old catalog ----------------------------------
copy("$keep/$_", $_ =~ /\.so$/ ? $lib_dir : $ext_dir) or BAIL_OUT($!)
  for map { (split m{/})[-1] } @new_files;
my $log_offset = -s $node->logfile;
$node->start;
ok( $node->wait_for_log(
		qr/mycelium scheduler is idle: extension "mycelium" version $from is installed in database "postgres", but the library is version 0\.2\.0/,
		$log_offset),
	'the scheduler idles and says why');
like(slurp_file($node->logfile, $log_offset),
	qr/HINT:  Run ALTER EXTENSION mycelium UPDATE in database "postgres"/,
	'with a hint');
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	"SET ROLE alice; SELECT mycelium.get_workflow('$running')", extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($rc, 0, 'the API refuses before the update');
like($stderr, qr/55000: extension "mycelium" version $from is installed, but the library is version 0\.2\.0/,
	'with a clear error');
like($stderr, qr/HINT:  Run ALTER EXTENSION mycelium UPDATE/, 'and a hint');
sleep 1;
is($node->safe_psql('postgres', "SELECT status FROM mycelium.tasks WHERE workflow_id = '$running' AND task_id = 'long'"),
	'running', 'nothing ran meanwhile');
is(scalar(() = slurp_file($node->logfile, $log_offset) =~ /scheduler is idle/g), 1,
	'the reason is logged once');

$node->safe_psql('postgres', 'ALTER EXTENSION mycelium UPDATE');
is($node->safe_psql('postgres',
	"SELECT extversion FROM pg_extension WHERE extname = 'mycelium'"),
	'0.2.0', 'updated to 0.2.0');
ok($node->wait_for_log(qr/mycelium scheduler resumes/, $log_offset),
	'the scheduler resumes');

# --- every workflow finishes, history intact -----------------------------
# the lost attempt is retried (it counts), with a short nap this time
ok(wait_for_status($node, $running, 'completed', 120), 'the running workflow completes');
is(alice(qq{SELECT attempt FROM mycelium.tasks WHERE workflow_id = '$running' AND task_id = 'long'}),
	2, 'its lost attempt counted');
is(alice(qq{SELECT mycelium.complete_task('$claimed', 'gate', 'agent-1', '{"ok": true}')}),
	'completed', 'the agent completes its claimed task after the update');
ok(wait_for_status($node, $claimed, 'completed', 60), 'that workflow completes');
my $scheduled = alice(q{SELECT mycelium.run_schedule('yearly')});
ok(wait_for_status($node, $scheduled, 'completed', 60), 'the schedule starts its template, which completes');
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobname = 'yearly'}),
	q{SELECT mycelium.run_schedule('yearly')}, 'the pg_cron job is kept');
# the 0.1.0 messages are delivered in the new format
alice("SELECT mycelium.start_workflow('$handed')");
ok(wait_for_status($node, $handed, 'completed', 60), 'the workflow with 0.1.0 handoffs completes');
is(alice(qq{
	SELECT string_agg(concat_ws(' ', h->>'version', h->>'handoff_id', h->>'workflow_id' = '$handed',
			h->'source'->>'agent_id', h->'target'->>'agent_type', h->'context'->>'task_description',
			h->'context'->'notes', h->'state'->'progress'->>'percentage', h->'state'->'progress'->>'stage',
			h->'metadata', mycelium.validate_handoff(h), h ? 'protocol_version'), E'\n' ORDER BY n)
	  FROM mycelium.tasks t, jsonb_array_elements(t.result->'handoffs') WITH ORDINALITY x(h, n)
	 WHERE t.workflow_id = '$handed'}),
	join("\n",
		"1.0 " . (split /,/, $old_ids)[0] . ' t p inbox read this ["a.c"] 40 parsed {"team": "x"} t f',
		"1.0 " . (split /,/, $old_ids)[1] . ' t p inbox then this {"mycelium_0_1": {"priority": "urgent"}} t f'),
	'0.1.0 handoff messages are delivered converted to the new format');
is(alice(qq{
	SELECT m->'context'->'mycelium_0_1' FROM mycelium.handoffs h, LATERAL (SELECT h.message) x(m)
	 WHERE h.workflow_id = '$handed' AND h.message_id = '@{[ (split /,/, $old_ids)[1] ]}'}),
	'{"previous_results": "not a list"}', 'a context that breaks the new format is kept whole');
my $fresh = alice(q{SELECT mycelium.start_from_template('pair')});
ok(wait_for_status($node, $fresh, 'completed', 60), 'a template run started after the update completes');
for my $wf ($done, $running, $claimed, $failed)
{
	my $now = $node->safe_psql('postgres', qq{
		SELECT string_agg(concat_ws(' ', version, task_id, status, attempt, event, changed_at), E'\n'
						  ORDER BY version, task_id)
		  FROM mycelium.workflow_history('$wf')});
	is(substr($now, 0, length $history{$wf}), $history{$wf},
		"the history of $wf before the upgrade is kept");
}

# 0.1.0's text errors got an error_detail, error_type guessed from the text
is(alice(qq{SELECT error_detail FROM mycelium.tasks WHERE workflow_id = '$failed'}),
	'{"attempt": 0, "message": "task timed out after 1 s", "error_type": "timeout"}',
	"a task's error is converted");
is(alice(qq{SELECT error_detail FROM mycelium.workflows WHERE workflow_id = '$failed'}),
	'{"message": "task \"late\" failed: task timed out after 1 s", "error_type": "task_failed"}',
	"a workflow's error is converted");
is(alice(qq{SELECT string_agg(error_detail->>'error_type', ',' ORDER BY version, task_id NULLS LAST)
	FROM mycelium.workflow_history('$failed') WHERE error IS NOT NULL}),
	'timeout,task_failed', 'so are the errors in the history');
# the attempt lost across the upgrade is recorded by the new library
is(alice(qq{SELECT error_detail->>'error_type' FROM mycelium.workflow_history('$running')
	 WHERE task_id = 'long' AND status = 'ready' AND attempt = 1}),
	'lost', 'the attempt lost across the update has error_type lost');

# --- the updated schema equals a fresh install's ------------------------
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION mycelium');
my %dump = map { $_ => extension_objects($_) } qw(postgres fresh);
my @only_updated = grep { !exists $dump{fresh}{$_} } sort keys %{ $dump{postgres} };
my @only_fresh = grep { !exists $dump{postgres}{$_} } sort keys %{ $dump{fresh} };
cmp_ok(scalar keys %{ $dump{fresh} }, '>', 100, 'the dump lists the extension\'s objects');
is(join("\n\n", @only_updated), '', 'nothing in the updated schema that a fresh install lacks');
is(join("\n\n", @only_fresh), '', 'nothing in a fresh install that the updated schema lacks');

# extension_objects(DB): the extension's objects in DB as a set of pg_dump
# entries.  --binary-upgrade makes pg_dump write an extension's member
# objects one by one; what it adds that differs between any two databases
# (OIDs, transaction ids, the dump's restrict key) and comments are left
# out, and so are sequences' current values.
sub extension_objects
{
	my ($db) = @_;
	my $sql = $node->pg_dump_schema_only($db);
	my %set;
	for my $entry (split /\n--\n-- (?=Name: )/, $sql)
	{
		my ($name) = $entry =~ /^(Name: [^\n]*)/;
		next unless defined $name;
		# a sequence's current value is data (handoffs sent), not schema
		next if $name =~ /Type: SEQUENCE SET;/;
		$entry = join "\n", $name, grep {
			!/^--|^\\(un)?restrict |binary_upgrade_(set_next|create_empty_extension)
			  |^UPDATE\ pg_catalog\.pg_class$|^SET\ relfrozenxid|^WHERE\ oid\ =|^\s*$/x
		} split /\n/, $entry;
		next unless $entry =~ /mycelium/;
		$set{$entry} = 1;
	}
	return \%set;
}

# PostgreSQL::Test::Cluster has no method for this; keep it beside the use
sub PostgreSQL::Test::Cluster::pg_dump_schema_only
{
	my ($self, $db) = @_;
	my ($out, $err);
	IPC::Run::run([ $self->installed_command('pg_dump'), '--schema-only',
			'--binary-upgrade', '-d', $self->connstr($db) ],
		'>', \$out, '2>', \$err)
	  or die "pg_dump failed: $err";
	return $out;
}

$node->stop;
done_testing();
