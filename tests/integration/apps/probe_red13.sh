#!/usr/bin/env bash
. "$(dirname "$0")/../persona/lib.sh"
setup_state
start_daemon && enroll_unlock_secure || bail "daemon or secure did not start"
tf run secure -- sh -c 'printf "echo RAN-\$0\n" >/tmp/plain; printf "print(\"PYRAN\")\n" >/tmp/pplain; printf "BEGIN{print \"AWKRAN\"}\n" >/tmp/aplain' 2>&1
for cmd in \
 'BASH_ENV=/tmp/plain bash -c true' \
 'ENV=/tmp/plain sh -i </dev/null' \
 'bash --rcfile /tmp/plain -i </dev/null' \
 'PYTHONSTARTUP=/tmp/pplain python3 -i </dev/null' \
 'python3 /dev/fd/3 3</tmp/pplain' \
 'sh /dev/fd/3 3</tmp/plain' \
 'sh -c ". /dev/fd/3" 3</tmp/plain' \
 'awk -f /tmp/aplain' \
 'awk -f /dev/fd/3 3</tmp/aplain' \
 'env -S "sh /tmp/plain"' \
 'find /tmp -name plain -exec sh {} \;' \
 'echo /tmp/plain | xargs sh' \
 'busybox sh /tmp/plain' \
 'perl /tmp/plain' \
 'ln -sf /tmp/plain /tmp/l.sh; sh -c ". /tmp/l"' \
 'cp /bin/true /tmp/t; /lib64/ld-linux-x86-64.so.2 --library-path /tmp /bin/echo LDRAN' \
 'LD_AUDIT=/tmp/plain /bin/echo AUDITRAN' \
 'python3 -c "import os; fd=os.open(\"/tmp/t\", os.O_PATH); os.execve(fd, [\"t\"], {})"' \
 ; do
	out=$(tf run secure -- sh -c "$cmd" 2>&1 | tail -2 | tr '\n' ' ')
	echo "# [$cmd] => $out"
done
finish
