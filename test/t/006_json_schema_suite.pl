# The official JSON-Schema-Test-Suite (Debian's
# libtest-json-schema-acceptance-perl) run through the SQL function
# json_schema_validate in a real server: every test of every claimed file
# of test/json_schema/claimed.txt must pass, for draft 2020-12 and draft-07.
# The suite's remote documents (http://localhost:1234/...) are registered
# with mycelium.register_schema; the meta-schemas are built in.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use FindBin;
use File::Find;

my $suite = '/usr/share/perl5/auto/share/dist/Test-JSON-Schema-Acceptance/tests';
plan skip_all => "the JSON-Schema-Test-Suite is not installed at $suite"
  unless -d $suite;

# claimed.txt: "DRAFT FILE claimed", "DRAFT FILE excluded: why",
# "DRAFT FILE [case description] excluded: why"
my (%claimed, %excluded_case);
open(my $fh, '<', "$FindBin::RealBin/../json_schema/claimed.txt") or die $!;
while (<$fh>)
{
	next if /^\s*(#|$)/;
	if (/^(\S+) (\S+) \[(.*)\] excluded/) { $excluded_case{"$1/$2/$3"} = 1; }
	elsif (/^(\S+) (\S+) claimed/) { $claimed{"$1/$2"} = 1; }
}
close $fh;

# numbers stay exact (the suite has 9007199254740992.0 and friends)
my $json = JSON::PP->new->utf8->canonical->allow_nonref->allow_bignum;
my $nul_skipped = 0;
my @rows;
for my $draft ('draft2020-12', 'draft7')
{
	for my $path (sort glob("$suite/$draft/*.json"))
	{
		(my $file = $path) =~ s{.*/}{};
		next unless $claimed{"$draft/$file"};
		open(my $in, '<:raw', $path) or die $!;
		my $cases = $json->decode(do { local $/; <$in> });
		close $in;
		for my $case (@$cases)
		{
			next if $excluded_case{"$draft/$file/$case->{description}"};
			my $schema = $case->{schema};
			# a draft-07 file's schemas are draft-07 unless they say otherwise
			$schema->{'$schema'} //= 'http://json-schema.org/draft-07/schema#'
			  if $draft eq 'draft7' && ref $schema eq 'HASH';
			for my $test (@{ $case->{tests} })
			{
				my ($s, $d) = ($json->encode($schema), $json->encode($test->{data}));

				# jsonb cannot hold the NUL character: such tests cannot be
				# asked through SQL at all
				if ("$s$d" =~ /\\u0000/)
				{
					$nul_skipped++;
					next;
				}
				push @rows, [ "$draft $file", $s, $d, $test->{valid} ? 'true' : 'false' ];
			}
		}
	}
}
cmp_ok(scalar(@rows), '>', 1500, 'the suite has its tests (' . scalar(@rows) . ", $nul_skipped with \\u0000 left out)");

my $node = PostgreSQL::Test::Cluster->new('json_schema');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mycelium');
$node->safe_psql('postgres', 'CREATE TABLE suite (file text, schema jsonb, data jsonb, valid boolean)');

# load the tests through COPY (text format: escape backslashes and tabs)
my $copy = "COPY suite FROM STDIN;\n";
for my $r (@rows)
{
	$copy .= join("\t", map { my $v = $_; $v =~ s/\\/\\\\/g; $v =~ s/\t/\\t/g; $v =~ s/\n/\\n/g; $v } @$r) . "\n";
}
$copy .= "\\.\n";
$node->safe_psql('postgres', $copy);

# the remote documents, registered under the URIs the suite gives them
my $remotes = "$suite/../remotes";
my @remote_files;
find(sub { push @remote_files, $File::Find::name if /\.json$/ }, $remotes);
$copy = "COPY remotes FROM STDIN;\n";
for my $path (sort @remote_files)
{
	(my $uri = $path) =~ s{^\Q$remotes\E/}{http://localhost:1234/};
	open(my $in, '<:raw', $path) or die $!;
	my $doc = $json->encode($json->decode(do { local $/; <$in> }));
	close $in;
	$copy .= join("\t", map { my $v = $_; $v =~ s/\\/\\\\/g; $v =~ s/\t/\\t/g; $v =~ s/\n/\\n/g; $v } $uri, $doc) . "\n";
}
$copy .= "\\.\n";
$node->safe_psql('postgres', "CREATE TABLE remotes (uri text, doc jsonb);\n$copy");
is($node->safe_psql('postgres',
		'SELECT count(mycelium.register_schema(uri, doc)) FROM remotes'),
	scalar(@remote_files), 'the remote documents are registered');

my $failures = $node->safe_psql('postgres', q{
	SELECT string_agg(file || ': ' || schema::text || ' / ' || data::text, E'\n')
	  FROM suite WHERE mycelium.json_schema_validate(schema, data) IS DISTINCT FROM valid});
is($failures, '', 'every claimed test passes through SQL');
note($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s: %s/%s', file, ok, n), E'\n' ORDER BY file)
	  FROM (SELECT file, count(*) n,
				   count(*) FILTER (WHERE mycelium.json_schema_validate(schema, data) = valid) ok
			  FROM suite GROUP BY file) s}));

# json_schema_errors agrees with json_schema_validate on every test
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM suite
	 WHERE (SELECT count(*) FROM mycelium.json_schema_errors(schema, data)) = 0
		   IS DISTINCT FROM mycelium.json_schema_validate(schema, data)}),
	'0', 'errors are reported exactly when a test is invalid');

$node->stop;
done_testing();
