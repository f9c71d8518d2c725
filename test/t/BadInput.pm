# BadInput: a deterministic generator of malformed and hostile inputs for
# mycelium's SQL API (the bad input campaign, test/t/013_bad_input_campaign.pl).
#
# Each case is a hash: family (what kind of hostility), name (unique, for
# replaying one case), sql (one statement, run as a mycelium_user), expect
# (the SQLSTATE the call must fail with, or 'ok' when it must succeed) and
# optionally db (the database to run it in).  Everything random comes from
# one seeded Park-Miller generator, so a seed gives the same cases on every
# machine.  Large values are built by the server (repeat, generate_series)
# so the statement text stays small.
#
# The fixtures the cases refer to (executors "worker" and "ext", the
# workflows and the claimed task in bad.fix) are made by the test.
package BadInput;

use strict;
use warnings;

# new(seed => N, mutations => N, heavy => 0|1, depth => N, big => N)
sub new
{
	my ($class, %o) = @_;
	my $self = bless {
		seed => $o{seed} // 1,
		mutations => $o{mutations} // 200,
		heavy => $o{heavy} // 1,
		depth => $o{depth} // 10000,
		big => $o{big} // 1000000,
		cases => [],
		seq => 0,
	}, $class;
	$self->{state} = ($self->{seed} % 2147483646) + 1;
	return $self;
}

# rnd(N): a number in [0, N)
sub rnd
{
	my ($self, $n) = @_;
	$self->{state} = ($self->{state} * 48271) % 2147483647;
	return $self->{state} % $n;
}

sub pick { my ($self, @list) = @_; return $list[ $self->rnd(scalar @list) ]; }

# uuid(): a deterministic version 4 UUID
sub uuid
{
	my ($self) = @_;
	my @h = map { sprintf('%04x', $self->rnd(65536)) } 1 .. 8;
	substr($h[3], 0, 1) = '4';
	substr($h[4], 0, 1) = $self->pick(qw(8 9 a b));
	return "$h[0]$h[1]-$h[2]-$h[3]-$h[4]-$h[5]$h[6]$h[7]";
}

