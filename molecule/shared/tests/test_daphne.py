"""Daphne under Supervisor: the three traps of the Channels recipe, each caught."""

from conftest import APP, all_running, fetch, only_for_server, wait_healthy

PROGRAM = f"{APP}-daphne"


only_daphne = only_for_server("daphne")


def supervisor_status(host):
    return host.run(f"supervisorctl status '{PROGRAM}:*'").stdout.splitlines()


def test_every_process_runs_on_the_socket_supervisor_hands_over(host):
    """With [program] instead of [fcgi-program], fd 0 is no socket and they crash (FATAL)."""
    lines = supervisor_status(host)
    config = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf").content_string
    processes = int(config.split("\nnumprocs=")[1].split()[0])
    assert processes >= 2
    assert len(lines) == processes, lines
    assert all(" RUNNING " in line for line in lines), lines
    assert [line.split()[0] for line in lines] == [f"{PROGRAM}:{PROGRAM}_{i}" for i in range(processes)]


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


def test_the_shared_socket_listens_on_loopback_only(host):
    sockets = {address for address, port in listening_tcp(host) if port == 8001}
    assert sockets == {"0100007F"}, sockets  # 127.0.0.1, little-endian hex


def socket_inodes(host, pid, as_user="root"):
    """Inodes of the sockets a process holds open (read as the process's own user:
    root in a test container lacks CAP_SYS_PTRACE, which another user's fds need)."""
    links = host.run(f"sudo -u {as_user} find /proc/{pid}/fd -type l -lname 'socket:*' -printf '%l\\n'").stdout
    return {link[len("socket:["):-1] for link in links.split()}


def test_all_processes_share_the_one_socket_supervisor_owns(host):
    """The listening socket on 127.0.0.1:8001 is open in supervisord and in every process.

    (Twisted duplicates fd 0 when it adopts it and closes fd 0 itself, so the
    socket is found by its inode, not by its descriptor number.)
    """
    rows = [r.split() for r in host.run("cat /proc/net/tcp").stdout.splitlines()[1:]]
    listening = {r[9] for r in rows if r[1] == "0100007F:1F41" and r[3] == "0A"}
    assert len(listening) == 1, rows
    inode = listening.pop()
    supervisord = host.run("systemctl show -p MainPID --value supervisor").stdout.strip()
    assert inode in socket_inodes(host, supervisord)
    pids = host.run(f"pgrep -u {APP} -f 'bin/daphne --endpoint'").stdout.split()
    assert len(pids) >= 2
    for pid in pids:
        assert inode in socket_inodes(host, pid, as_user=APP), pid


def test_processes_come_back_after_supervisor_restarts(host):
    assert host.run("systemctl restart supervisor").rc == 0
    assert all_running(host, f"'{PROGRAM}:*'")
    assert wait_healthy(host)
    assert fetch(host, "/healthz").json()["server"] == "daphne"


def test_each_process_logs_to_a_rotated_file(host):
    program = host.file(f"/etc/supervisor/conf.d/{PROGRAM}.conf")
    assert program.mode == 0o600
    assert "stdout_logfile_maxbytes=" in program.content_string
    assert host.file(f"/var/log/supervisor/{PROGRAM}_0.log").exists
