# Mycelium on Citus: a coordinator and two workers on this machine (Unix
# sockets only), citus and mycelium preloaded on each, the catalog
# distributed with mycelium.distribute(), and workflows run through the
# coordinator: the engine's (diamond, retries, timeout, cancel, 1,000 tasks,
# one created and executed in one statement), external agents claiming and
# completing tasks, signals and their deadlines, a workflow's history,
# timeline and statistics and a rollback (compared with what a plain
# server gives of the same workflows), agent_type_stats, priorities, two
# roles kept apart, purge_workflows.  Then what makes it hold: each
# workflow's rows sit in one shard group on one worker (on both workers
# between them), every statement that writes or locks rows
# reaches a single shard (Citus logs every statement it splits into
# several tasks: none of them writes or locks), and each worker stores its
# own OID of every role.  Skipped where Citus is not installed in the
# PostgreSQL the tests use (test/install-citus installs it; test/run-tests
# calls that).  doc/internals.md, "Running on Citus", says how it works.
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
# mycelium preloaded, and the extension citus created; Citus logs each
# statement it runs as several tasks (on several shards)
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
		"mycelium.max_workers = 2",
		"citus.multi_task_query_log_level = 'log'"));
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

# --- roles, the executor (registered before distribute()) ---------------
# functions of the workers' own first, so that the OIDs of the executor's
# function and of the roles differ between the nodes (each node must use
# its own)
for my $w (@workers)
{
	$w->safe_psql('postgres', 'SET citus.enable_ddl_propagation = off; '
		  . join(' ', map { "CREATE FUNCTION public.local_$_() RETURNS int LANGUAGE sql AS 'SELECT $_';" } 1 .. 3));
}
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
	SELECT mycelium.register_executor('test', 'public.test_exec(jsonb)');
});

# --- distribute() -------------------------------------------------------
my ($rc, $out, $err) = $workers[0]->psql('postgres', 'SELECT mycelium.distribute()');
like($err, qr/runs on the Citus coordinator, and this is worker node group/,
	'distribute() on a worker is refused');

# a workflow before distribute(): Citus would copy its rows to the shards
# in binary, with the coordinator's OIDs of roles, so distribute() refuses
my $early = $coord->safe_psql('postgres',
	"SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('A', 'a', 'test')))",
	extra_params => [ '-U', 'alice' ]);
($rc, $out, $err) = $coord->psql('postgres', 'SELECT mycelium.distribute()',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000: mycelium.distribute\(\) needs the workflow tables empty, and mycelium.workflow_states holds rows/,
	'distribute() refuses workflow tables that hold rows (55000)');
is($coord->safe_psql('postgres',
	"SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'mycelium.%'"),
	'0', 'and changes nothing');
$coord->safe_psql('postgres', "SELECT mycelium.delete_workflow('$early')");

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
for my $n ($coord, @workers)
{
	is($n->safe_psql('postgres', 'SHOW citus.enable_binary_protocol'), 'off',
		$n->name . ': sessions of the database exchange values as text (roles by name)');
}

# the executor registered before: each worker's copy names that worker's
# own function and role (the rows were put back by name)
my $executors_shard = $coord->safe_psql('postgres',
	"SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'mycelium.executors'::regclass");
for my $w (@workers)
{
	is($w->safe_psql('postgres', qq{
		SELECT p.proname || ' by ' || r.rolname
		  FROM mycelium.executors_$executors_shard e
		  JOIN pg_proc p ON p.oid = e.executor::oid
		  JOIN pg_roles r ON r.oid = e.registered_by::oid
		 WHERE e.agent_type = 'test'}),
		'test_exec by postgres',
		$w->name . ": the executor registered before distribute() is that worker's function and role");
}
isnt($workers[0]->safe_psql('postgres', "SELECT 'alice'::regrole::oid"),
	$coord->safe_psql('postgres', "SELECT 'alice'::regrole::oid"),
	"alice has another OID on a worker than on the coordinator");
isnt($workers[0]->safe_psql('postgres', "SELECT 'public.test_exec(jsonb)'::regprocedure::oid"),
	$coord->safe_psql('postgres', "SELECT 'public.test_exec(jsonb)'::regprocedure::oid"),
	"the executor's function has another OID on a worker than on the coordinator");