# add(family, expect, sql[, db]): records a case
sub add
{
	my ($self, $family, $expect, $sql, $db) = @_;
	my $n = ++$self->{seq};
	push @{ $self->{cases} },
	  { family => $family, name => sprintf('%s/%04d', $family, $n),
		expect => $expect, sql => $sql, db => $db // 'postgres' };
}

#
# JSON: plain Perl scalars are strings, scalar references hold raw JSON
# text (numbers, true/false, or deliberately broken tokens), undef is null.
#
sub js
{
	my ($v) = @_;
	return 'null' unless defined $v;
	my $r = ref $v;
	return $$v if $r eq 'SCALAR';
	return '[' . join(',', map { js($_) } @$v) . ']' if $r eq 'ARRAY';
	return '{' . join(',', map { js($_) . ':' . js($v->{$_}) } sort keys %$v) . '}'
	  if $r eq 'HASH';
	my $s = $v;
	$s =~ s/(["\\])/\\$1/g;
	$s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord($1))/ge;
	return "\"$s\"";
}

# lit(text): a SQL string literal
sub lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

# jb(value): a jsonb SQL expression for a Perl value
sub jb { return lit(js($_[0])) . '::jsonb'; }

sub num { my $n = shift; return \$n; }

#
# Random valid values
#
my @strings = ('x', '', 'héllo ☃', "quote \" and \\ backslash", "line\nbreak",
	"tab\there", 'emoji 😀', "'; DROP TABLE mycelium.task_states; --",
	'$1 %s %n {}', '\\u0000 as text', 'null');
my @numbers = ('0', '-0', '1', '-1', '3.14159', '1e300', '-1e-300', '1e400',
	'123456789012345678901234567890123456789012345678901234567890',
	'0.000000000000000000000000000000000000000000000000001');

# rjson(depth): a random JSON value
sub rjson
{
	my ($self, $depth) = @_;
	my $k = $self->rnd($depth > 0 ? 7 : 5);
	return undef if $k == 0;
	return \($self->pick('true', 'false')) if $k == 1;
	return num($self->pick(@numbers)) if $k == 2;
	return $self->pick(@strings) if $k <= 4;
	return [ map { $self->rjson($depth - 1) } 1 .. $self->rnd(4) ] if $k == 5;
	return $self->robject($depth - 1);
}

sub robject
{
	my ($self, $depth) = @_;
	my %o;
	$o{ $self->pick(@strings) . $_ } = $self->rjson($depth) for 1 .. $self->rnd(4);
	return \%o;
}

#
# Workflow definitions
#

# workflow(n, prefix): a random valid DAG of n tasks in Perl form; each task
# depends only on earlier ones
sub workflow
{
	my ($self, $n, $prefix) = @_;
	my @tasks;
	for my $i (0 .. $n - 1)
	{
		my %deps;
		$deps{ $tasks[ $self->rnd($i) ]{task_id} } = 1
		  for $i > 0 ? (1 .. $self->rnd(3)) : ();
		push @tasks, {
			task_id => "$prefix$i", agent_id => 'agent-' . $self->rnd(5),
			agent_type => $self->pick('worker', 'ext'),
			dependencies => [ sort keys %deps ],
			retry_policy => { max_attempts => num(1 + $self->rnd(5)),
				initial_delay => num('0.5'), max_delay => num(10 + $self->rnd(50)),
				exponential_base => num('2.0') },
			timeout => $self->pick(undef, num(30)),
			allow_failure => \($self->pick('true', 'false')),
			input => $self->rjson(3), metadata => $self->robject(2) };
	}
	return \@tasks;
}

# the bad values of each task field, each with the SQLSTATE it earns
my @wrong_types = (num(1), num('1.5'), \'true', [], {}, [ 'a' ], { a => num(1) });
my %bad_field = (
	task_id => [ (map { [ $_, '22023' ] } @wrong_types, undef, '', 'a' x 256,
		"a\x01b", "new\nline", "del\x7f", "nel\xc2\x85"),
		[ \'"\ud800"', '22P02' ], [ \'"\u0000"', '22P05' ] ],
	agent_id => [ map { [ $_, '22023' ] } @wrong_types, undef, '', 'é' x 128, "a\tb" ],
	agent_type => [ (map { [ $_, '22023' ] } @wrong_types, undef, '', 'w' x 256),
		[ 'no-such-type', 'MY000' ], [ 'Worker', 'MY000' ], [ 'worker ', 'MY000' ] ],
	dependencies => [ map { [ $_, '22023' ] } 'p0', num(1), \'true', {}, [ num(1) ], [ undef ],
		[ [] ], [ '' ], [ 'a' x 256 ], [ "a\x01" ] ],
	retry_policy => [ map { [ $_, '22023' ] } 'x', num(3), [], { attempts => num(3) },
		{ max_attempts => num(3), Max_Attempts => num(3) } ],
	timeout => [ map { [ num($_), '22023' ] } '0', '-1', '-0', '2147484', '1e400', '1e-400',
		'9' x 300, '-1e400' ],
	allow_failure => [ map { [ $_, '22023' ] } 'yes', num(1), num(0), [], {} ],
	metadata => [ map { [ $_, '22023' ] } 'x', num(1), [], [ {} ], \'true' ],
);
$bad_field{timeout} = [ @{ $bad_field{timeout} }, [ '10', '22023' ], [ [], '22023' ] ];
my %bad_retry = (
	max_attempts => [ qw(0 -1 -0 1001 1.5 1e400 -1e400 1e-400 2147483648), '9' x 300 ],
	initial_delay => [ qw(-1 -0.0001 2147484 1e400 -1e400), '9' x 300 ],
	max_delay => [ qw(-1 2147484 1e400), '-' . '9' x 300 ],
	exponential_base => [ qw(0 0.5 0.999999 1001 1e400 -2) ],
);

# bad_task_mutation(tasks): breaks the definition in one way; returns the
# SQLSTATE that earns and a description
sub bad_task_mutation
{
	my ($self, $tasks) = @_;
	my $t = $tasks->[ $self->rnd(scalar @$tasks) ];
	my $kind = $self->rnd(12);
	if ($kind == 0)
	{
		delete $t->{ $self->pick(qw(task_id agent_id agent_type)) };
		return ('22023', 'required field removed');
	}
	if ($kind <= 3)
	{
		my $f = $self->pick(sort keys %bad_field);
		my $bad = $self->pick(@{ $bad_field{$f} });
		$t->{$f} = $bad->[0];
		return ($bad->[1], "bad $f");
	}
	if ($kind == 4)
	{
		my $f = $self->pick(sort keys %bad_retry);
		$t->{retry_policy}{$f} = num($self->pick(@{ $bad_retry{$f} }));
		return ('22023', "bad retry_policy.$f");
	}
	if ($kind == 5)
	{
		$t->{ $self->pick('priority', 'Task_id', 'task_id ', '', 'retries', '__proto__',
			'k' x 1000, "ctl\x01", 'dépendances') } = num(1);
		return ('22023', 'unknown field');
	}
	if ($kind == 6)
	{
		push @{ $t->{dependencies} }, $t->{task_id};
		return ('MY001', 'self dependency');
	}
	if ($kind == 7)
	{
		push @{ $t->{dependencies} }, 'missing-' . $self->rnd(1000);
		return ('MY001', 'unknown dependency');
	}
	if ($kind == 8 && @$tasks > 1)
	{
		# tasks[j] depends on tasks[i] (i < j); tasks[i] now depends on tasks[j]
		my $j = 1 + $self->rnd(@$tasks - 1);
		my $i = $self->rnd($j);
		push @{ $tasks->[$j]{dependencies} }, $tasks->[$i]{task_id}
		  unless grep { $_ eq $tasks->[$i]{task_id} } @{ $tasks->[$j]{dependencies} };
		push @{ $tasks->[$i]{dependencies} }, $tasks->[$j]{task_id};
		return ('MY001', 'cycle');
	}
	if ($kind == 9 && @$tasks > 1)
	{
		my $other = $t == $tasks->[0] ? $tasks->[1] : $tasks->[0];
		$t->{task_id} = $other->{task_id};
		return ('MY001', 'duplicate task id');
	}
	if ($kind == 10 && @{ $t->{dependencies} })
	{
		push @{ $t->{dependencies} }, $t->{dependencies}[0];
		return ('MY001', 'repeated dependency');
	}
	$tasks->[ $self->rnd(scalar @$tasks) ] = $self->pick(undef, num(1), 'task', [], \'false');
	return ('22023', 'a task that is not an object');
}

# harmless_task_mutation(tasks): changes the definition within the rules
sub harmless_task_mutation
{
	my ($self, $tasks) = @_;
	my $t = $tasks->[ $self->rnd(scalar @$tasks) ];
	my $kind = $self->rnd(8);
	$t->{input} = $self->rjson(4) if $kind == 0;
	$t->{metadata} = $self->pick(undef, $self->robject(3)) if $kind == 1;
	$t->{timeout} = $self->pick(undef, num('0.001'), num('2147483'), num('1e-3')) if $kind == 2;
	$t->{retry_policy}{max_attempts} = num($self->pick(qw(1 1000 1.0 2e1))) if $kind == 3;
	$t->{retry_policy} = $self->pick(undef, {}) if $kind == 4;
	$t->{allow_failure} = $self->pick(undef, \'true') if $kind == 5;
	delete $t->{ $self->pick(qw(dependencies retry_policy timeout allow_failure input metadata)) }
	  if $kind == 6;
	@$tasks = reverse @$tasks if $kind == 7;
}

# definition families: malformed or mutated definitions sent to
# create_workflow, create_template and add_tasks
sub gen_mutations
{
	my ($self) = @_;
	for my $m (1 .. $self->{mutations})
	{
		my $target = $self->pick(qw(create_workflow create_workflow create_template add_tasks));
		my $prefix = $target eq 'add_tasks' ? "m$m-" : '';
		my $tasks = $self->workflow(1 + $self->rnd(6), $prefix);
		my ($expect, $what) = ('ok', 'valid');
		$self->harmless_task_mutation($tasks) for 1 .. $self->rnd(3);
		($expect, $what) = $self->bad_task_mutation($tasks) if $self->rnd(5) > 0;
		my $def = jb($tasks);
		my $sql =
		  $target eq 'create_workflow' ? "SELECT mycelium.create_workflow($def)"
		  : $target eq 'create_template' ? "SELECT mycelium.create_template('tpl-$m', $def)"
		  : "SELECT mycelium.add_tasks(bad.fix('pending'), $def)";
		$self->add($expect eq 'ok' ? 'mutation_valid' : 'mutation_bad', $expect, $sql);
	}
}

# wrong types and bad values of every field, one at a time
sub gen_fields
{
	my ($self) = @_;
	for my $f (sort keys %bad_field)
	{
		for my $bad (@{ $bad_field{$f} })
		{
			my $tasks = $self->workflow(2, '');
			$tasks->[1]{$f} = $bad->[0];
			$self->add('wrong_field', $bad->[1], 'SELECT mycelium.create_workflow(' . jb($tasks) . ')');
		}
	}
	for my $f (sort keys %bad_retry)
	{
		for my $v (@{ $bad_retry{$f} })
		{
			my $tasks = $self->workflow(1, '');
			$tasks->[0]{retry_policy}{$f} = num($v);
			$self->add('bad_number', '22023', 'SELECT mycelium.create_workflow(' . jb($tasks) . ')');
		}
	}
	# the workflow's own arguments
	for my $bad ('1', '"x"', 'null', '{}', '{"0": {}}', 'true')
	{
		$self->add('wrong_field', '22023', "SELECT mycelium.create_workflow('$bad')");
		$self->add('wrong_field', '22023', "SELECT mycelium.add_tasks(bad.fix('pending'), '$bad')");
	}
	for my $bad ('[]', '1', '"x"', 'null', 'true')
	{
		$self->add('wrong_field', '22023', "SELECT mycelium.create_workflow('[]', context => '$bad')");
		$self->add('wrong_field', '22023', "SELECT mycelium.create_workflow('[]', variables => '$bad')");
		$self->add('wrong_field', '22023', "SELECT mycelium.start_from_template('base', '$bad')");
	}
	for my $n (qw(0 -1 10001 2147483647 -2147483648))
	{
		$self->add('bad_number', '22023', "SELECT mycelium.create_workflow('[]', max_parallel_tasks => $n)");
		$self->add('bad_number', '22023', "SELECT mycelium.create_template('mp$n', '[]', max_parallel_tasks => $n)");
		$self->add('bad_number', '22023', "SELECT * FROM mycelium.claim_tasks('ext', 'w', $n)");
	}
	$self->add('bad_number', '22003', "SELECT mycelium.create_workflow('[]', max_parallel_tasks => 1e400::int)");
	for my $f (qw(initial_delay max_delay exponential_base timeout))
	{
		for my $v (qw(NaN Infinity -Infinity))
		{
			$self->add('bad_number', '22023',
				"SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', $f => '$v')))");
		}
	}
	for my $v (qw(0 -1 1001))
	{
		$self->add('bad_number', '22023',
			"SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', max_attempts => $v)))");
	}
	for my $lease ("'0'", "'-1 second'", "interval '1 day' - interval '1 year'", "'25 days'", "'1000000 years'")
	{
		$self->add('bad_number', '22023', "SELECT * FROM mycelium.claim_tasks('ext', 'w', 1, $lease)");
	}
	$self->add('bad_number', '2202E', $_) for
	  "SELECT * FROM mycelium.complete_tasks('wk', ARRAY[bad.fix('running')], '{r1,r2}')",
	  "SELECT * FROM mycelium.complete_tasks('wk', ARRAY[bad.fix('running')], '{r1}', '{}')";
	# NULLs where a value is required
	$self->add('null', '22004', $_) for
	  "SELECT mycelium.create_workflow(NULL)",
	  "SELECT mycelium.create_workflow('[]', max_parallel_tasks => NULL)",
	  "SELECT mycelium.add_tasks(NULL, '[]')",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), NULL)",
	  "SELECT mycelium.create_template(NULL, '[]')",
	  "SELECT mycelium.create_template('n', NULL)",
	  "SELECT mycelium.start_from_template(NULL)",
	  "SELECT mycelium.register_executor(NULL, NULL)",
	  "SELECT mycelium.create_handoff(NULL, 'b', 'c', 'd', 'e')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', context => NULL)",
	  "SELECT * FROM mycelium.claim_tasks(NULL, 'w')",
	  "SELECT * FROM mycelium.claim_tasks('ext', NULL)",
	  "SELECT mycelium.complete_task(bad.fix('running'), NULL, 'wk')",
	  "SELECT mycelium.fail_task(bad.fix('running'), 'r1', 'wk', NULL)",
	  "SELECT * FROM mycelium.complete_tasks(NULL, ARRAY[bad.fix('running')], '{r1}')",
	  "SELECT * FROM mycelium.complete_tasks('wk', NULL, '{r1}')",
	  "SELECT * FROM mycelium.complete_tasks('wk', ARRAY[bad.fix('running')], ARRAY[NULL::text])",
	  "SELECT mycelium.send_handoff(NULL, bad.msg())",
	  "SELECT mycelium.send_handoff(bad.fix('pending'), NULL)",
	  "SELECT mycelium.record_event(NULL, 'x')",
	  "SELECT mycelium.record_event(bad.fix('pending'), NULL)",
	  "SELECT mycelium.record_event(bad.fix('pending'), 'x', NULL)",
	  "CALL mycelium.purge_workflows(NULL)",
	  "CALL mycelium.purge_workflows('1 day', NULL)";
	$self->add('null', 'ok', $_) for
	  "SELECT mycelium.delete_workflow(NULL) IS NULL",
	  "SELECT mycelium.validate_handoff(NULL) IS NULL",
	  "SELECT mycelium.deserialize_handoff(NULL) IS NULL",
	  "SELECT mycelium.json_schema_validate(NULL, '1') IS NULL";
}

