# The fault campaign: while mixed workflows of thousands of tasks run
# (fan-outs, chains, diamonds, retries, allow_failure, a workflow that
# fails, and external-agent tasks served by examples/agent.py), it
# repeatedly injects faults:
#   - kill -9 of an executor worker running an attempt,
#   - kill -9 of the launcher,
#   - kill -9 of the postmaster (then the node is restarted),
#   - a timeout cancelling tasks mid-run: the executor's lock_timeout
#     (the test holds a lock the tasks need), the tasks' own timeout, and
#     the statement_timeout of the external agent's role (the test holds
#     the workflow's row, so the agent's report is cancelled mid-call),
#   - a full disk: the effects table and the scheduler's history live in a
#     tablespace on a small tmpfs, which the test fills up (real ENOSPC),
#     then frees,
# and after each fault checks the invariants: no workflow lost,
# exactly-once effects of function tasks (one committed effect row per
# completed task, from its completing attempt; none for any other
# attempt), versions 1..n without gaps, attempt counts consistent with
# history (every attempt claimed once, net of claims handed back
# unstarted, and, unless still running, ended or handed back);
# after each round, every task terminal within a bound and every workflow
# ending as it should.
#
# The tmpfs is mounted in an unprivileged user and mount namespace that a
# keeper process holds; the postmaster is started inside it (a pg_ctl
# wrapper first on PATH), so it survives restarts.  Without user
# namespaces the disk-full fault is skipped, said so.
#
# FAULT_ROUNDS (default 2) sets the number of rounds; a round injects one
# fault of each kind, each into a fresh wave of six workflows (375 tasks)
# started just before it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;

my $rounds = $ENV{FAULT_ROUNDS} // 2;
my $tiny_mb = $ENV{FAULT_TINY_MB} // 48;

# --- the small disk: a tmpfs in a namespace the postmaster runs in ------
my $tiny = PostgreSQL::Test::Utils::tempdir('tiny');
my ($kout, $kerr) = ('', '');
my $keeper = IPC::Run::start(
	[ 'unshare', '-Urm', 'sh', '-c',
	  "mount -t tmpfs -o size=${tiny_mb}m tmpfs '$tiny' && echo \$\$ && exec sleep 86400" ],
	'>', \$kout, '2>', \$kerr);
