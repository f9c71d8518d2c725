# The bad input campaign: malformed and hostile workflow definitions,
# handoff messages, registrations and schemas (test/t/BadInput.pm, seeded)
# against the SQL API of a real server.  Every case must fail with the
# SQLSTATE it deserves and a short, clear message (or succeed, for the
# valid ones), must leave every table of schema mycelium as it was when it
# fails, and must leave the session working (a canary of valid calls runs
# after it in the same session); the server must not crash or hang.
#
#   MC_BAD_INPUT_SEED=n       the generator's seed (default 7)
#   MC_BAD_INPUT_MUTATIONS=n  random mutations of valid definitions and of
#                             valid messages, each (default 100)
#   MC_BAD_INPUT_HEAVY=0      leave out the slowest cases (100,000-task
#                             cycles, 200,000-deep JSON)
#   MC_BAD_INPUT_ONLY=regex   run only the cases whose name matches (replay)
#   MC_BAD_INPUT_SUMMARY=file also write the summary table there
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use MyceliumNode;
use BadInput;

my $seed = $ENV{MC_BAD_INPUT_SEED} // 7;
my $gen = BadInput->new(seed => $seed,
	mutations => $ENV{MC_BAD_INPUT_MUTATIONS} // 100,
	heavy => $ENV{MC_BAD_INPUT_HEAVY} // 1);
my @cases = $gen->all;
@cases = grep { $_->{name} =~ /$ENV{MC_BAD_INPUT_ONLY}/ } @cases
  if defined $ENV{MC_BAD_INPUT_ONLY};

my $node = mycelium_node('bad_input');

# fixtures, in the scheduler's database and in a SQL_ASCII one (the only
# kind that lets invalid UTF-8 into text)
$node->safe_psql('postgres', q{
	CREATE DATABASE bad_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
my $fixtures = q{
	CREATE EXTENSION IF NOT EXISTS mycelium;
	CREATE SCHEMA bad;
	CREATE TABLE bad.fixtures (k text PRIMARY KEY, id uuid);
	CREATE FUNCTION bad.fix(key text) RETURNS uuid LANGUAGE sql STABLE
		AS $$ SELECT id FROM bad.fixtures WHERE k = key $$;
	CREATE FUNCTION bad.msg() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
		SELECT '{"version": "1.0", "handoff_id": "6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",
				 "timestamp": "2026-01-02T03:04:05.678901Z",
				 "source": {"agent_id": "agent-1", "agent_type": "parser"},
				 "target": {"agent_id": "agent-2", "agent_type": "analyzer"},
				 "context": {"task_description": "Analyze code"},
				 "state": {"progress": {"completed_steps": []}}, "metadata": {}}'::jsonb $$;
	-- every table of schema mycelium: rows and a hash of their contents
	CREATE FUNCTION bad.state() RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		t regclass;
		n bigint;
		h bigint;
		s text := '';
	BEGIN
		FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
				  WHERE c.relnamespace = 'mycelium'::regnamespace AND c.relkind = 'r'
				  ORDER BY c.relname LOOP
			EXECUTE format('SELECT count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM %s x', t)
				INTO n, h;
			s := s || t::text || '=' || n || '/' || h || ' ';
		END LOOP;
		RETURN s;
	END $$;
	-- valid calls that must still work in the session after any case
	CREATE FUNCTION bad.canary() RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
		IF NOT mycelium.json_schema_validate('{"type": "integer"}', '1')
		   OR NOT mycelium.validate_handoff(bad.msg())
		   OR mycelium.deserialize_handoff(mycelium.serialize_handoff(bad.msg())) <> bad.msg() THEN
			RETURN false;
		END IF;
		BEGIN
			PERFORM mycelium.create_workflow(jsonb_build_array(
				mycelium.task('a', 'x', 'worker'),
				mycelium.task('b', 'x', 'worker', dependencies => '{a}')));
			RAISE EXCEPTION 'undo the canary workflow';
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
		RETURN true;
	END $$;
	CREATE FUNCTION public.echo(ctx jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT ctx $$;
	GRANT USAGE ON SCHEMA bad TO PUBLIC;
	GRANT SELECT, INSERT ON bad.fixtures TO PUBLIC;
	GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bad TO PUBLIC;
	SET ROLE alice;
	SELECT mycelium.register_executor('worker', 'public.echo(jsonb)');
	SELECT mycelium.register_executor('ext', NULL);
	SELECT mycelium.create_template('base', jsonb_build_array(mycelium.task('t', 'x', 'worker')));
	INSERT INTO bad.fixtures SELECT 'pending', mycelium.create_workflow(jsonb_build_array(
		mycelium.task('p0', 'x', 'worker'), mycelium.task('p1', 'x', 'worker', dependencies => '{p0}')));
};
$node->safe_psql('postgres', $fixtures);
$node->safe_psql('bad_ascii', $fixtures);
# a running workflow whose task r1 worker "wk" holds
my $running = $node->safe_psql('postgres', q{
	SET ROLE alice;
	INSERT INTO bad.fixtures SELECT 'running', mycelium.create_workflow(jsonb_build_array(
		mycelium.task('r1', 'agent', 'ext'), mycelium.task('r2', 'agent', 'ext', dependencies => '{r1}')))
	RETURNING id});
$node->safe_psql('postgres', "SET ROLE alice; SELECT mycelium.start_workflow('$running')");
ok(wait_for_status($node, $running, 'running', 60), 'the fixture workflow runs');
is($node->safe_psql('postgres', q{
	SET ROLE alice; SELECT task_id FROM mycelium.claim_tasks('ext', 'wk', 1, '1 hour')}),
	'r1', 'worker wk holds task r1');

my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $log_offset = -s $node->logfile;

# run_chunk(cases): runs cases one after another in one session (each
# statement on its own, autocommit); for each, the tables' state before and
# after, its error and a canary of valid calls.  Returns what happened to
# each case, in order.
sub run_chunk
{
	my (@chunk) = @_;
	my @script = ('\set VERBOSITY verbose');
	for my $i (0 .. $#chunk)
	{
		push @script,
		  "\\warn '\@\@case $i'",
		  "SELECT '\@\@before $i ' || extract(epoch FROM clock_timestamp()) || ' ' || bad.state();",
		  'SET ROLE alice;',
		  "$chunk[$i]{sql};",
		  'RESET ROLE;',
		  "SELECT '\@\@after $i ' || extract(epoch FROM clock_timestamp()) || ' ' || bad.state();",
		  'SET ROLE alice;',
		  "SELECT '\@\@canary $i ' || bad.canary();",
		  'RESET ROLE;';
	}
	my ($out, $err, $timed_out) = ('', '', 0);
	$node->psql($chunk[0]{db}, join("\n", @script), stdout => \$out, stderr => \$err,
		on_error_stop => 0, timeout => 900, timed_out => \$timed_out);
	my (%before, %after, %canary, %t0, %t1, %errors);
	while ($out =~ /^\@\@before (\d+) (\S+) (.*)$/mg) { $t0{$1} = $2; $before{$1} = $3; }
	while ($out =~ /^\@\@after (\d+) (\S+) (.*)$/mg) { $t1{$1} = $2; $after{$1} = $3; }
	while ($out =~ /^\@\@canary (\d+) (\S+)$/mg) { $canary{$1} = $2; }
	my $current;
	for my $line (split /\n/, $err)
	{
		if ($line =~ /^\@\@case (\d+)$/) { $current = $1; next; }
		push @{ $errors{$current} }, [ $1, $2 ]
		  if defined $current && $line =~ /ERROR:\s+([0-9A-Z]{5}): (.*)$/;
	}
	my @results;
	for my $i (0 .. $#chunk)
	{
		my $c = $chunk[$i];
		my @e = @{ $errors{$i} // [] };
		my %r = (got => @e ? $e[0][0] : 'ok', message => @e ? $e[0][1] : undef,
			seconds => defined $t1{$i} ? $t1{$i} - $t0{$i} : 0, problems => []);
		push @{ $r{problems} }, 'timed out (hang?)' if $timed_out && !defined $canary{$i};
		push @{ $r{problems} }, 'more than one error: the session did not carry on cleanly'
		  if @e > 1;
		push @{ $r{problems} }, 'the session did not survive (no canary)'
		  unless ($canary{$i} // '') eq 'true';
		push @{ $r{problems} }, "expected $c->{expect}" if $r{got} ne $c->{expect};
		if ($r{got} ne 'ok')
		{
			push @{ $r{problems} }, 'partial state: the tables changed'
			  unless defined $before{$i} && defined $after{$i} && $before{$i} eq $after{$i};
			push @{ $r{problems} }, 'internal error' if $r{got} =~ /^XX/;
			push @{ $r{problems} }, 'message longer than 400 bytes'
			  if length($r{message}) > 400;
			push @{ $r{problems} }, 'message is not in PostgreSQL style'
			  if $r{message} =~ /^[A-Z][a-z]/ || $r{message} =~ /\.$/;
		}
		push @results, \%r;
	}
	return @results;
}

# cases run in chunks of one database each, a session per chunk
my @chunks;
for my $c (@cases)
{
	push @chunks, [] if !@chunks || @{ $chunks[-1] } >= 50 || $chunks[-1][0]{db} ne $c->{db};
	push @{ $chunks[-1] }, $c;
}
my (%by_family, %by_state, @failures, @slowest);
for my $chunk (@chunks)
{
	my @results = run_chunk(@$chunk);
	for my $i (0 .. $#$chunk)
	{
		my ($c, $r) = ($chunk->[$i], $results[$i]);
		my $f = $by_family{ $c->{family} } //= { cases => 0, good => 0, codes => {} };
		$f->{cases}++;
		$f->{codes}{ $r->{got} }++;
		$by_state{ $r->{got} }++;
		push @slowest, [ $r->{seconds}, $c->{name} ];
		if (@{ $r->{problems} })
		{
			push @failures, "$c->{name}: got $r->{got}"
			  . (defined $r->{message} ? ' (' . substr($r->{message}, 0, 200) . ')' : '')
			  . ': ' . join('; ', @{ $r->{problems} }) . "\n    " . substr($c->{sql}, 0, 300);
		}
		else
		{
			$f->{good}++;
		}
	}
}

# the summary: per family and per SQLSTATE
my @lines = (sprintf('seed %d, %d cases', $seed, scalar @cases),
	sprintf('%-20s %6s %6s  %s', 'family', 'cases', 'as expected', 'outcomes'));
for my $fam (sort keys %by_family)
{
	my $f = $by_family{$fam};
	push @lines, sprintf('%-20s %6d %6d       %s', $fam, $f->{cases}, $f->{good},
		join(' ', map { "$_:$f->{codes}{$_}" } sort keys %{ $f->{codes} }));
}
push @lines, 'by outcome: ' . join(' ', map { "$_:$by_state{$_}" } sort keys %by_state);
@slowest = sort { $b->[0] <=> $a->[0] } @slowest;
push @lines, 'slowest: ' . join(', ', map { sprintf('%s %.2fs', $_->[1], $_->[0]) } @slowest[ 0 .. ($#slowest < 4 ? $#slowest : 4) ]);
diag(join("\n", @lines));
if (defined $ENV{MC_BAD_INPUT_SUMMARY})
{
	open(my $fh, '>', $ENV{MC_BAD_INPUT_SUMMARY}) or die "cannot write the summary: $!";
	print $fh join("\n", @lines), "\n";
	close $fh;
}

for my $fam (sort keys %by_family)
{
	my @mine = grep { m{^\Q$fam\E/} } @failures;
	ok(!@mine, "$fam: $by_family{$fam}{cases} cases, each with the right outcome, no partial state, the session alive")
	  or diag(join("\n", @mine[ 0 .. ($#mine < 19 ? $#mine : 19) ]));
}

# the server never crashed nor restarted
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'the server never restarted');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/PANIC|TRAP:|terminated by signal|server process .* was terminated|stack overflow/i,
	'the server log has no crash');
is($node->safe_psql('postgres', q{
	SELECT status || ':' || (SELECT string_agg(task_id || '=' || status, ',' ORDER BY task_id)
							   FROM mycelium.tasks t WHERE t.workflow_id = w.workflow_id)
	  FROM mycelium.workflows w WHERE workflow_id = (SELECT id FROM bad.fixtures WHERE k = 'running')}),
	'running:r1=running,r2=pending', 'the claimed task is still held after every refused report');

$node->stop;
done_testing();
