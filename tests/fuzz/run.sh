#!/bin/sh
# Builds a libFuzzer target and runs it for a bounded time; never part of
# "make check" (CI runs it on its own, or "make fuzz").
#
#	tests/fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET: mbox or pop3_cmd. BUILDDIR: where configure ran (autoconf.h), default the
# source tree. CC: a clang with libFuzzer (default clang). The binary is
# BUILDDIR/tests/fuzz/fuzz_TARGET, the growing corpus
# BUILDDIR/tests/fuzz/corpus-run/TARGET (seeded from
# tests/fuzz/corpus/TARGET), crashes BUILDDIR/tests/fuzz/corpus-run/crash-*.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 TARGET SECONDS [libFuzzer options]" >&2; exit 2; }
target=$1 secs=$2
shift 2
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${BUILDDIR:-$srcdir}
cc=${CC:-clang}
if [ ! -f "$builddir/autoconf.h" ]; then
	echo "$0: no autoconf.h in $builddir: run configure first" >&2
	exit 2
fi
case $target in
mbox)
	srcs="tests/fuzz/fuzz_mbox.c tests/unit/mbox_ref.c
	    common/mbox_append.c common/mbox_index.c common/mbox_reader.c
	    common/mbox_rewrite.c common/mbox_scan.c common/mbox_table.c
	    common/uidl.c common/fault.c common/log.c common/xmalloc.c"
	# tiny buffers: short inputs reach every buffer boundary
	defs="-DMBOX_SCAN_CHUNK=64 -DMBOX_READ_CHUNK=32 -DMBOX_APPEND_BUF=16
	    -DMBOX_COPY_CHUNK=8"
	;;
pop3_cmd)
	srcs="tests/fuzz/fuzz_pop3_cmd.c pop3d/pop3_parse.c common/base64.c"
	defs=
	;;
*)
	echo "$0: unknown target $target" >&2
	exit 2
	;;
esac
out=$builddir/tests/fuzz
mkdir -p "$out/corpus-run/$target"
bin=$out/fuzz_$target
(cd "$srcdir" && $cc -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$builddir" -iquote "$srcdir/common" -iquote "$srcdir" \
    -I"$srcdir/tests/unit" $defs -o "$bin" $srcs \
    $(pkg-config --cflags --libs libcrypto))
dict=
[ -f "$srcdir/tests/fuzz/$target.dict" ] && dict=-dict=$srcdir/tests/fuzz/$target.dict
exec "$bin" -max_total_time="$secs" -max_len=4096 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$out/corpus-run/" $dict "$@" \
    "$out/corpus-run/$target" "$srcdir/tests/fuzz/corpus/$target"