$coord->safe_psql('postgres', "SELECT mycelium.register_executor('ext', NULL)");

# --- workflows through the coordinator ----------------------------------
# what Citus logs from here on is checked at the end
my $log_from = -s $coord->logfile;

# as(ROLE, SQL): runs SQL on the coordinator as ROLE; dies on an error
sub as
{
	my ($role, $sql) = @_;
	return $coord->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

# start(ROLE, NAME, TASKS): creates and starts a workflow of ROLE through
# the coordinator; TASKS is SQL for its jsonb array of tasks
sub start
{
	my ($role, $name, $tasks) = @_;
	my $wf = as($role, "SELECT mycelium.create_workflow($tasks, name => '$name')");
	as($role, "SELECT mycelium.start_workflow('$wf')");
	return $wf;
}

# tasks(WF): "task:status ..." of a workflow, read through the coordinator
sub tasks
{
	my ($wf) = @_;
	return $coord->safe_psql('postgres',
		"SELECT string_agg(task_id || ':' || status, ' ' ORDER BY task_id) FROM mycelium.tasks WHERE workflow_id = '$wf'");
}

my $diamond = q{jsonb_build_array(
	mycelium.task('A', 'a', 'test'),
	mycelium.task('B', 'b', 'test', dependencies => '{A}'),
	mycelium.task('C', 'c', 'test', dependencies => '{A}'),
	mycelium.task('D', 'd', 'test', dependencies => '{B,C}'))};
my %wf;
$wf{diamond} = start('alice', 'diamond', $diamond);
$wf{bob} = start('bob', 'bob-diamond', $diamond);
$wf{retry} = start('alice', 'retry', q{jsonb_build_array(
	mycelium.task('A', 'a', 'test', input => '{"fail_times": 2}', max_attempts => 3, initial_delay => 0.1),
	mycelium.task('B', 'b', 'test', dependencies => '{A}'))});
$wf{timeout} = start('alice', 'timeout', q{jsonb_build_array(
	mycelium.task('A', 'a', 'test', input => '{"sleep": 5}', timeout => 0.5),
	mycelium.task('B', 'b', 'test', dependencies => '{A}'))});
$wf{cancel} = start('alice', 'cancel', q{jsonb_build_array(
	mycelium.task('A', 'a', 'test', input => '{"sleep": 30}'),
	mycelium.task('B', 'b', 'test', dependencies => '{A}'))});
$wf{big} = start('alice', 'big',
	q{(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'test')) FROM generate_series(1, 1000) i)});

ok(wait_for_status($coord, $wf{diamond}, 'completed', 30), "alice's diamond completes");
is(tasks($wf{diamond}), 'A:completed B:completed C:completed D:completed', 'every task of it');
is($coord->safe_psql('postgres', qq{
	SELECT string_agg(t.task_id, ',' ORDER BY h.version, t.task_id)
	  FROM mycelium.workflow_state_history h
	  JOIN mycelium.task_states t ON t.workflow_id = h.workflow_id AND t.task_no = h.task_no
	 WHERE h.workflow_id = '$wf{diamond}' AND h.status = 'completed'}),
	'A,B,C,D', 'in dependency order (history)');
ok(wait_for_status($coord, $wf{bob}, 'completed', 30), "bob's diamond completes");

ok(wait_for_status($coord, $wf{retry}, 'completed', 30), 'a task failing twice completes at its third attempt');
is($coord->safe_psql('postgres',
	"SELECT attempt FROM mycelium.tasks WHERE workflow_id = '$wf{retry}' AND task_id = 'A'"),
	'3', 'its attempt is 3');

ok(wait_for_status($coord, $wf{timeout}, 'failed', 30), 'a task over its timeout fails its workflow');
is(tasks($wf{timeout}), 'A:failed B:skipped', 'its dependent is skipped');
like($coord->safe_psql('postgres',
	"SELECT error FROM mycelium.tasks WHERE workflow_id = '$wf{timeout}' AND task_id = 'A'"),
	qr/timed out after 0.5 s/, 'the error says it timed out');

