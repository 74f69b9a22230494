"""Daphne under Supervisor: the traps of the Channels recipe, each caught, and
the two groups (blue and green) of which the one the socket link names serves."""

from conftest import APP, all_running, app_server_processes, daphne_serving, fetch, only_for_server, run_site, wait_healthy

PROGRAM = f"{APP}-daphne"
LINK = f"/srv/{APP}/sockets/{PROGRAM}.sock"


only_daphne = only_for_server("daphne")


def supervisor_status(host, group):
    return host.run(f"supervisorctl status '{group}:*'").stdout.splitlines()


def test_every_process_runs_on_the_socket_supervisor_hands_over(host):
    """With [program] instead of [fcgi-program], fd 0 is no socket and they crash (FATAL)."""
    group = f"{PROGRAM}-{daphne_serving(host)}"
    lines = supervisor_status(host, group)
    config = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf").content_string
    processes = int(config.split("\nnumprocs=")[1].split()[0])
    assert processes >= 2
    assert len(lines) == processes, lines
    assert all(" RUNNING " in line for line in lines), lines
    assert [line.split()[0] for line in lines] == [f"{group}:{group}_{i}" for i in range(processes)]


def test_only_the_serving_group_runs_and_starts_with_supervisor(host):
    serving = daphne_serving(host)
    other = {"blue": "green", "green": "blue"}[serving]
    assert all(" STOPPED " in line for line in supervisor_status(host, f"{PROGRAM}-{other}"))
    config = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf").content_string
    sections = {part.split("]")[0]: part for part in config.split("[fcgi-program:")[1:]}
    assert "\nautostart=true\n" in sections[f"{PROGRAM}-{serving}"]
    assert "\nautostart=false\n" in sections[f"{PROGRAM}-{other}"]


def listening_tcp(host):
    """{(address, port)} of every listening TCP socket, IPv4 and IPv6."""
    rows = host.run("cat /proc/net/tcp /proc/net/tcp6").stdout.splitlines()
    found = set()
    for row in rows:
        cols = row.split()
        if len(cols) > 3 and cols[3] == "0A":
            address, port = cols[1].rsplit(":", 1)
            found.add((address, int(port, 16)))
    return found


def test_no_process_also_listens_on_port_8000(host):
    """`--fd 0` alone once made Daphne bind 127.0.0.1:8000 as well; nothing may."""
    assert 8000 not in {port for _, port in listening_tcp(host)}


def test_only_root_and_nginx_reach_the_sockets(host):
    directory = host.file(f"/srv/{APP}/sockets")
    assert (directory.user, directory.group, directory.mode) == ("root", "www-data", 0o750)
    assert host.run(f"sudo -u {APP} test -x /srv/{APP}/sockets").rc != 0
    served = host.run(f"sudo -u www-data curl -s -o /dev/null -w '%{{http_code}}' --unix-socket {LINK} "
                      "-H 'Host: localhost' http://localhost/healthz").stdout
    assert served in ("200", "301"), served  # 301: to HTTPS, when the site has TLS


def socket_inodes(host, pid, as_user="root"):
    """Inodes of the sockets a process holds open (read as the process's own user:
    root in a test container lacks CAP_SYS_PTRACE, which another user's fds need)."""
    links = host.run(f"sudo -u {as_user} find /proc/{pid}/fd -type l -lname 'socket:*' -printf '%l\\n'").stdout
    return {link[len("socket:["):-1] for link in links.split()}


def test_all_processes_share_the_one_socket_supervisor_owns(host):
    """The listening socket the link names is open in supervisord and in every process.

    (Twisted duplicates the descriptor it adopts and closes the one it got, so
    the socket is found by its inode, not by its descriptor number.)
    """
    path = host.run(f"readlink -f {LINK}").stdout.strip()
    rows = [r.split() for r in host.run("cat /proc/net/unix").stdout.splitlines()[1:]]
    listening = {r[6] for r in rows if len(r) > 7 and r[7] == path and r[3] == "00010000"}
    assert len(listening) == 1, [r for r in rows if len(r) > 7 and r[7] == path]
    inode = listening.pop()
    supervisord = host.run("systemctl show -p MainPID --value supervisor").stdout.strip()
    assert inode in socket_inodes(host, supervisord)
    pids = host.run(f"pgrep -u {APP} -f 'bin/daphne --endpoint'").stdout.split()
    assert len(pids) >= 2
    for pid in pids:
        assert inode in socket_inodes(host, pid, as_user=APP), pid


def test_processes_come_back_after_supervisor_restarts(host):
    serving = daphne_serving(host)
    assert host.run("systemctl restart supervisor").rc == 0
    assert all_running(host, f"'{PROGRAM}-{serving}:*'")
    assert daphne_serving(host) == serving
    assert wait_healthy(host)
    assert fetch(host, "/healthz").json()["server"] == "daphne"


def test_each_process_logs_to_a_rotated_file(host):
    program = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf")
    assert program.mode == 0o600
    assert "stdout_logfile_maxbytes=" in program.content_string
    assert host.file(f"/var/log/supervisor/{PROGRAM}-{daphne_serving(host)}_0.log").exists
    assert host.run(f"sudo -u {APP} test -w /srv/{APP}/current/app/{APP}/settings.py").rc != 0


def test_a_check_run_that_would_switch_changes_nothing(host, stack):
    """--check with a program change (which a real run applies by switching
    groups): the run succeeds, and the same processes serve from the same file."""
    serving = daphne_serving(host)
    processes = app_server_processes(host, stack)
    config = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf").content_string
    assert "--ping-interval 20\n" in config
    result = run_site("--check", "-e", "daphne_ping_interval=21")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Switch to the other group" in result.stdout
    assert daphne_serving(host) == serving
    assert app_server_processes(host, stack) == processes
    assert host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf").content_string == config
