"""Worker counts sized from a host's vCPUs and memory.

Each server gets a CPU-based count, then a memory cap so that a small host
never swaps: (memory - reserve) // per-worker budget, and never below one.

    {{ ansible_facts.processor_vcpus | django_stack_workers(ansible_facts.memtotal_mb, 'sync') }}
"""

# How each kind of process scales with cores.
#   sync:  Gunicorn's own guideline for sync workers, 2 * cores + 1.
#   async: one event loop per core (Uvicorn workers, Daphne processes).
#   uwsgi: like sync; each process also runs threads.
_CPU_FORMULAS = {
    "sync": lambda cpus: 2 * cpus + 1,
    "async": lambda cpus: cpus,
    "uwsgi": lambda cpus: 2 * cpus + 1,
}


def django_stack_workers(cpus, memory_mb, kind, per_worker_mb=128, reserve_mb=256):
    """Number of worker processes for `kind` on a host with `cpus` and `memory_mb`."""
    if kind not in _CPU_FORMULAS:
        raise ValueError(f"unknown worker kind {kind!r}; expected one of {sorted(_CPU_FORMULAS)}")
    cpus, memory_mb = int(cpus), int(memory_mb)
    per_worker_mb, reserve_mb = int(per_worker_mb), int(reserve_mb)
    if cpus < 1 or memory_mb < 1 or per_worker_mb < 1 or reserve_mb < 0:
        raise ValueError(
            "vCPUs and memory must be >= 1, django_stack_worker_memory_mb >= 1 and "
            "django_stack_reserved_memory_mb >= 0"
        )
    by_cpu = _CPU_FORMULAS[kind](cpus)
    by_memory = (memory_mb - reserve_mb) // per_worker_mb
    return max(1, min(by_cpu, by_memory))


class FilterModule:
    def filters(self):
        return {"django_stack_workers": django_stack_workers}