my $deadline = time + 10;
while ($kout !~ /^\d+\n/ && $keeper->pumpable && time < $deadline)
{
	$keeper->pump_nb;
	usleep(20_000);
}
my ($keeper_pid) = $kout =~ /^(\d+)\n/;
END { kill 'KILL', $keeper_pid if $keeper_pid; }
if ($keeper_pid)
{
	my ($real) = grep { -x "$_/pg_ctl" } split /:/, $ENV{PATH};
	my $wrap = PostgreSQL::Test::Utils::tempdir('wrap');
	my $gid = (split ' ', $()[0];
	open my $fh, '>', "$wrap/pg_ctl" or die;
	# starts: root in the keeper's namespace (our own uid outside), then
	# our own uid again in a nested one, as the server refuses to run as
	# root; anything else (stop) just signals
	print $fh "#!/bin/sh\ncase \" \$* \" in *' start '*)\n"
	  . "  exec nsenter -t $keeper_pid -U -m --preserve-credentials -- "
	  . "unshare -U --map-user=$> --map-group=$gid -- $real/pg_ctl \"\$\@\";;\n"
	  . "esac\nexec $real/pg_ctl \"\$\@\"\n";
	close $fh;
	chmod 0755, "$wrap/pg_ctl";
	$ENV{PATH} = "$wrap:$ENV{PATH}";
}
else
{
	diag("no user namespaces here ($kerr): the disk-full fault is skipped");
}

# a crashed child takes the server through a crash restart, as in production
# workers come and go: up to 4, and those idle for a second leave
my $node = mycelium_node('fault', 'mycelium.batch_size = 16', 'restart_after_crash = on',
	'mycelium.max_workers = 4', 'mycelium.worker_idle_timeout = 1s');
$node->safe_psql('postgres', q{
	CREATE ROLE fx_agent LOGIN IN ROLE mycelium_admin;
	-- an external agent whose statements may take at most 300 ms
	ALTER ROLE fx_agent SET statement_timeout = '300ms';
	CREATE TABLE public.created (wf uuid PRIMARY KEY, round int, kind text, expect text);
	-- one row per attempt, written by the attempt: committed only with
	-- the task's completion
	CREATE TABLE public.fx (workflow_id uuid, task_id text, attempt int, pad text);
	CREATE TABLE public.gate ();
	GRANT ALL ON public.created, public.fx TO PUBLIC;
	GRANT SELECT ON public.gate TO PUBLIC;
	-- input: {"fail_times": n, "slow_first": s, "sleep": s (0.02 by
	-- default)}; the effect is written first,
	-- so a fault while it sleeps or fails must undo it
	CREATE FUNCTION public.fx_exec(ctx jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		inp jsonb := coalesce(ctx->'task'->'input', '{}');
		att int := (ctx->>'attempt')::int;
	BEGIN
		PERFORM set_config('lock_timeout', '100ms', true);
		INSERT INTO public.fx VALUES ((ctx->>'workflow_id')::uuid,
			ctx->'task'->>'task_id', att, repeat('x', 500));
		PERFORM FROM public.gate;
		PERFORM pg_sleep(CASE WHEN att = 1 AND inp ? 'slow_first'
			THEN (inp->>'slow_first')::float8
			ELSE coalesce((inp->>'sleep')::float8, 0.02) END);
		IF att <= coalesce((inp->>'fail_times')::int, 0) THEN
			RAISE EXCEPTION 'planned failure of attempt %', att;
		END IF;
		RETURN jsonb_build_object('attempt', att);
	END $$;
	GRANT EXECUTE ON FUNCTION public.fx_exec(jsonb) TO PUBLIC;
	SELECT mycelium.register_executor('fx', 'public.fx_exec(jsonb)');
	SELECT mycelium.register_executor('ext', NULL);
});
if ($keeper_pid)
{
	$node->safe_psql('postgres', qq{
		CREATE TABLESPACE tiny LOCATION '$tiny';
		CREATE TABLE public.ballast (pad text) TABLESPACE tiny;
		ALTER TABLE public.fx SET TABLESPACE tiny;
		ALTER TABLE mycelium.workflow_state_history SET TABLESPACE tiny;
	});
}

my %faults;					# kind => times injected
my %hits;					# evidence that a fault did what it should
my $checks = 0;				# invariant checks passed
my $log_offset = 0;

# sql(QUERY): its output, retrying while the server is restarting
# try_psql(Q): $node->psql's ($rc, $out, $err), where a psql that exits
# before it has read its query (a server restarting after a crash refuses
# the connection at once), which IPC::Run reports by dying of the broken
# pipe, is a failed query to try again
sub try_psql
{
	my ($q) = @_;
	my @result = eval { $node->psql('postgres', $q) };
	return @result ? @result : (1, '', "psql died: $@");
}

sub sql
{
	my ($q) = @_;
	my $end = time + 90;
	while (1)
	{
		my ($rc, $out, $err) = try_psql($q);
		return $out if $rc == 0;
		die "query failed: $err" if time > $end;
		usleep(200_000);
	}
}

# --- the external agent (restarted when a crash takes its connection) ----
my $agent_py = "$FindBin::RealBin/../../examples/agent.py";
my ($agent, $agent_err, $agent_log) = (undef, '', '');
sub ensure_agent
{
	# pumping reaps an agent that exited (a crash took its connection)
	return if $agent && eval { $agent->pump_nb; 1 } && $agent->pumpable;
	if ($agent)
	{
		$agent->finish;
		$agent_log .= $agent_err;
	}
	$agent_err = '';
	my $dsn = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=fx_agent';
	$agent = IPC::Run::start(
		[ '/usr/bin/python3', $agent_py, '--dsn', $dsn, '--agent-type', 'ext',
		  '--worker-id', 'fx-agent', '--batch', '5', '--lease', '2', '--poll', '1' ],
		'>', \my $o, '2>', \$agent_err);
}
sub agent_text { eval { $agent->pump_nb } if $agent; return $agent_log . $agent_err; }

# --- the workflows of a round -------------------------------------------
my $retry = 'max_attempts => 10, initial_delay => 0.1, max_delay => 0.5';
sub create_wave
{
	my ($r) = @_;
	my %wfs = (
		fan => qq{(SELECT jsonb_agg(t) FROM (
			SELECT mycelium.task('root', 'a', 'fx', $retry) t
			UNION ALL SELECT mycelium.task('l' || i, 'a', 'fx', $retry, dependencies => '{root}',
				input => jsonb_build_object('fail_times', (i % 7 = 0)::int)) FROM generate_series(1, 100) i
			UNION ALL SELECT mycelium.task('join', 'a', 'fx', $retry,
				dependencies => (SELECT array_agg('l' || i) FROM generate_series(1, 100) i))) s)},
		chain => qq{(SELECT jsonb_agg(mycelium.task('c' || i, 'a', 'fx', $retry,
				dependencies => CASE WHEN i > 1 THEN ARRAY['c' || (i - 1)] ELSE '{}' END))
			FROM generate_series(1, 30) i)},
		diamonds => qq{(SELECT jsonb_agg(t) FROM generate_series(1, 10) i, LATERAL (VALUES
			(mycelium.task('a' || i, 'a', 'fx', $retry,
				dependencies => CASE WHEN i > 1 THEN ARRAY['d' || (i - 1)] ELSE '{}' END)),
			(mycelium.task('b' || i, 'a', 'fx', $retry, dependencies => ARRAY['a' || i],
				input => '{"fail_times": 1}')),
			(mycelium.task('c' || i, 'a', 'fx', $retry, dependencies => ARRAY['a' || i])),
			(mycelium.task('d' || i, 'a', 'fx', $retry, dependencies => ARRAY['b' || i, 'c' || i]))) v(t))},
		# every 10th task times out once mid-run; every 13th fails for good,
		# allowed; the others are quick, so workers claim several at once
		# and hand back those they claimed behind a slow one
		indep => qq{(SELECT jsonb_agg(CASE
			WHEN i % 13 = 0 THEN mycelium.task('i' || i, 'a', 'fx', max_attempts => 2,
				initial_delay => 0.1, allow_failure => true, input => '{"fail_times": 99}')
			WHEN i % 10 = 0 THEN mycelium.task('i' || i, 'a', 'fx', $retry, timeout => 0.3,
				input => '{"slow_first": 1.0}')
			ELSE mycelium.task('i' || i, 'a', 'fx', $retry, input => '{"sleep": 0.002}') END)
			FROM generate_series(1, 120) i)},
		mixed => qq{(SELECT jsonb_agg(t) FROM generate_series(1, 15) i, LATERAL (VALUES
			(mycelium.task('p' || i, 'a', 'fx', $retry)),
			(mycelium.task('e' || i, 'a', 'ext', $retry, dependencies => ARRAY['p' || i],
				input => jsonb_build_object('sleep', 0.1, 'fail_attempts', (i % 5 = 0)::int))),
			(mycelium.task('q' || i, 'a', 'fx', $retry, dependencies => ARRAY['e' || i]))) v(t))},
		# t20 fails for good: the workflow fails, the rest is cancelled or skipped
		failing => qq{(SELECT jsonb_agg(CASE WHEN i = 20
			THEN mycelium.task('t' || i, 'a', 'fx', max_attempts => 2, initial_delay => 0.1,
				input => '{"fail_times": 99}')
			ELSE mycelium.task('t' || i, 'a', 'fx', $retry) END) FROM generate_series(1, 40) i)},
	);
	my $sql = "SET ROLE alice;\n";
	for my $kind (sort keys %wfs)
	{
		my $expect = $kind eq 'failing' ? 'failed' : 'completed';
		my $par = $kind eq 'failing' ? 4 : 50;
		$sql .= "INSERT INTO public.created SELECT mycelium.create_workflow($wfs{$kind}, "
		  . "max_parallel_tasks => $par, name => '$kind $r'), $r, '$kind', '$expect';\n";
	}
	$sql .= "SELECT mycelium.start_workflow(wf) FROM public.created c\n"
	  . " JOIN mycelium.workflows w ON w.workflow_id = c.wf WHERE c.round = $r AND w.status = 'pending';\n";
	sql($sql);
}

# --- the invariants -----------------------------------------------------
my %invariants = (
	'no workflow lost' => q{
		SELECT count(*) FROM public.created c
		 WHERE NOT EXISTS (SELECT 1 FROM mycelium.workflow_states w WHERE w.workflow_id = c.wf)},
	'exactly-once effects' => q{
		SELECT count(*) FROM mycelium.task_states t
		  JOIN public.created c ON c.wf = t.workflow_id
		  LEFT JOIN (SELECT workflow_id, task_id, count(*) n, max(attempt) a FROM public.fx
		              GROUP BY 1, 2) f ON f.workflow_id = t.workflow_id AND f.task_id = t.task_id
		 WHERE t.agent_type = 'fx' AND CASE WHEN t.status = 'completed'
		       THEN f.n IS DISTINCT FROM 1 OR f.a <> t.attempt ELSE f.n IS NOT NULL END},
	'versions consecutive' => q{
		SELECT count(*) FROM (
		  SELECT w.version, min(h.version) lo, max(h.version) hi, count(DISTINCT h.version) n
		    FROM mycelium.workflow_states w JOIN public.created c ON c.wf = w.workflow_id
		    JOIN mycelium.workflow_state_history h ON h.workflow_id = w.workflow_id
		   GROUP BY w.workflow_id, w.version) v
		 WHERE lo <> 1 OR hi <> version OR n <> hi},
	# the catalog tables have no CHECK constraints (src/sql/10_catalog.sql):
	# the counters must match the tasks, and nothing may count below 0
	'counters match tasks' => q{
		SELECT count(*) FROM mycelium.workflow_states w JOIN public.created c ON c.wf = w.workflow_id
		  JOIN (SELECT workflow_id, count(*) n, min(attempt) a, min(deps_pending) d, min(task_no) k,
		               count(*) FILTER (WHERE status IN ('pending', 'ready', 'running')) open,
		               count(*) FILTER (WHERE status = 'running') running
		          FROM mycelium.task_states GROUP BY 1) t ON t.workflow_id = w.workflow_id
		 WHERE w.task_count <> t.n OR w.tasks_open <> t.open OR w.tasks_running <> t.running
		    OR w.version < 1 OR t.a < 0 OR t.d < 0 OR t.k < 1},
	# every attempt 1..attempt claimed once, net of claims handed back
	# unstarted or released by an agent (a hand-back is a 'ready' row at
	# the attempt before)
	'attempts match history' => q{
		SELECT count(*) FROM mycelium.task_states t JOIN public.created c ON c.wf = t.workflow_id
		  LEFT JOIN (SELECT workflow_id, task_no, count(*) FILTER (WHERE net = 1) claimed,
		                    max(k) FILTER (WHERE net = 1) top, count(*) FILTER (WHERE net NOT IN (0, 1)) bad
		               FROM (SELECT workflow_id, task_no,
		                            attempt + CASE WHEN status = 'running' THEN 0 ELSE 1 END k,
		                            sum(CASE WHEN status = 'running' THEN 1 ELSE -1 END) net
		                       FROM mycelium.workflow_state_history
		                      WHERE status = 'running' OR event LIKE 'handed back:%'
		                         OR event LIKE 'released by %'
		                      GROUP BY 1, 2, 3) a
		              GROUP BY 1, 2) h ON h.workflow_id = t.workflow_id AND h.task_no = t.task_no
		 WHERE coalesce(h.claimed, 0) <> t.attempt OR coalesce(h.top, 0) <> t.attempt
		    OR coalesce(h.bad, 0) <> 0 OR t.attempt > t.max_attempts},
	'every ended attempt recorded' => q{
		SELECT count(*) FROM mycelium.workflow_state_history r
		  JOIN public.created c ON c.wf = r.workflow_id
		  JOIN mycelium.task_states t ON t.workflow_id = r.workflow_id AND t.task_no = r.task_no
		 WHERE r.status = 'running' AND NOT (t.status = 'running' AND t.attempt = r.attempt)
		   AND NOT EXISTS (SELECT 1 FROM mycelium.workflow_state_history e
		                    WHERE e.workflow_id = r.workflow_id AND e.task_no = r.task_no
		                      AND e.version > r.version AND e.status <> 'running'
		                      AND (e.attempt = r.attempt
		                           OR e.attempt = r.attempt - 1
		                              AND (e.event LIKE 'handed back:%'
		                                   OR e.event LIKE 'released by %')))},
);

sub check_invariants
{
	my ($after) = @_;
	for my $name (sort keys %invariants)
	{
		my $bad = sql($invariants{$name});
		is($bad, '0', "after $after: $name");
		$checks++ if $bad eq '0';
	}
}

# in_flight(R): the round's tasks not finished yet
sub in_flight
{
	my ($r) = @_;
	return sql(qq{SELECT count(*) FROM mycelium.task_states t JOIN public.created c ON c.wf = t.workflow_id
		WHERE c.round = $r AND t.status IN ('pending', 'ready', 'running')});
}

# progress(N): waits (at most 60 s) until N more tasks have ended
my $ended = q{SELECT count(*) FROM mycelium.task_states
	WHERE status IN ('completed', 'failed', 'skipped', 'cancelled')};
sub progress
{
	my ($n, $what) = @_;
	my $base = sql($ended);
	my $end = time + 60;
	while (time < $end)
	{
		return 1 if sql($ended) >= $base + $n;
		usleep(100_000);
	}
	fail("work goes on after $what");
	return 0;
}

# wait_restart(OLDPIDS): the crash restart is over: the launcher and the
# pool's warm worker run again, none of them one killed
sub wait_restart
{
	my ($old) = @_;
	my $end = time + 60;
	while (time < $end)
	{
		my ($rc, $out) = try_psql(qq{
			SELECT count(*) FILTER (WHERE backend_type = 'mycelium worker') >= 1
			   AND count(*) FILTER (WHERE backend_type = 'mycelium launcher') = 1
			   AND NOT bool_or(pid = ANY ('{$old}'::int[]))
			  FROM pg_stat_activity WHERE backend_type IN ('mycelium worker', 'mycelium launcher')});
		return 1 if $rc == 0 && $out eq 't';
		usleep(200_000);
	}
	return 0;
}

sub scheduler_pids
{
	return sql(q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		WHERE backend_type IN ('mycelium worker', 'mycelium launcher')});
}

# --- the faults -----------------------------------------------------------
sub kill_backend
{
	my ($kind, $query) = @_;
	my $pid = '';
	my $end = time + 10;
	$pid = sql($query) while $pid eq '' && time < $end;
	ok($pid, "$kind: found its pid");
	my $old = scheduler_pids();
	kill 'KILL', $pid;
	ok(wait_restart($old), "$kind: the server restarted the scheduler after the crash");
	$faults{$kind}++;
}

my %fault = (
	'kill -9 worker' => sub {
		# a worker in the middle of an attempt (else any worker)
		kill_backend('kill -9 worker', q{
			SELECT pid FROM pg_stat_activity WHERE backend_type = 'mycelium worker'
			 ORDER BY query LIKE 'mycelium: workflow %' DESC LIMIT 1});
	},
	'kill -9 launcher' => sub {
		kill_backend('kill -9 launcher', q{
			SELECT pid FROM pg_stat_activity WHERE backend_type = 'mycelium launcher'});
	},
	'kill -9 postmaster' => sub {
		$node->kill9;
		my $started = 0;
		for (1 .. 60)
		{
			undef $node->{_pid};
			last if ($started = $node->start(fail_ok => 1));
			sleep 1;
		}
		ok($started, 'kill -9 postmaster: the server restarts');
		ok(wait_restart(''), 'kill -9 postmaster: the scheduler runs again');
		$faults{'kill -9 postmaster'}++;
	},
	'lock_timeout mid-task' => sub {
		my $before = sql(q{SELECT count(*) FROM mycelium.workflow_state_history WHERE error LIKE '%lock timeout%'});
		sql('BEGIN; LOCK TABLE public.gate IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;');
		my $after = sql(q{SELECT count(*) FROM mycelium.workflow_state_history WHERE error LIKE '%lock timeout%'});
		$hits{'attempts cancelled by lock_timeout'} += $after - $before;
		cmp_ok($after, '>', $before, 'lock_timeout mid-task: attempts were cancelled');
		$faults{'lock_timeout mid-task'}++;
	},
	'statement_timeout mid-report' => sub {
		# hold the mixed workflows' rows while the agent reports on them
		my $before = () = agent_text() =~ /statement timeout/g;
		my $after = $before;
		for (1 .. 3)
		{
			last if sql(q{SELECT count(*) FROM mycelium.task_states t JOIN public.created c ON c.wf = t.workflow_id
				WHERE c.kind = 'mixed' AND t.agent_type = 'ext' AND t.status IN ('pending', 'ready', 'running')}) == 0;
			sql(q{BEGIN; SELECT FROM mycelium.workflow_states w JOIN public.created c ON c.wf = w.workflow_id
				WHERE c.kind = 'mixed' AND w.status = 'running' FOR UPDATE OF w; SELECT pg_sleep(1.5); COMMIT;});
			usleep(300_000);
			$after = () = agent_text() =~ /statement timeout/g;
			last if $after > $before;
		}
		$hits{"agent calls cancelled by statement_timeout"} += $after - $before;
		cmp_ok($after, '>', $before, "statement_timeout mid-report: the agent's calls were cancelled");
		$faults{'statement_timeout mid-report'}++;
	},
	'disk full' => sub {
	  SKIP:
		{
			skip 'no user namespaces: no small disk', 2 unless $keeper_pid;
			my $log = slurp_file($node->logfile);
			my ($rc, $out, $err) = $node->psql('postgres',
				"INSERT INTO public.ballast SELECT repeat('x', 1800) FROM generate_series(1, 100000)");
			like($err, qr/No space left on device/, 'disk full: the small disk filled up');
			sleep 2;
			# dropping frees the space at commit (TRUNCATE would need a page)
			sql('DROP TABLE public.ballast; CREATE TABLE public.ballast (pad text) TABLESPACE tiny');
			# a later crash's redo starts after the drop (else replaying the
			# ballast's inserts would fill the disk again and recovery fail)
			sql('CHECKPOINT');
			my $new = substr(slurp_file($node->logfile), length($log));
			my $n = () = $new =~ /could not extend file .*No space left on device/g;
			$n--;		# the ballast's own
			$hits{'statements failed with ENOSPC'} += $n;
			cmp_ok($n, '>', 0, 'disk full: tasks and the scheduler hit it');
			$faults{'disk full'}++;
		}
	},
);
my @order = ('statement_timeout mid-report', 'kill -9 worker', 'lock_timeout mid-task',
	'kill -9 launcher', 'disk full', 'kill -9 postmaster');

# --- the campaign ---------------------------------------------------------
my $t0 = time;
for my $r (1 .. $rounds)
{
	for my $kind (@order)
	{
		ensure_agent();
		create_wave($r);
		progress(50, "the start of $kind");
		my $left = in_flight($r);
		cmp_ok($left, '>', 0, "round $r, $kind: injected mid-run ($left tasks unfinished)");
		$fault{$kind}->();
		ensure_agent();
		check_invariants("round $r, $kind");
	}
	my $end = time + 240;
	my $open;
	while (time < $end)
	{
		ensure_agent();
		$open = in_flight($r);
		last if $open == 0;
		sleep 1;
	}
	is($open, '0', "round $r: every task ended within the bound")
	  or diag(sql(qq{SELECT string_agg(format('%s %s %s attempt %s run_after %s worker %s',
		c.kind, t.task_id, t.status, t.attempt, t.run_after, t.worker_id), E'\n')
		FROM mycelium.task_states t JOIN public.created c ON c.wf = t.workflow_id
		WHERE c.round = $r AND t.status IN ('pending', 'ready', 'running')}));
	is(sql(qq{SELECT string_agg(c.kind || '=' || w.status, ',' ORDER BY c.kind)
		FROM public.created c JOIN mycelium.workflow_states w ON w.workflow_id = c.wf
		WHERE c.round = $r AND w.status::text <> c.expect}), '',
		"round $r: every workflow ended as it should");
	check_invariants("round $r, at the end");
}

# --- the summary ----------------------------------------------------------
my $tasks = sql('SELECT count(*) FROM mycelium.task_states');
my %totals = (
	'attempts lost (crashes)' => q{error LIKE '%was lost%'},
	'attempts timed out mid-run' => q{error LIKE 'task timed out%'},
	'planned failures' => q{error LIKE 'planned failure%'},
	'claims handed back unstarted' => q{event = 'handed back: not started'},
);
for my $what (sort keys %totals)
{
	$hits{$what} = sql("SELECT count(*) FROM mycelium.workflow_state_history WHERE $totals{$what}");
}
cmp_ok($hits{'attempts lost (crashes)'}, '>', 0, 'crashes cost attempts, counted as lost');
cmp_ok($hits{'attempts timed out mid-run'}, '>', 0, 'tasks timed out mid-run');
is(sql(q{SELECT count(*) FROM public.fx f WHERE NOT EXISTS (SELECT 1 FROM mycelium.task_states t
	WHERE t.workflow_id = f.workflow_id AND t.task_id = f.task_id AND t.status = 'completed')}),
	'0', 'no effect of an attempt that did not complete');

diag(sprintf('fault campaign: %d rounds, %d tasks in %d workflows, %.0f s', $rounds, $tasks,
	sql('SELECT count(*) FROM public.created'), time - $t0));
diag("  faults injected: $_ x $faults{$_}") for sort keys %faults;
diag("  evidence: $_: $hits{$_}") for sort keys %hits;
diag("  invariant checks passed: $checks (" . join(', ', sort keys %invariants) . ')');

note("the agent's log:\n" . agent_text());
$agent->kill_kill if $agent;
$node->stop;
done_testing();