# the graph: self dependencies, missing tasks, long cycles, cycles made
# through add_tasks
sub gen_graph
{
	my ($self) = @_;
	my $cycle = sub {
		my ($n, $prefix) = @_;
		return "(SELECT jsonb_agg(mycelium.task('$prefix' || i, 'x', 'worker', dependencies => "
		  . "ARRAY['$prefix' || CASE WHEN i = 1 THEN $n ELSE i - 1 END])) FROM generate_series(1, $n) i)";
	};
	my @lengths = (2, 3, 10, 11, 1000);
	push @lengths, 100000 if $self->{heavy};
	for my $n (@lengths)
	{
		$self->add('cycle', 'MY001', 'SELECT mycelium.create_workflow(' . $cycle->($n, 't') . ')');
	}
	$self->add('cycle', 'MY001', "SELECT mycelium.add_tasks(bad.fix('pending'), " . $cycle->(2, 'c') . ')');
	$self->add('cycle', 'MY001', "SELECT mycelium.add_tasks(bad.fix('pending'), " . $cycle->(1000, 'c') . ')');
	$self->add('cycle', 'MY001', "SELECT mycelium.add_tasks(bad.fix('pending'), " . $cycle->(99990, 'c') . ')')
	  if $self->{heavy};
	$self->add('cycle', 'MY001', "SELECT mycelium.create_template('cyc', " . $cycle->(50, 't') . ')');
	# a chain whose last task points back into its middle
	$self->add('cycle', 'MY001', "SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || i, 'x', 'worker', "
		  . "dependencies => CASE WHEN i = 1 THEN ARRAY['t5000'] WHEN i = 2500 THEN ARRAY['t2499', 't9999'] "
		  . "ELSE ARRAY['t' || (i - 1)] END)) FROM generate_series(1, 10000) i))");
	$self->add('self_dependency', 'MY001', $_) for
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', dependencies => '{a}')))",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task('s', 'x', 'worker', dependencies => '{s}')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker', dependencies => '{a,b}')))";
	$self->add('missing_dependency', 'MY001', $_) for
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', dependencies => '{b}')))",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task('n', 'x', 'worker', dependencies => '{p9}')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', dependencies => '{A}')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', dependencies => '{\"a \"}')))";
	$self->add('duplicate_id', 'MY001', $_) for
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker'), mycelium.task('a', 'y', 'worker')))",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task('p0', 'x', 'worker')))",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task('d', 'x', 'worker'), mycelium.task('d', 'x', 'worker')))",
	  "SELECT mycelium.create_workflow((SELECT jsonb_agg(mycelium.task('t' || (i % 5000), 'x', 'worker')) FROM generate_series(1, 10000) i))";
	$self->add('ids', 'ok', $_) for
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task(' ', 'x', 'worker'), mycelium.task('null', 'x', 'worker', dependencies => '{\" \"}')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task(repeat('é', 127), repeat('x', 255), 'worker')))",
	  "SELECT mycelium.create_workflow('[{\"task_id\": \"\\u00e9\\ud83d\\ude00\", \"agent_id\": \"\\\\u0000\", \"agent_type\": \"worker\"}]')",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task(\$\$'); DROP TABLE mycelium.task_states; --\$\$, 'x', 'worker')))";
}

