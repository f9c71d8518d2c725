# Tasks run by the scheduler's workers run as the workflow's owner and
# never with more rights: an executor records current_user and
# session_user; executors that try to read a superuser's table, SET ROLE,
# RESET ROLE, SET SESSION AUTHORIZATION, set_config('role'), COPY TO
# PROGRAM, ALTER ROLE, write mycelium's tables, create temporary objects,
# call a function they may not execute or touch another role's workflow
# fail as the owner would.  An agent type taken over by another role
# after a workflow was defined does not run that role's code as the owner.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = mycelium_node('security');
$node->safe_psql('postgres', q{
	CREATE TABLE public.secret (x text);
	INSERT INTO public.secret VALUES ('for the superuser only');
	REVOKE ALL ON public.secret FROM PUBLIC;
	CREATE FUNCTION public.su_only() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
	REVOKE EXECUTE ON FUNCTION public.su_only() FROM PUBLIC;
	-- who ran each attempt that completed (a failed attempt's rows are undone)
	CREATE TABLE public.seen (task text, cur name, sess name, cur_is_super boolean);
	GRANT INSERT, SELECT ON public.seen TO PUBLIC;
	-- probe: records who it runs as, then runs input.try
	CREATE FUNCTION public.probe(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.seen VALUES (ctx->'task'->>'task_id', current_user, session_user,
			(SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
		IF ctx->'task'->'input'->>'try' IS NOT NULL THEN
			EXECUTE ctx->'task'->'input'->>'try';
		END IF;
		RETURN jsonb_build_object('ran_as', current_user);
	END $$;
	GRANT EXECUTE ON FUNCTION public.probe(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('probe', 'public.probe(jsonb)');
});

# alice's workflow, which bob's executor will try to cancel
my $alice_wf = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT mycelium.create_workflow('[{"task_id": "a", "agent_id": "x", "agent_type": "probe"}]');});

my %tries = (
	whoami => undef,
	read_secret => 'SELECT * FROM public.secret',
	set_role => 'SET ROLE postgres',
	reset_role => 'RESET ROLE',
	set_session => 'SET SESSION AUTHORIZATION postgres',
	set_config_role => q{SELECT set_config('role', 'postgres', false)},
	copy_program => q{COPY (SELECT 1) TO PROGRAM 'true'},
	alter_role => 'ALTER ROLE bob SUPERUSER',
	write_catalog => q{UPDATE mycelium.task_states SET status = 'completed'},
	temp_table => 'CREATE TEMP TABLE t (x int)',
	definer => 'SELECT public.su_only()',
	others_workflow => "SELECT mycelium.cancel_workflow('$alice_wf')",);
my %expect = (
	read_secret => qr/permission denied for table secret/,
	set_role => qr/cannot set parameter "role" within security-(?:definer function|restricted operation)/,
	reset_role => qr/cannot set parameter "role" within security-(?:definer function|restricted operation)/,
	set_session => qr/cannot set parameter "session_authorization" within security-(?:definer function|restricted operation)/,
	set_config_role => qr/cannot set parameter "role" within security-(?:definer function|restricted operation)/,
	copy_program => qr/permission denied to COPY to or from an external program|must be superuser/,
	alter_role => qr/permission denied|must be superuser/,
	write_catalog => qr/permission denied for table task_states/,
	temp_table => qr/cannot create temporary table within security-(?:definer function|restricted operation)/,
	definer => qr/permission denied for function su_only/,
	others_workflow => qr/workflow [0-9a-f-]+ does not exist/,);

my $tasks = join(', ', map {
	my $try = defined $tries{$_} ? "\$q\$$tries{$_}\$q\$" : 'null';
	"mycelium.task('$_', 'x', 'probe', max_attempts => 1, allow_failure => true, "
	  . "input => jsonb_build_object('try', ${try}::text))"
} sort keys %tries);
my $wf = $node->safe_psql('postgres', qq{
	SET ROLE bob;
	SELECT mycelium.create_workflow(jsonb_build_array($tasks));});
$node->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$wf')");
ok(wait_for_status($node, $wf, 'completed'), 'the probing workflow finished');

my $super = $node->safe_psql('postgres', 'SELECT current_user');
is( $node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s %s', task, cur, sess, cur_is_super), ',') FROM seen}),
	"whoami bob $super f",
	'the worker ran the task as bob (current_user), no superuser; session_user is the worker\'s own connection');
is( $node->safe_psql('postgres', "SELECT status || ' ' || (result->>'ran_as') FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = 'whoami'"),
	'completed bob', 'its result says so too');
for my $task (sort keys %expect)
{
	my $row = $node->safe_psql('postgres',
		"SELECT status || ': ' || error FROM mycelium.tasks WHERE workflow_id = '$wf' AND task_id = '$task'");
	like($row, qr/^failed: /, "$task failed");
	like($row, $expect{$task}, "$task: refused as bob would be");
}
is( $node->safe_psql('postgres', "SELECT status FROM mycelium.workflows WHERE workflow_id = '$alice_wf'"),
	'pending', 'alice\'s workflow was not cancelled by bob\'s executor');
is( $node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'bob'}),
	'f', 'bob is no superuser');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.secret'), '1', 'the secret table is intact');

# bob defines a workflow with his own agent type; before it runs, he
# unregisters it and alice takes the name over with code of her own.  The
# worker refuses to run alice's code as bob.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.steal(ctx jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.seen VALUES ('stolen', current_user, session_user, false);
		RETURN '"stolen"';
	END $$;
	GRANT EXECUTE ON FUNCTION public.steal(jsonb) TO PUBLIC;});
$node->safe_psql('postgres',
	q{SET ROLE bob; SELECT mycelium.register_executor('bob-type', 'public.probe(jsonb)');});
my $swap = $node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT mycelium.create_workflow(jsonb_build_array(
		mycelium.task('t', 'x', 'bob-type', max_attempts => 1)));});
$node->safe_psql('postgres', q{
	SET ROLE bob;
	SELECT mycelium.unregister_executor('bob-type');
	SET ROLE alice;
	SELECT mycelium.register_executor('bob-type', 'public.steal(jsonb)');});
$node->safe_psql('postgres', "SET ROLE bob; SELECT mycelium.start_workflow('$swap')");
ok(wait_for_status($node, $swap, 'failed'), 'the workflow whose agent type was taken over failed');
like(
	$node->safe_psql('postgres', "SELECT error FROM mycelium.tasks WHERE workflow_id = '$swap'"),
	qr/agent type "bob-type" is registered by role "alice", whose executor may not run as role "bob"/,
	'its task names the reason');
is($node->safe_psql('postgres', q{SELECT count(*) FROM seen WHERE task IN ('t', 'stolen')}),
	'0', 'neither alice\'s nor any code ran for it');

# an administrator (no superuser) cannot make its code run as alice either
$node->safe_psql('postgres', q{
	CREATE ROLE boss LOGIN IN ROLE mycelium_admin;
	SET ROLE boss;
	SELECT mycelium.register_executor('boss-type', 'public.steal(jsonb)');});
my ($rc, $out, $err) = $node->psql('postgres', qq{
	SET ROLE boss;
	SELECT mycelium.add_tasks('$alice_wf', '[{"task_id": "b", "agent_id": "x", "agent_type": "boss-type"}]');});
like($err, qr/agent type "boss-type" is registered by role "boss", whose executor may not run as role "alice"/,
	'an administrator cannot add tasks running its own executor to alice\'s workflow');

$node->stop;
done_testing();
