"""Worker counts from a host's vCPUs and memory (plugins/filter)."""
import pytest

from conftest import load

tuning = load("plugins/filter/django_stack_tuning.py", "django_stack_tuning")
workers = tuning.django_stack_workers

GiB = 1024

# cpus, memory_mb, expected sync workers, expected async workers
# (defaults: 128 MiB per worker, 256 MiB reserved)
TABLE = [
    (1, 512, 2, 1),          # (512-256)//128 = 2 caps 2n+1 = 3
    (1, 1 * GiB, 3, 1),
    (2, 512, 2, 2),          # a 2-vCPU host with 512 MiB must not run 5 workers
    (2, 2 * GiB, 5, 2),
    (4, 1 * GiB, 6, 4),      # (1024-256)//128 = 6 caps 9
    (4, 8 * GiB, 9, 4),
    (16, 4 * GiB, 30, 16),   # (4096-256)//128 = 30 caps 33
    (16, 32 * GiB, 33, 16),
    (64, 8 * GiB, 62, 62),   # (8192-256)//128 = 62 caps both 129 and 64
    (64, 128 * GiB, 129, 64),
]


@pytest.mark.parametrize(("cpus", "memory_mb", "sync", "async_"), TABLE)
def test_counts_follow_cores_and_stop_at_the_memory_budget(cpus, memory_mb, sync, async_):
    assert workers(cpus, memory_mb, "sync") == sync
    assert workers(cpus, memory_mb, "async") == async_


def test_uwsgi_processes_scale_like_sync_workers():
    assert workers(4, 8 * GiB, "uwsgi") == 9


def test_a_tiny_host_still_gets_one_worker():
    assert workers(8, 300, "sync") == 1
    assert workers(1, 64, "async") == 1


def test_the_budget_is_a_parameter():
    assert workers(16, 4 * GiB, "sync", per_worker_mb=512, reserve_mb=1024) == 6


def test_facts_arrive_as_strings_and_are_accepted():
    assert workers("2", "2048", "sync") == 5


@pytest.mark.parametrize(
    "args",
    [(0, 1024, "sync"), (2, 0, "sync"), (2, 1024, "sync", 0), (2, 1024, "sync", 128, -1)],
)
def test_impossible_hosts_are_refused(args):
    with pytest.raises(ValueError):
        workers(*args)


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match="async.*sync.*uwsgi"):
        workers(2, 1024, "threads")