# deep nesting, huge arrays, huge strings and enormous ids
sub gen_sizes
{
	my ($self) = @_;
	my $d = $self->{depth};
	my $deep_a = "(repeat('[', $d) || repeat(']', $d))::jsonb";
	my $deep_o = "(repeat('{\"k\": ', $d) || '1' || repeat('}', $d))::jsonb";
	my $deep_s = "(repeat('{\"items\": ', $d) || 'true' || repeat('}', $d))::jsonb";
	my $deep_t = "(repeat('[', $d) || repeat(']', $d))";
	my $msg_with = sub { "jsonb_set(bad.msg(), '{$_[0]}', $_[1])" };
	for my $deep ($deep_a, $deep_o)
	{
		$self->add('deep_nesting', 'ok', $_) for
		  "SELECT mycelium.create_workflow('[]', context => jsonb_build_object('x', $deep)) IS NOT NULL",
		  "SELECT mycelium.create_workflow('[]', variables => jsonb_build_object('x', $deep)) IS NOT NULL",
		  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', input => $deep, metadata => jsonb_build_object('m', $deep)))) IS NOT NULL",
		  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task('deep' || md5(${deep}::text), 'x', 'worker', input => $deep)))",
		  "SELECT mycelium.create_template('deep' || md5(${deep}::text), '[]', context => jsonb_build_object('x', $deep))",
		  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', context => jsonb_build_object('x', $deep)) IS NOT NULL",
		  "SELECT mycelium.create_workflow('[]', metadata => jsonb_build_object('x', $deep)) IS NOT NULL",
		  "SELECT mycelium.record_event(bad.fix('pending'), 'deep', jsonb_build_object('x', $deep)) > 0",
		  "SELECT mycelium.add_result_to_context(bad.msg(), 'a', jsonb_build_object('x', $deep)) IS NOT NULL",
		  "SELECT mycelium.validate_handoff(" . $msg_with->('context,x', $deep) . ")",
		  "SELECT length(mycelium.serialize_handoff(" . $msg_with->('context,x', $deep) . "))",
		  "SELECT mycelium.send_handoff(bad.fix('pending'), jsonb_set(" . $msg_with->('context,x', $deep) . ", '{handoff_id}', to_jsonb(gen_random_uuid()::text)))",
		  "SELECT mycelium.json_schema_validate('{\"type\": [\"array\", \"object\"]}', $deep)",
		  "SELECT mycelium.heartbeat(bad.fix('running'), 'r1', 'wk', progress => jsonb_build_object('p', $deep))";
		$self->add('deep_nesting', 'MY004', $_) for
		  "SELECT mycelium.validate_handoff(" . $msg_with->('state,progress,completed_steps', $deep) . ")",
		  "SELECT mycelium.validate_handoff(" . $msg_with->('source,agent_id', $deep) . ")",
		  "SELECT mycelium.validate_handoff($deep)",
		  "SELECT mycelium.send_handoff(bad.fix('pending'), " . $msg_with->('target', $deep) . ")";
		$self->add('deep_nesting', '22023', $_) for
		  "SELECT mycelium.create_workflow($deep)",
		  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker') || jsonb_build_object('retry_policy', $deep)))",
		  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker') || jsonb_build_object('dependencies', $deep)))";
		$self->add('deep_nesting', '54000', "SELECT mycelium.json_schema_validate('{\"items\": {\"\$ref\": \"#\"}, \"properties\": {\"k\": {\"\$ref\": \"#\"}}}', $deep)");
		$self->add('deep_nesting', 'MY003', "SELECT mycelium.complete_task(bad.fix('running'), 'r1', 'nobody', $deep)");
	}
	# too deep for jansson's parser (2048 levels): a limit
	$self->add('deep_nesting', '54000', "SELECT mycelium.deserialize_handoff($deep_t)");
	$self->add('deep_nesting', '54000', "SELECT mycelium.deserialize_handoff(mycelium.serialize_handoff(" . $msg_with->('context,x', $deep_a) . "))");
	$self->add('deep_nesting', '54000', "SELECT mycelium.deserialize_handoff(repeat('{\"a\":', $d) || '1' || repeat('}', $d))");
	# schemas nested deeper than the validator's 512 levels: invalid schemas
	$self->add('deep_nesting', '22023', $_) for
	  "SELECT mycelium.json_schema_validate($deep_s, '[]')",
	  "SELECT count(*) FROM mycelium.json_schema_errors($deep_s, '[]')",
	  "SELECT mycelium.register_executor('deep', 'public.echo(jsonb)', $deep_s)";
	# deeper than PostgreSQL's own JSON parser goes: its stack check
	$self->add('deep_nesting', '54001', "SELECT mycelium.create_workflow('[]', context => (repeat('[', 200000) || repeat(']', 200000))::jsonb)")
	  if $self->{heavy};

	my $n = $self->{big};
	my $arr = "(SELECT jsonb_agg(i) FROM generate_series(1, $n) i)";
	$self->add('huge_array', '54000', $_) for
	  "SELECT mycelium.create_workflow($arr)",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), $arr)",
	  "SELECT mycelium.create_template('huge', $arr)",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', input => $arr)))",
	  "SELECT mycelium.create_workflow('[]', context => jsonb_build_object('a', $arr))",
	  "SELECT mycelium.start_from_template('base', jsonb_build_object('a', $arr))",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', metadata => jsonb_build_object('a', $arr))",
	  "SELECT mycelium.create_workflow('[]', metadata => jsonb_build_object('a', $arr))",
	  "SELECT mycelium.record_event(bad.fix('pending'), 'big', jsonb_build_object('a', $arr))",
	  "SELECT mycelium.send_handoff(bad.fix('pending'), jsonb_set(bad.msg(), '{context,a}', $arr))",
	  "SELECT mycelium.complete_task(bad.fix('running'), 'r1', 'wk', $arr)",
	  "SELECT * FROM mycelium.complete_tasks('wk', ARRAY[bad.fix('running')], '{r1}', ARRAY[$arr])",
	  "SELECT * FROM mycelium.complete_tasks('wk', array_fill(bad.fix('running'), ARRAY[$n]), array_fill('r1'::text, ARRAY[$n]))",
	  "SELECT mycelium.register_executor('huge', NULL, jsonb_build_object('enum', $arr))";
	$self->add('huge_array', '22023', "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker', dependencies => (SELECT array_agg('d' || i) FROM generate_series(1, $n) i))))");
	$self->add('huge_array', 'ok', $_) for
	  "SELECT mycelium.validate_handoff(jsonb_set(bad.msg(), '{context,a}', $arr))",
	  "SELECT mycelium.json_schema_validate('{\"items\": {\"type\": \"integer\"}, \"uniqueItems\": true}', $arr)",
	  "SELECT mycelium.json_schema_validate(jsonb_build_object('enum', $arr), '$n')",
	  "SELECT jsonb_array_length(mycelium.deserialize_handoff(mycelium.serialize_handoff(jsonb_set(bad.msg(), '{context,a}', $arr)))->'context'->'a')";

	my $mb = "repeat('a', 1048576)";
	$self->add('huge_string', '22023', $_) for
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task($mb, 'x', 'worker')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', $mb, 'worker')))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', $mb)))",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker'), mycelium.task('b', 'x', 'worker', dependencies => ARRAY[$mb])))",
	  "SELECT mycelium.add_tasks(bad.fix('pending'), jsonb_build_array(mycelium.task($mb, 'x', 'worker')))",
	  "SELECT mycelium.create_workflow('[]', name => $mb)",
	  "SELECT mycelium.create_template($mb, '[]')",
	  "SELECT mycelium.register_executor($mb, NULL)",
	  "SELECT * FROM mycelium.claim_tasks('ext', $mb)",
	  "SELECT mycelium.heartbeat(bad.fix('running'), 'r1', $mb)",
	  "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task('a', 'x', 'worker') || jsonb_build_object($mb, 1)))",
	  "SELECT mycelium.record_event(bad.fix('pending'), $mb)",
	  "SELECT mycelium.record_event(bad.fix('pending'), 'x', agent_id => $mb)";
	$self->add('huge_string', '42704', $_) for
	  "SELECT mycelium.start_from_template($mb)",
	  "SELECT * FROM mycelium.claim_tasks($mb, 'w')";
	$self->add('huge_string', 'MY003', $_) for
	  "SELECT mycelium.complete_task(bad.fix('running'), $mb, 'wk')",
	  "SELECT * FROM mycelium.complete_tasks('wk', ARRAY[bad.fix('running')], ARRAY[$mb])",
	  "SELECT mycelium.update_task(bad.fix('pending'), $mb, 'running')";
	$self->add('huge_string', 'MY004', "SELECT mycelium.deserialize_handoff($mb)");
	$self->add('huge_string', '54000', $_) for
	  "SELECT mycelium.send_handoff(bad.fix('pending'), jsonb_set(bad.msg(), '{context,task_description}', to_jsonb(repeat('d', 2000000))))",
	  "SELECT mycelium.fail_task(bad.fix('running'), 'r1', 'wk', repeat('e', 2000000))",
	  "SELECT mycelium.complete_task(bad.fix('running'), 'r1', 'wk', to_jsonb(repeat('r', 2000000)))",
	  "SELECT mycelium.heartbeat(bad.fix('running'), 'r1', 'wk', to_jsonb(repeat('p', 2000000)))",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', context => jsonb_build_object('s', repeat('c', 2000000)))";
	# the original's format sets no lengths
	$self->add('huge_string', 'ok', $_) for
	  "SELECT mycelium.create_handoff($mb, 'b', 'c', 'd', 'e') IS NOT NULL",
	  "SELECT mycelium.validate_handoff(jsonb_set(bad.msg(), '{target,agent_type}', to_jsonb($mb)))",
	  "SELECT mycelium.validate_handoff(jsonb_set(bad.msg(), '{context,task_description}', to_jsonb($mb)))",
	  "SELECT length(mycelium.serialize_handoff(jsonb_set(bad.msg(), '{context}', jsonb_build_object($mb, $mb))))";
}