# cancel: alice cancels her running workflow through the coordinator
my $deadline = time + 30;
usleep(50_000) until tasks($wf{cancel}) =~ /A:running/ || time > $deadline;
as('alice', "SELECT mycelium.cancel_workflow('$wf{cancel}')");
ok(wait_for_status($coord, $wf{cancel}, 'cancelled', 30), 'alice cancels her running workflow');
$deadline = time + 30;
usleep(50_000) until tasks($wf{cancel}) eq 'A:cancelled B:cancelled' || time > $deadline;
is(tasks($wf{cancel}), 'A:cancelled B:cancelled', 'its running task and its dependent are cancelled');

ok(wait_for_status($coord, $wf{big}, 'completed', 120), 'a workflow of 1,000 tasks completes');
is($coord->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE status = 'completed') || '/' || count(*)
	  FROM mycelium.tasks WHERE workflow_id = '$wf{big}'}),
	'1000/1000', 'all its tasks completed');
is($coord->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE status = 'completed' AND task_no > 0) || ' '
		   || (count(DISTINCT version) = max(version))::text || ' '
		   || (max(version) = (SELECT version FROM mycelium.workflow_states WHERE workflow_id = '$wf{big}'))::text
	  FROM mycelium.workflow_state_history WHERE workflow_id = '$wf{big}'}),
	'1000 true true', 'its history: 1,000 completions, versions without gaps, the last one the workflow\'s');

# created and executed in one statement: the workflow is this transaction's
# own (it runs in the session), which the row's xmin cannot tell on a shard
is(as('alice', q{
	SELECT mycelium.execute_workflow(mycelium.create_workflow(jsonb_build_array(
		mycelium.task('A', 'a', 'test'), mycelium.task('B', 'b', 'test', dependencies => '{A}')),
		name => 'executed'))->>'status'}),
	'completed', 'execute_workflow(create_workflow(...)) runs the new workflow in the session');

# --- external agents ----------------------------------------------------
$wf{agents} = start('alice', 'agents', q{jsonb_build_array(
	mycelium.task('A', 'x', 'ext'), mycelium.task('B', 'y', 'ext'),
	mycelium.task('C', 'z', 'test', dependencies => '{A,B}'))});
is(as('bob', "SELECT count(*) FROM mycelium.claim_tasks('ext', 'bob-agent', 10, '30 s')"),
	'0', "bob's agent claims none of alice's tasks");
my $claimed = as('alice', "SELECT workflow_id || ' ' || task_id || ' ' || (ctx->'task'->>'task_id') FROM mycelium.claim_tasks('ext', 'agent-1', 1, '30 s')");
is($claimed, "$wf{agents} A A", "alice's agent claims her first task, with its ctx");
like(as('alice', "SELECT mycelium.heartbeat('$wf{agents}', 'A', 'agent-1', '{\"step\": 1}')"),
	qr/^\d{4}-/, 'heartbeats, and has its lease extended');
is(as('alice', "SELECT mycelium.complete_task('$wf{agents}', 'A', 'agent-1', '{\"done\": \"A\"}')"),
	'completed', 'and completes it');
is(as('alice', "SELECT task_id FROM mycelium.claim_tasks('ext', 'agent-2', 5, '30 s')"),
	'B', 'another agent claims the other');
is(as('alice', "SELECT status FROM mycelium.complete_tasks('agent-2', ARRAY['$wf{agents}']::uuid[], ARRAY['B'], ARRAY['{\"done\": \"B\"}'::jsonb])"),
	'completed', 'and completes it with complete_tasks');
ok(wait_for_status($coord, $wf{agents}, 'completed', 30),
	'the function task that waited for both runs, and the workflow completes');
is($coord->safe_psql('postgres',
	"SELECT result->>'done' FROM mycelium.tasks WHERE workflow_id = '$wf{agents}' AND task_id = 'A'"),
	'A', "the agent's result is stored");

# --- agent-type limits: one task of the type at a time ------------------
$coord->safe_psql('postgres', q{
	SELECT mycelium.register_executor('single', 'public.test_exec(jsonb)');
	SELECT mycelium.set_agent_type_limits('single', max_running => 1, rate => 50)});
