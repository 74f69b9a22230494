"""Filters for a deployment of more than one host (site.yml).

    addresses | django_stack.deploy.django_stack_endpoints(port)

turns the app hosts' private addresses into the host:port entries of a load
balancer's upstream (an IPv6 address in brackets).
"""


def django_stack_endpoints(addresses, port):
    """host:port of each address, IPv6 addresses in brackets."""
    return [f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}" for address in addresses]


class FilterModule:
    def filters(self):
        return {"django_stack_endpoints": django_stack_endpoints}