# bad \u escapes and raw control characters in JSON text
sub gen_escapes
{
	my ($self) = @_;
	my @bad = ('\u0000', '\ud800', '\udfff', '\udc00\ud800', '\ud800\u0041', '\ud800x',
		'\u12', '\uGGGG', '\x41', "\\'", '\U0041', "\x01", "\x1f", "\n", '\\', '\u');
	for my $e (@bad)
	{
		for my $where ('value', 'key', 'agent_id')
		{
			my $text =
			    $where eq 'value' ? msg_text("{\"a\":\"x${e}y\"}")
			  : $where eq 'key' ? msg_text("{\"x${e}y\":1}")
			  : msg_text('{}') =~ s/"agent_id":"agent-1"/"agent_id":"a${e}"/r;
			$self->add('bad_escape', 'MY004', 'SELECT mycelium.deserialize_handoff(' . lit($text) . ')');
		}
		# the same text as a jsonb argument: PostgreSQL's parser refuses it
		next if $e eq "\\'" || $e eq '\\';
		my $expect = $e eq '\u0000' ? '22P05' : '22P02';
		$self->add('bad_escape', $expect, 'SELECT mycelium.create_workflow(' . lit("[{\"task_id\": \"a${e}\", \"agent_id\": \"x\", \"agent_type\": \"worker\"}]") . '::jsonb)');
		$self->add('bad_escape', $expect, 'SELECT mycelium.validate_handoff(' . lit("{\"context\": {\"a\": \"${e}\"}}") . '::jsonb)');
	}
	# valid escapes survive
	$self->add('bad_escape', 'ok', 'SELECT mycelium.deserialize_handoff('
		  . lit(msg_text('{"\\u00e9\\ud83d\\ude00\\/":"\\u0001\\b\\f\\n\\r\\t\\"\\\\"}')) . ') IS NOT NULL');
	# not JSON at all
	for my $text ('', ' ', 'NaN', 'Infinity', '{"a": NaN}', '[1,]', '{"a" 1}', '{', '"', 'nul',
		'{"a": 1} {"b": 2}', '{"a": 1, "a": 2}', "\xef\xbb\xbf{}", '[' x 100 . ']' x 99, '0x10', '-', '1.e5', '.5', '01')
	{
		$self->add('not_json', 'MY004', 'SELECT mycelium.deserialize_handoff(' . lit($text) . ')');
	}
	# numbers jansson cannot hold are read exactly by jsonb: the message is
	# judged by the schema only
	for my $n ('1e400', '-1e400', '9' x 300, '1e-400')
	{
		my $text = msg_text("{\"n\":$n}");
		$self->add('bad_number', 'ok', 'SELECT mycelium.deserialize_handoff(' . lit($text) . ') IS NOT NULL');
		$text = msg_text('{}', "{\"percentage\":$n}");
		$self->add('bad_number', $n eq '1e-400' ? 'ok' : 'MY004',
			'SELECT mycelium.deserialize_handoff(' . lit($text) . ') IS NOT NULL');
	}
}

