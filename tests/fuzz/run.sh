#!/bin/sh
# Builds a libFuzzer target and runs it for a bounded time; never part of
# "make check" (CI runs it on its own, or "make fuzz").
#
#	tests/fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET: mbox, addr, aliases, smtp_cmd, smtp_data, pop3_cmd, config, queue,
# priv, smtp_session, pop3_session, smtp_reply, dns_answer, relay_result. BUILDDIR: where configure ran (autoconf.h),
# default the source tree. CC: a clang with libFuzzer (default clang). The
# binary is BUILDDIR/tests/fuzz/fuzz_TARGET, the growing corpus
# BUILDDIR/tests/fuzz/corpus-run/TARGET (seeded from
# tests/fuzz/corpus/TARGET; config also from the unit tests' files in
# tests/unit/configs, kept once), crashes BUILDDIR/tests/fuzz/corpus-run/crash-*.
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
# The built-in paths and names the settings table (common/config_keys.c)
# needs to compile; the targets that load a configuration set their own.
settings_defs() {
	for v in CONF_PATH SPOOL_DIR QUEUE_DIR RUN_DIR STATE_DIR LIBEXEC_DIR; do
		printf ' -DMAILD_%s="/nonexistent"' "$v"
	done
	printf ' -DMAILD_USER="nobody" -DMAILD_GROUP="nogroup"'
}
defs= libs= seeds=
case $target in
addr)
	srcs="tests/fuzz/fuzz_addr.c common/addr.c"
	;;
aliases)
	srcs="tests/fuzz/fuzz_aliases.c common/aliases.c common/addr.c
	    common/log.c common/xmalloc.c"
	;;
smtp_cmd)
	srcs="tests/fuzz/fuzz_smtp_cmd.c smtpd/smtp_parse.c common/addr.c
	    common/base64.c"
	;;
smtp_data)
	srcs="tests/fuzz/fuzz_smtp_data.c smtpd/smtp_data.c common/io.c
	    common/log.c common/xmalloc.c"
	;;
mbox)
	srcs="tests/fuzz/fuzz_mbox.c tests/unit/mbox_ref.c
	    common/mbox_append.c common/mbox_index.c common/mbox_reader.c
	    common/mbox_rewrite.c common/mbox_scan.c common/mbox_table.c
	    common/uidl.c common/fault.c common/fdutil.c common/log.c
	    common/xmalloc.c"
	# tiny buffers and table: short inputs reach every boundary
	defs="-DMBOX_SCAN_CHUNK=64 -DMBOX_READ_CHUNK=32 -DMBOX_APPEND_BUF=16
	    -DMBOX_COPY_CHUNK=8 -DMBOX_SCAN_MESSAGES_MAX=8"
	;;
pop3_cmd)
	srcs="tests/fuzz/fuzz_pop3_cmd.c pop3d/pop3_parse.c common/base64.c"
	defs=
	;;
config)
	srcs="tests/fuzz/fuzz_config.c common/config.c common/config_keys.c
	    common/config_value.c common/addr.c common/log.c common/xmalloc.c"
	defs=$(settings_defs)
	# listen host names resolve only when numeric or "localhost"
	libs="$(pkg-config --cflags --libs libconfig) -Wl,--wrap=getaddrinfo"
	# the unit tests' broken configs are seeds too (one copy of them)
	seeds=$srcdir/tests/unit/configs
	;;
smtp_reply)
	srcs="tests/fuzz/fuzz_smtp_reply.c relay/relay_reply.c"
	;;
dns_answer)
	srcs="tests/fuzz/fuzz_dns_answer.c relay/relay_mx.c"
	;;
relay_result)
	srcs="tests/fuzz/fuzz_relay_result.c relay/relay_ipc.c priv/ipc.c"
	;;
queue)
	srcs="tests/fuzz/fuzz_queue.c queue/queue_file.c common/fault.c
	    common/log.c common/xmalloc.c"
	;;
priv|smtp_session|pop3_session)
	srcs="tests/fuzz/fuzz_$target.c tests/fuzz/scratch.c
	    priv/priv.c priv/priv_apop.c
	    priv/priv_auth.c priv/priv_maildrop.c priv/priv_session.c
	    priv/priv_smtp.c priv/client_table.c queue/queue_file.c
	    queue/notice.c queue/bounce.c
	    queue/resolve.c common/addr.c common/aliases.c common/config.c
	    common/config_keys.c common/config_value.c common/fault.c
	    common/fdutil.c priv/ipc.c common/log.c common/mbox_append.c
	    common/mbox_index.c common/mbox_lock.c common/mbox_open.c
	    common/maildrop.c
	    common/mbox_reader.c common/mbox_rewrite.c common/mbox_scan.c
	    common/mbox_table.c common/pool_worker.c common/sockaddr.c
	    priv/priv_client.c
	    common/rfc5322.c common/session_id.c common/uidl.c
	    common/xmalloc.c"
	if [ "$target" = smtp_session ]; then
		srcs="$srcs smtpd/smtp_session.c smtpd/smtp_ehlo.c
		    smtpd/smtp_txn.c smtpd/smtp_cmds.c smtpd/smtp_tls.c
		    smtpd/smtp_auth.c smtpd/smtp_parse.c smtpd/smtp_data.c
		    common/io.c common/io_tls.c common/tls.c common/base64.c
		    common/cmd_loop.c"
	fi
	if [ "$target" = pop3_session ]; then
		srcs="$srcs pop3d/pop3_auth.c pop3d/pop3_capa.c
		    pop3d/pop3_maildrop.c pop3d/pop3_parse.c
		    pop3d/pop3_session.c pop3d/pop3_stls.c pop3d/pop3_trans.c
		    pop3d/pop3_update.c
		    common/io.c common/io_tls.c common/tls.c common/base64.c
		    common/cmd_loop.c"
	fi
	defs=$(settings_defs)
	libs="$(pkg-config --cflags --libs libconfig libssl) -lpam -lpthread"
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
    -fno-sanitize-recover=all -I"$builddir" -iquote "$srcdir/common" -iquote "$srcdir/priv" -iquote "$srcdir" \
    -I"$srcdir/tests/unit" $defs -o "$bin" $srcs \
    $(pkg-config --cflags --libs libcrypto) $libs)
dict=
[ -f "$srcdir/tests/fuzz/$target.dict" ] && dict=-dict=$srcdir/tests/fuzz/$target.dict
# leaks that are the libraries' own, not ours (see the file)
LSAN_OPTIONS="suppressions=$srcdir/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
exec "$bin" -max_total_time="$secs" -max_len=4096 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$out/corpus-run/" $dict "$@" \
    "$out/corpus-run/$target" "$srcdir/tests/fuzz/corpus/$target" $seeds