$wf{limited} = start('alice', 'limited',
	q{(SELECT jsonb_agg(mycelium.task('t' || i, 'a', 'single', input => '{"sleep": 0.2}')) FROM generate_series(1, 4) i)});
ok(wait_for_status($coord, $wf{limited}, 'completed', 30), 'a workflow of an agent type limited to one running task completes');
is($coord->safe_psql('postgres', qq{
	SELECT max((SELECT count(*) FROM mycelium.tasks u WHERE u.workflow_id = t.workflow_id
				  AND u.started_at < t.finished_at AND u.finished_at > t.started_at))
	  FROM mycelium.tasks t WHERE t.workflow_id = '$wf{limited}'}),
	'1', 'its tasks ran one at a time');

is(as('alice', "SELECT mycelium.get_workflow('$wf{diamond}')->'tasks'->'D'->>'dependencies'"),
	'["B", "C"]', 'get_workflow reads a workflow with its tasks');

# --- signals ------------------------------------------------------------
# a signal sent before its task waits is kept, and delivered by the
# launcher once the workflow runs; a signal completes the task waiting for
# it; another role's signal is refused; a deadline fails a task
$wf{signals} = as('alice', q{SELECT mycelium.create_workflow(jsonb_build_array(
	mycelium.signal_task('S', 'go'), mycelium.signal_task('K', 'early'),
	mycelium.task('B', 'b', 'test', dependencies => '{S,K}')), name => 'signals')});
is(as('alice', "SELECT mycelium.signal('$wf{signals}', 'early', '{\"kept\": true}')"),
	'0', 'a signal sent before its task waits completes nothing yet');
as('alice', "SELECT mycelium.start_workflow('$wf{signals}')");
$deadline = time + 30;
usleep(50_000) until tasks($wf{signals}) =~ /K:completed/ || time > $deadline;
is(tasks($wf{signals}), 'B:pending K:completed S:ready',
	'the launcher delivers the kept signal once its task waits; the other task waits');