#
# Handoff messages
#

# msg_text(context[, progress]): the text of a valid message (the
# original coordination module's format) whose context (and
# state.progress) are the JSON texts given, broken or not
sub msg_text
{
	my ($context, $progress) = @_;
	return '{"context":' . $context . ',"handoff_id":"6f1c0a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",'
	  . '"metadata":{},"source":{"agent_id":"agent-1","agent_type":"parser"},'
	  . '"state":' . (defined $progress ? '{"progress":' . $progress . '}' : '{}') . ','
	  . '"target":{"agent_id":"agent-2","agent_type":"analyzer"},'
	  . '"timestamp":"2026-01-02T03:04:05.678901Z","version":"1.0"}';
}

# msg_struct(id): a valid message in Perl form
sub msg_struct
{
	my ($class, $id) = @_;
	return { version => '1.0', handoff_id => $id,
		timestamp => '2026-01-02T03:04:05.678901Z',
		source => { agent_id => 'agent-1', agent_type => 'parser' },
		target => { agent_id => 'agent-2', agent_type => 'analyzer' },
		context => { task_description => 'Analyze code' }, state => {}, metadata => {} };
}

# values of each member that the original's schema refuses
my %bad_handoff = (
	version => [ '1', '', 'v1.0', num('1.0'), undef, [ '1.0' ] ],
	handoff_id => [ num(1), undef, [], {} ],
	workflow_id => [ num(1), undef, [ 'x' ] ],
	timestamp => [ num(0), undef, [], {} ],
	context => [ 'x', num(1), [], undef, \'true', { task_description => num(1) },
		{ previous_results => 'x' }, { previous_results => ['x'] },
		{ conversation_history => [ { role => 'robot' } ] }, { files => [ { path => num(1) } ] },
		{ user_preferences => [] } ],
	state => [ 'x', [], num(1), undef, { progress => { percentage => num(-1) } },
		{ progress => { percentage => num(101) } }, { progress => { percentage => num('1e400') } },
		{ progress => { percentage => '50' } }, { progress => { completed_steps => [ num(1) ] } },
		{ errors => 'e' }, { variables => [] } ],
	metadata => [ 'x', [], undef, num(0), { priority => 'urgent' }, { retry_count => num(-1) },
		{ retry_count => num(1.5) }, { tags => [ num(1) ] }, { timeout => 'soon' },
		{ correlation_id => num(1) } ],
	source => [ 'agent-1', [], undef, {}, { agent_id => 'a' }, { agent_id => num(1), agent_type => 'b' },
		{ agent_id => 'a', agent_type => 'b', execution_time => 'x' } ],
	target => [ 'agent-2', [], undef, {}, { agent_type => 'b' }, { agent_id => 'a', agent_type => [] },
		{ agent_id => 'a', agent_type => 'b', requirements => [] } ],
);
# members a message may leave out
my %optional = map { $_ => 1 } qw(handoff_id workflow_id state metadata);

