#!/usr/bin/env bash
# tests/check-layers.sh [ROOT]: lib/'s layers, as README.md's Layout and docs/guide.md state them.
#
# 1. Every source of lib/ (*.c, *.h, *.cu, *.cuh) lives in a layer folder, and its quoted includes
#    are path-qualified ("core/common.h") and point down or sideways within its own folder only
#    (an <layer/x.h> include counts the same, and no include path may step out with ".."):
#
#      core                          errors, allocation, atomic outputs, args, lines, rng, streams
#      media     -> core             PNG images, video decoding, contact sheets
#      nn        -> core             graph, ops, backends (nn/cuda too), models, checkpoints
#      face      -> core media       face detection, landmarks, crops
#      synth     -> core media       the synthetic benchmark
#      study     -> core media nn    dataset keys, manifests, score TSVs, metrics, tables, training
#      analysis  -> core media nn    Grad-CAM, SSIM, ACE
#      tool      -> every layer      what prints and exits (bin/ and bench/ only include it)
#
# 2. Outside lib/tool/ the library neither prints nor exits: after comments and string literals
#    are blanked, no line calls exit, _exit, _Exit, quick_exit, abort, assert, dfs_die,
#    dfs_die_error, dfs_warn, dfs_print_help, dfs_args_done, dfs_arg_long, dfs_arg_double, printf,
#    vprintf, dprintf, vdprintf, puts, putchar, perror, psignal, psiginfo, <err.h>'s err, errx,
#    verr, verrx, warn, warnx, vwarn, vwarnx or glibc's error, error_at_line, writes or fdopens
#    descriptor 1 or 2, or names stderr, stdout, STDERR_FILENO or (in the CUDA sources, C++) cerr,
#    cout or clog. Writing to a FILE* the caller gives is fine. Two exceptions, each
#    marked on its lines with a comment and allowed in lib/core/common.c only (the marker anywhere
#    else is itself an error): "layers: oom", the checked allocators' out-of-memory exit
#    (core/common.h says why), and "layers: - is stdout", dfs_out_open writing the output a caller
#    named "-" to stdout.
#
# Prints "FILE:LINE: problem" for each finding; exits 1 if any.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    # tracked or not yet added (a new file is checked before its first commit), as it is on disk
    files=$(git ls-files --cached --others --exclude-standard lib | grep -E '\.(c|h|cu|cuh)$' |
        while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done | sort -u)
else
    files=$(find lib -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)
fi

# shellcheck disable=SC2086  # one name a line
printf '%s\n' $files | perl -e '
use strict; use warnings;
my %allowed = (
    core => [qw(core)],
    media => [qw(core media)],
    nn => [qw(core nn)],
    face => [qw(core media face)],
    synth => [qw(core media synth)],
    study => [qw(core media nn study)],
    analysis => [qw(core media nn analysis)],
    tool => [qw(core media nn face synth study analysis tool)],
);
my $calls = qr/\b(?:exit|_exit|_Exit|quick_exit|abort|assert|dfs_die|dfs_die_error|dfs_warn|dfs_print_help|dfs_args_done|dfs_arg_long|dfs_arg_double|v?d?printf|puts|putchar|perror|psignal|psiginfo|v?err|v?errx|v?warn|v?warnx|error|error_at_line)\s*\(|\b(?:write|fdopen)\s*\(\s*[12]\s*,|\b(?:stderr|stdout|STDERR_FILENO|cerr|cout|clog)\b/;
my $bad = 0;
sub report {
    my ($file, $line, $msg) = @_;
    print "$file:$line: $msg\n";
    $bad++;
}
while (my $file = <STDIN>) {
    chomp $file;
    next if $file eq "";
    my ($layer) = $file =~ m{^lib/([^/]+)/};
    if (!defined $layer || !$allowed{$layer}) {
        report($file, 1, "not in a layer folder of lib/ (" . join(", ", sort keys %allowed) . ")");
        next;
    }
    open(my $fh, "<", $file) or do { report($file, 1, "cannot read: $!"); next; };
    my $text = do { local $/; <$fh> };
    close $fh;
    my @raw = split /\n/, $text, -1;
    # blank comments, string and character literals, keeping the newlines (line numbers stay)
    (my $code = $text) =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}{
        my $m = $1; my $nl = ($m =~ tr/\n//);
        $m =~ /^"/ ? q("") : $m =~ /^\x27/ ? q(\x27\x27) : " " . ("\n" x $nl)
    }gse;
    my @lines = split /\n/, $code, -1;
    my %ok = map { $_ => 1 } @{ $allowed{$layer} };
    for my $i (0 .. $#raw) {
        my $n = $i + 1;
        # <layer/x.h> finds the headers of lib through -Ilib as well as "layer/x.h" does
        if ($raw[$i] =~ /^\s*#\s*include\s*(?:"([^"]+)"|<(([^\/>]+)\/[^>]*)>)/ && (defined $1 || $allowed{$3})) {
            my $inc = defined $1 ? $1 : $2;
            my ($top) = $inc =~ m{^([^/]+)/};
            if (grep { $_ eq ".." } split m{/}, $inc) {
                report($file, $n, "#include \"$inc\" steps out with \"..\": name the header by its layer (\"core/common.h\")");
            } elsif (!defined $top || !$allowed{$top}) {
                report($file, $n, "#include \"$inc\" is not path-qualified (\"core/common.h\", with -Ilib)");
            } elsif (!$ok{$top}) {
                report($file, $n, "$layer includes $inc: $layer may include only " . join(", ", @{ $allowed{$layer} }));
            }
        }
        next if $layer eq "tool";
        my ($marker) = $raw[$i] =~ m{/\* (layers: (?:oom|- is stdout)) \*/};
        if ($marker && $file ne "lib/core/common.c") {
            report($file, $n, "the \"$marker\" exception belongs to lib/core/common.c only");
        }
        if (defined $lines[$i] && $lines[$i] =~ $calls && !($marker && $file eq "lib/core/common.c")) {
            (my $what = $&) =~ s/\s*\($/(/;
            report($file, $n, "$what outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools");
        }
    }
}
exit($bad ? 1 : 0);
'