($rc, $out, $err) = $coord->psql('postgres', "SELECT mycelium.signal('$wf{signals}', 'go')",
	extra_params => [ '-U', 'bob', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/MY003: workflow $wf{signals} does not exist/,
	"bob's signal to alice's workflow is refused (MY003)");
is(tasks($wf{signals}), 'B:pending K:completed S:ready', 'and changes nothing');
is(as('alice', "SELECT mycelium.signal('$wf{signals}', 'go', '{\"x\": 1}')"),
	'1', "alice's signal completes the task waiting for it");
ok(wait_for_status($coord, $wf{signals}, 'completed', 30),
	'the task that waited for both runs, and the workflow completes');
is($coord->safe_psql('postgres', qq{
	SELECT string_agg(task_id || ' ' || result::text, ', ' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = '$wf{signals}' AND task_id IN ('K', 'S')}),
	'K {"kept": true}, S {"x": 1}', "each signal's payload is its task's result");
is(as('alice', qq{
	SELECT string_agg(name || ':' || sent_by::text || ':' || array_to_string(delivered_to, ','), ' ' ORDER BY signal_no)
	  FROM mycelium.workflow_signals WHERE workflow_id = '$wf{signals}'}),
	'early:alice:K go:alice:S', 'both signals are recorded as sent by alice and delivered');
$wf{deadline} = start('alice', 'deadline', q{jsonb_build_array(
	mycelium.signal_task('D', 'late', deadline => '0.5 s'),
	mycelium.task('B', 'b', 'test', dependencies => '{D}'))});
ok(wait_for_status($coord, $wf{deadline}, 'failed', 30),
	'a signal task whose deadline passes without its signal fails its workflow');
is($coord->safe_psql('postgres', qq{
	SELECT string_agg(task_id || ':' || status || ':' || coalesce(error_detail->>'error_type', '-'), ' ' ORDER BY task_id)
	  FROM mycelium.tasks WHERE workflow_id = '$wf{deadline}'}),
	'B:skipped:- D:failed:deadline', 'the task failed at its deadline (error_type deadline)');

# --- a workflow's history, timeline and statistics ----------------------
# the same workflows on a plain server: what the functions give of them
# (all but times) is what they give on Citus, where each of their
# statements goes to the workflow's shard group (checked with the others
# at the end)
my $plain = mycelium_node('plain');

# run_on(NODE, ROLE, SQL): runs SQL on NODE as ROLE; dies on an error
sub run_on
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

# described(NODE, WF): what workflow_history, workflow_timeline and
# workflow_stats say of WF on NODE (as alice), times and lengths left out;
# and what timing decides: a worker may hand back a task it claimed and
# did not start (a history row, the next dispatch of that task, and a
# rolled-back attempt more), so those are left out and the history's
# versions numbered again
sub described
{
	my ($node, $wf) = @_;
	return run_on($node, 'alice', qq{
		SELECT (SELECT string_agg(concat_ws(':', h.n, h.task_id, h.status, h.attempt, h.error, h.event,
						h.changed_by, h.error_detail), ' | ' ORDER BY h.n)
				  FROM (SELECT h.*, row_number() OVER (ORDER BY h.version, h.task_id NULLS FIRST) AS n
						  FROM (SELECT h.*, lag(h.event) OVER (PARTITION BY h.task_id ORDER BY h.version) AS before
								  FROM mycelium.workflow_history('$wf') h) h
						 WHERE h.event NOT LIKE 'handed back%'
						   AND coalesce(h.before, '') NOT LIKE 'handed back%') h)
			   || E'\\n' ||
			   (SELECT string_agg(concat_ws(':', task_id, attempt, outcome, error, error_detail,
						started_at <= finished_at), ' | ')
				  FROM mycelium.workflow_timeline('$wf') WHERE outcome <> 'rolled back')
			   || E'\\n' ||
			   (SELECT concat_ws(':', name, status, tasks, tasks_by_status, failure_rate,
						handoffs, events, agents, avg_duration IS NOT NULL)
				  FROM mycelium.workflow_stats('$wf'))});
}

my $retry_tasks = q{jsonb_build_array(
	mycelium.task('A', 'a', 'test', input => '{"fail_times": 2}', max_attempts => 3, initial_delay => 0.1),
	mycelium.task('B', 'b', 'test', dependencies => '{A}'))};
my $plain_retry = run_on($plain, 'alice', "SELECT mycelium.create_workflow($retry_tasks, name => 'retry')");
run_on($plain, 'alice', "SELECT mycelium.start_workflow('$plain_retry')");
ok(wait_for_status($plain, $plain_retry, 'completed', 30), 'the retried workflow completes on a plain server too');
my $described = described($coord, $wf{retry});
like($described, qr/\nA:1:retried:planned failure of attempt 1:.* \| A:2:retried:.* \| A:3:completed:t \| B:1:completed:t\n/,
	'workflow_timeline on Citus: the attempts of the retried task, how each ended');
like($described, qr/\nretry:completed:2:\{"completed": 2\}:0\.0000:0:0:\{a,b\}:t$/,
	'workflow_stats on Citus: its tasks by status, failure rate, handoffs, events and agents');
is($described, described($plain, $plain_retry),
	'workflow_history, workflow_timeline and workflow_stats give on Citus what they give on a plain server');
like($coord->safe_psql('postgres', "SELECT mycelium.workflow_graph('$wf{retry}', 'gantt')"),
	qr/attempt 2 retried .*attempt 3 completed/s, 'workflow_graph draws its timeline');

# --- rollback_workflow ---------------------------------------------------
# a workflow whose tasks sit on a worker: A and B completed, C waiting
# for an agent; paused, returned to the version at which A completed,
# resumed, and run to its end; the same on the plain server
my $rollback_tasks = q{jsonb_build_array(
	mycelium.task('A', 'a', 'test'), mycelium.task('B', 'b', 'test', dependencies => '{A}'),
	mycelium.task('C', 'c', 'ext', dependencies => '{B}'))};
$plain->safe_psql('postgres', "SELECT mycelium.register_executor('ext', NULL)");
my %rolled;
for my $node ($coord, $plain)
{
	my $n = $node->name;
	my $wf = run_on($node, 'alice', "SELECT mycelium.create_workflow($rollback_tasks, name => 'rollback')");
	my $states = sub {
		run_on($node, 'alice', "SELECT string_agg(task_id || ':' || status, ' ' ORDER BY task_id) FROM mycelium.tasks WHERE workflow_id = '$wf'");
	};
	run_on($node, 'alice', "SELECT mycelium.start_workflow('$wf')");
	$deadline = time + 30;
	usleep(50_000) until $states->() eq 'A:completed B:completed C:ready' || time > $deadline;
	is($states->(), 'A:completed B:completed C:ready', "$n: A and B complete, C waits for an agent");
	run_on($node, 'alice', "SELECT mycelium.pause_workflow('$wf')");
	my $target = run_on($node, 'alice', "SELECT version FROM mycelium.workflow_history('$wf') WHERE task_id = 'A' AND status = 'completed'");
	my $version = run_on($node, 'alice', "SELECT mycelium.rollback_workflow('$wf', $target)");
	is($states->(), 'A:completed B:ready C:pending', "$n: rollback_workflow returns the tasks to their state at the version A completed");
	is(run_on($node, 'alice', qq{
		SELECT string_agg(coalesce(task_id, '-') || ':' || status || ':' || changed_by::text, ' ' ORDER BY task_id NULLS FIRST)
		  FROM mycelium.workflow_history('$wf') WHERE version = $version}),
		"-:paused:alice B:ready:alice C:pending:alice",
		"$n: the new version records the workflow, paused, and the tasks that changed, by alice");
	run_on($node, 'alice', "SELECT mycelium.resume_workflow('$wf')");
	$deadline = time + 30;
	usleep(50_000) until $states->() eq 'A:completed B:completed C:ready' || time > $deadline;
	is(run_on($node, 'alice', "SELECT task_id FROM mycelium.claim_tasks('ext', 'agent-3', 5, '30 s')"),
		'C', "$n: resumed, B runs again and C waits for an agent again");
	run_on($node, 'alice', "SELECT mycelium.complete_task('$wf', 'C', 'agent-3', '{}')");
	ok(wait_for_status($node, $wf, 'completed', 30), "$n: the rolled back workflow completes");
	$rolled{$n} = described($node, $wf);
	$wf{rollback} = $wf if $node == $coord;
}
is($rolled{coordinator}, $rolled{plain},
	'the rolled back workflow has on Citus the history, timeline and statistics it has on a plain server');
$plain->stop;

# --- agent_type_stats ----------------------------------------------------
# alice's three tasks of the external type, one of them claimed
$wf{fleet} = start('alice', 'fleet',
	q{(SELECT jsonb_agg(mycelium.task('x' || i, 'x', 'ext')) FROM generate_series(1, 3) i)});
as('alice', "SELECT count(*) FROM mycelium.claim_tasks('ext', 'agent-4', 1, '10 min')");
my $type_stats = "SELECT agent_type || ':' || external || ':' || ready || ':' || running || ':' || lapsed_leases
	|| ':' || completed_last_hour || ':' || failed_last_hour || ':' || (oldest_ready_age >= interval '0')
	FROM mycelium.agent_type_stats WHERE agent_type = 'ext'";
is(as('alice', $type_stats), 'ext:true:2:1:0:3:0:true',
	"agent_type_stats as alice: her external type's ready and running tasks, and those completed in the last hour");
is(as('bob', $type_stats), 'ext:true:0:0:0:0:0:true', 'as bob: none of them');
is(as('alice', q{
	SELECT (s.completed_last_hour = (SELECT count(*) FROM mycelium.tasks t
									  WHERE t.agent_type = 'test' AND t.status = 'completed'))::text
		   || ' ' || (s.failed_last_hour = (SELECT count(*) FROM mycelium.tasks t
											 WHERE t.agent_type = 'test' AND t.status = 'failed'))::text
		   || ' ' || (s.p50_ms > 0)::text
	  FROM mycelium.agent_type_stats s WHERE s.agent_type = 'test'}),
	'true true true', "and of the executors' type, every task of alice's that completed or failed");

# a workflow's priority: its ready tasks move in the order by the change
my $ranks = "SELECT string_agg(priority || ':' || extract(epoch FROM ready_rank)::numeric(20, 3), ' ' ORDER BY task_no)
	FROM mycelium.task_states WHERE workflow_id = '$wf{fleet}' AND status = 'ready'";
my $before = $coord->safe_psql('postgres', $ranks);
as('alice', "SELECT mycelium.set_workflow_priority('$wf{fleet}', 5)");
my $aging = $coord->safe_psql('postgres', "SELECT extract(epoch FROM current_setting('mycelium.priority_aging')::interval)");
is($coord->safe_psql('postgres', $ranks),
	join(' ', map { my ($p, $r) = split /:/; sprintf('5:%.3f', $r - 5 * $aging) } split / /, $before),
	'set_workflow_priority: the ready tasks take the priority, their ranks 5 times priority_aging earlier');
as('alice', "SELECT mycelium.cancel_workflow('$wf{fleet}')");

# --- two roles kept apart -----------------------------------------------
for my $n ($coord, $workers[0])
{
	is($n->safe_psql('postgres',
		"SELECT string_agg(name, ',' ORDER BY name) FROM mycelium.workflows",
		extra_params => [ '-U', 'bob' ]), 'bob-diamond', $n->name . ': bob sees his workflow only');
	is($n->safe_psql('postgres',
		"SELECT count(*) FROM mycelium.workflows WHERE name = 'bob-diamond'",
		extra_params => [ '-U', 'alice' ]), '0', $n->name . ": alice does not see bob's");
	is($n->safe_psql('postgres',
		"SELECT count(*) FROM mycelium.tasks WHERE workflow_id = '$wf{big}'",
		extra_params => [ '-U', 'alice' ]), '1000', $n->name . ': alice sees her tasks');
}
($rc, $out, $err) = $coord->psql('postgres', "SELECT mycelium.cancel_workflow('$wf{cancel}')",
	extra_params => [ '-U', 'bob', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/MY003: workflow $wf{cancel} does not exist/,
	"alice's workflow does not exist for bob's API calls (MY003)");
is($workers[1]->safe_psql('postgres', q{
	SELECT count(*) FROM pg_policies WHERE schemaname = 'mycelium' AND qual LIKE '%SELECT%'}),
	'0', "the workers' copies of the tables have the policies without sub-selects");

# a reference table's rows, written and deleted by a role: on every node
as('alice', "SELECT mycelium.create_template('alice-template', $diamond)");
my $templates_shard = $coord->safe_psql('postgres',
	"SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'mycelium.workflow_templates'::regclass");
is(join(',', map { $_->safe_psql('postgres',
	"SELECT owner::text FROM mycelium.workflow_templates_$templates_shard WHERE name = 'alice-template'") }
	($coord, @workers)), 'alice,alice,alice', "alice's template is hers on every node");
as('alice', "SELECT mycelium.drop_template('alice-template')");
is(join(',', map { $_->safe_psql('postgres',
	"SELECT count(*) FROM mycelium.workflow_templates_$templates_shard") } ($coord, @workers)),
	'0,0,0', 'and dropped from every node');

# --- where the rows are -------------------------------------------------
# placement(WF): the port of the worker that holds the shard of WF's row in
# table T, and the shard's id
sub placement
{
	my ($table, $wf) = @_;
	return split /\|/, $coord->safe_psql('postgres', qq{
		SELECT p.nodeport || '|' || p.shardid FROM pg_dist_shard_placement p
		 WHERE p.shardid = get_shard_id_for_distribution_column('mycelium.$table', '$wf')});
}
my ($port, $shard) = placement('task_states', $wf{big});
my ($holder) = grep { $_->port == $port } @workers;
my ($other) = grep { $_->port != $port } @workers;
ok(defined $holder, 'the 1,000-task workflow is on a worker');
is($holder->safe_psql('postgres',
	"SELECT count(*) FROM mycelium.task_states_$shard WHERE workflow_id = '$wf{big}'"),
	'1000', "its 1,000 task rows are in that worker's shard");
is(join(',', map { (placement($_, $wf{big}))[0] } qw(workflow_states task_ids workflow_state_history)),
	"$port,$port,$port", 'its other rows are in the same worker (co-located shards)');
is($other->safe_psql('postgres',
	"SELECT count(*) FROM pg_class WHERE relname = 'task_states_$shard'"),
	'0', 'the other worker has no copy of that shard');
my %ports;
$ports{(placement('workflow_states', $_))[0]}++ for values %wf;
is(scalar(keys %ports), 2, 'the workflows of the test are spread over both workers');

# --- each node stores its own OID of a role -----------------------------
for my $w (@workers)
{
	is($w->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM mycelium.workflow_states WHERE owner::oid NOT IN (SELECT oid FROM pg_roles))
			 + (SELECT count(*) FROM mycelium.task_states WHERE owner::oid NOT IN (SELECT oid FROM pg_roles))
			 + (SELECT count(*) FROM mycelium.workflow_state_history
				 WHERE owner::oid NOT IN (SELECT oid FROM pg_roles)
				    OR changed_by::oid NOT IN (SELECT oid FROM pg_roles))
			 + (SELECT count(*) FROM mycelium.workflow_signals
				 WHERE owner::oid NOT IN (SELECT oid FROM pg_roles)
				    OR sent_by::oid NOT IN (SELECT oid FROM pg_roles))}),
		'0', $w->name . ': every owner, changed_by and sent_by in its shards is a role of that worker');
	is($w->safe_psql('postgres', qq{
		SELECT string_agg(DISTINCT owner::text, ',') FROM mycelium.task_states WHERE workflow_id = '$wf{big}'}),
		'alice', $w->name . ": and alice's tasks are alice's there, read through it");
}