# handoff families: single bad fields, then random mutations of valid
# messages sent to every handoff function
sub gen_handoffs
{
	my ($self) = @_;
	for my $f (sort keys %bad_handoff)
	{
		for my $v (@{ $bad_handoff{$f} })
		{
			my $m = BadInput->msg_struct($self->uuid);
			$m->{$f} = $v;
			$self->add('handoff_field', 'MY004', 'SELECT mycelium.validate_handoff(' . jb($m) . ')');
		}
		my $m = BadInput->msg_struct($self->uuid);
		delete $m->{$f};
		$self->add('handoff_field', $optional{$f} ? 'ok' : 'MY004', 'SELECT mycelium.validate_handoff(' . jb($m) . ')');
	}
	# the original's objects are open: other members are fine
	for my $extra ('', 'Context', 'handoff_id ', 'x' x 1000, "ctl\x01")
	{
		my $m = BadInput->msg_struct($self->uuid);
		$m->{$extra} = 1;
		$self->add('handoff_field', 'ok', 'SELECT mycelium.validate_handoff(' . jb($m) . ')');
	}
	$self->add('handoff_field', 'MY004', "SELECT mycelium.validate_handoff('$_')") for ('[]', '1', '"x"', 'null', '{}');
	# create_handoff's parts
	$self->add('handoff_field', 'MY004', $_) for
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', context => '[]')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', metadata => '1')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', metadata => '{\"priority\": \"urgent\"}')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', state => '{\"progress\": {\"percentage\": 1e400}}')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', 'e', state => '[]')";
	# the original's format sets no lengths
	$self->add('handoff_field', 'ok', $_ . ' IS NOT NULL') for
	  "SELECT mycelium.create_handoff('', 'b', 'c', 'd', 'e')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', 'd', '')",
	  "SELECT mycelium.create_handoff('a', 'b', 'c', repeat('t', 256), 'e')";

	for my $m (1 .. $self->{mutations})
	{
		my $msg = BadInput->msg_struct($self->uuid);
		my $expect = 'ok';
		$msg->{context} = $self->robject(4) if $self->rnd(2);
		$msg->{metadata} = $self->robject(2) if $self->rnd(2);
		$msg->{state} = $self->pick({}, { progress => { percentage => num($self->pick(qw(0 100 12.5 1e-300))),
			completed_steps => [ $self->pick(@strings) ] } }) if $self->rnd(2);
		$msg->{source}{agent_id} = $self->pick(@strings[ 0, 2 .. 6 ], 'é' x 255);
		if ($self->rnd(5) > 0)
		{
			my $f = $self->pick(sort keys %bad_handoff);
			$msg->{$f} = $self->pick(@{ $bad_handoff{$f} });
			$expect = 'MY004';
		}
		my $target = $self->pick(qw(validate serialize deserialize send));
		my $sql =
		  $target eq 'validate' ? 'SELECT mycelium.validate_handoff(' . jb($msg) . ')'
		  : $target eq 'serialize' ? 'SELECT length(mycelium.serialize_handoff(' . jb($msg) . '))'
		  : $target eq 'deserialize' ? 'SELECT mycelium.deserialize_handoff(' . lit(js($msg)) . ') IS NOT NULL'
		  : "SELECT mycelium.send_handoff(bad.fix('pending'), " . jb($msg) . ')';
		$self->add($expect eq 'ok' ? 'handoff_valid' : 'handoff_bad', $expect, $sql);
	}
}

