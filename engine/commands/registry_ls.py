"""`play registry ls`: the registered instances of the inventory's registry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

from engine.errors import EXIT_OK, EXIT_UNREACHABLE
from engine.output.table import table_lines
from engine.registry import RegistryError
from engine.registry.from_inventory import inventory_registry

if TYPE_CHECKING:
    from engine.inventory import Inventory


def list_instances(inventory: Inventory, service: str | None, as_json: bool,
                   out: TextIO) -> int:
    try:
        with inventory_registry(inventory) as registry:
            scan = registry.scan(service)
    except RegistryError as error:
        out.write(f"registry: {error}\n")
        return EXIT_UNREACHABLE
    if as_json:
        out.write(json.dumps([json.loads(i.to_json()) for i in scan.instances], indent=2) + "\n")
    else:
        rows = [(instance.service, instance.instance, f"{instance.address}:{instance.port}",
                 ",".join(instance.tags), instance.image_id[7:19]) for instance in scan.instances]
        out.writelines(f"{line}\n" for line in table_lines(
            [("SERVICE", 16), ("INSTANCE", 28), ("ADDRESS", 22), ("TAGS", 16), ("IMAGE", 0)],
            rows))
    for problem in scan.problems:
        out.write(f"warning: {problem}\n")
    return EXIT_OK