# --- every statement that writes or locks rows reached one shard --------
# Citus logs each statement it runs as several tasks, with the statement
# (its lines after the first begin with a tab)
my @multi;
my $log = slurp_file($coord->logfile, $log_from);
while ($log =~ /multi-task query about to be executed\n(?:.*HINT:.*\n)?(?:.*(?:CONTEXT|STATEMENT):\s+(?:SQL statement ")?(.*(?:\n\t.*)*)\n)?/g)
{
	(my $statement = $1 // '') =~ s/\s+/ /g;
	push @multi, $statement;
}
ok(@multi > 0, scalar(@multi) . ' statements ran on several shards (those that look across workflows)');
# (a statement about one workflow names it as a parameter, or in the
# catalog's PL/pgSQL functions as their argument)
my @bad = grep { /\b(UPDATE|INSERT|DELETE)\b|FOR (NO KEY )?UPDATE|FOR (KEY )?SHARE|workflow_id = \$\d+\b(?! *\))|workflow_id = (?:workflow_(?:history|timeline|stats)\.workflow_id|wf_id)\b/ } @multi;
is(scalar(@bad), 0, 'none of them writes or locks rows, or is about one workflow: those are routed to its shard group')
  or diag(join("\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]));

# --- purge_workflows and delete_workflow --------------------------------
my $rows_of = sub {
	my ($wf) = @_;
	$coord->safe_psql('postgres', 'SELECT ' . join(' || \',\' || ', map {
		"(SELECT count(*) FROM mycelium.$_ WHERE workflow_id = '$wf')" }
		qw(workflow_states task_states task_ids workflow_state_history handoffs workflow_events
		   workflow_signals)));
};
isnt($rows_of->($wf{diamond}), '0,0,0,0,0,0,0', 'a finished workflow has rows in the distributed tables');
my $finished = as('alice', "SELECT count(*) FROM mycelium.workflows WHERE status IN ('completed', 'failed', 'cancelled')");
is(as('alice', "CALL mycelium.purge_workflows(older_than => '0 s', batch_size => 3)"),
	$finished, "purge_workflows through the coordinator removes alice's $finished finished workflows, 3 at a time");
is($rows_of->($wf{diamond}) . ' ' . $rows_of->($wf{big}), '0,0,0,0,0,0,0 0,0,0,0,0,0,0',
	'with their rows in every table');
is($coord->safe_psql('postgres', 'SELECT string_agg(name, \',\') FROM mycelium.workflows'),
	'bob-diamond', "bob's workflow stays");
$coord->safe_psql('postgres', "SELECT mycelium.delete_workflow('$wf{bob}')");
is($rows_of->($wf{bob}), '0,0,0,0,0,0,0', 'delete_workflow removes a workflow from every table');

done_testing();