# executor registration, agents' calls and schemas
sub gen_registration
{
	my ($self) = @_;
	$self->add('registration', '22023', "SELECT mycelium.register_executor(" . lit($_) . ", NULL)")
	  for ('', 'a' x 256, "tab\there", "nl\n", "del\x7f");
	$self->add('registration', '22023', "SELECT mycelium.register_executor('s', NULL, '$_')")
	  for ('1', '"x"', '[]', 'null', '{"type": 5}', '{"type": "nope"}', '{"minLength": -1}',
		'{"minLength": 1.5}', '{"maxItems": 1e400}', '{"multipleOf": 0}', '{"multipleOf": 1e-400}',
		'{"$ref": "http://example.com/s.json"}', '{"$ref": "#/nope"}', '{"required": [1]}',
		'{"properties": []}', '{"$schema": "http://example.com/unknown"}', '{"$ref": "#"}');
	# PostgreSQL's own code for a regular expression it cannot compile
	$self->add('registration', '2201B', "SELECT mycelium.register_executor('s', NULL, '{\"pattern\": \"[\"}')");
	$self->add('registration', '42883', "SELECT mycelium.register_executor('s', 'public.no_such(jsonb)')");
	$self->add('registration', '42P13', "SELECT mycelium.register_executor('s', '$_')")
	  for ('jsonb_typeof(jsonb)', 'jsonb_concat(jsonb,jsonb)', 'jsonb_array_elements(jsonb)');
	$self->add('registration', '42704', "SELECT * FROM mycelium.claim_tasks('no-such', 'w')");
	$self->add('registration', '42809', "SELECT * FROM mycelium.claim_tasks('worker', 'w')");
	$self->add('registration', '22023', "SELECT * FROM mycelium.claim_tasks('ext', " . lit($_) . ")")
	  for ('', 'w' x 256);
	$self->add('registration', 'MY003', $_) for
	  "SELECT mycelium.complete_task(bad.fix('running'), 'r1', 'intruder', '{}')",
	  "SELECT mycelium.fail_task(bad.fix('running'), 'r1', 'intruder', 'x')",
	  "SELECT mycelium.heartbeat(bad.fix('running'), 'r1', 'intruder')",
	  "SELECT mycelium.complete_task(gen_random_uuid(), 'r1', 'wk', '{}')",
	  "SELECT mycelium.complete_task(bad.fix('running'), '', 'wk', '{}')",
	  "SELECT mycelium.add_tasks(gen_random_uuid(), '[]')",
	  "SELECT mycelium.send_handoff(gen_random_uuid(), bad.msg())";
	$self->add('registration', '22023', "SELECT mycelium.heartbeat(bad.fix('running'), 'r1', 'wk', lease => '-1 s')");
	$self->add('registration', '42710', "SELECT mycelium.create_template('base', '[]')");
	$self->add('registration', '22023', "SELECT mycelium.create_template(" . lit($_) . ", '[]')") for ('', "a\x01");
	# schemas for json_schema_validate
	$self->add('schema', '22023', "SELECT mycelium.json_schema_validate('$_', '1')")
	  for ('1', '"x"', '[]', '{"type": 5}', '{"enum": 1}', '{"allOf": []}', '{"items": 1}',
		'{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}}}', '{"$dynamicRef": 5}',
		'{"minimum": "1"}', '{"dependentRequired": {"a": [1]}}');
	$self->add('schema', 'ok', "SELECT mycelium.json_schema_validate('$_', '1')")
	  for ('{"maximum": 1e400}', '{"minimum": -1e400}', '{"multipleOf": 1e-300}', '{"maxLength": 1e18}',
		'{"const": 1e400}', '{"enum": [' . ('9' x 300) . ']}');
	# a schema that is only a loop of references, or whose bound is
	# beyond 64 bits: refused when compiled
	$self->add('schema', '22023', "SELECT mycelium.json_schema_validate('{\"\$ref\": \"#\"}', '1')");
	$self->add('schema', '22023', "SELECT mycelium.json_schema_validate('{\"maxLength\": 1e20}', '1')");
	$self->add('schema', '22023', "SELECT mycelium.json_schema_validate('{\"\$defs\": {\"a\": {\"\$ref\": \"#/\$defs/b\"}, \"b\": {\"\$ref\": \"#/\$defs/a\"}}, \"\$ref\": \"#/\$defs/a\"}', '1')");
}

# invalid UTF-8: only a SQL_ASCII database lets such bytes into text
sub gen_invalid_utf8
{
	my ($self) = @_;
	my @bytes = ("\xff", "\xc3", "\xc3\x28", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "\xc0\xaf", "\xe2\x82");
	for my $b (@bytes)
	{
		my $hex = unpack('H*', $b);
		my $s = "convert_from('\\x61${hex}62'::bytea, 'SQL_ASCII')";
		# task ids are bytes: the database's encoding decides what they hold
		$self->add('invalid_utf8', 'ok', "SELECT mycelium.create_workflow(jsonb_build_array(mycelium.task($s, 'x', 'worker'))) IS NOT NULL", 'bad_ascii');
		$self->add('invalid_utf8', 'MY004', "SELECT mycelium.deserialize_handoff(replace(mycelium.serialize_handoff(bad.msg()), 'agent-1', $s))", 'bad_ascii');
		$self->add('invalid_utf8', '0A000', "SELECT mycelium.validate_handoff(jsonb_set(bad.msg(), '{source,agent_id}', to_jsonb($s)))", 'bad_ascii');
		$self->add('invalid_utf8', '0A000', "SELECT mycelium.json_schema_validate('{\"type\": \"string\"}', to_jsonb($s))", 'bad_ascii');
		$self->add('invalid_utf8', '0A000', "SELECT mycelium.create_handoff($s, 'b', 'c', 'd', 'e')", 'bad_ascii');
	}
}

# all(): every case, in a fixed order
sub all
{
	my ($self) = @_;
	$self->gen_fields;
	$self->gen_graph;
	$self->gen_sizes;
	$self->gen_escapes;
	$self->gen_handoffs;
	$self->gen_registration;
	$self->gen_invalid_utf8;
	$self->gen_mutations;
	return @{ $self->{cases} };
}

1;
