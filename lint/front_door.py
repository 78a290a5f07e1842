"""An import-linter contract: an app is entered through its front door only.

Another app may import `<app>.<door>` (and what is inside a door that is a package) for the doors
the contract names: a bare name (services) is a door of every app, a dotted one (terminals.drivers)
of that app only. Everything else is the app's own, so it can move without touching its neighbours.
"""

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


class FrontDoorContract(Contract):
    type_name = "front_door"

    apps = fields.ListField(subfield=fields.StringField())
    doors = fields.ListField(subfield=fields.StringField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=contract_utils.AlertLevel.ERROR,
        )
        apps: set[str] = set(self.apps)  # type: ignore[arg-type]
        doors: set[str] = set(self.doors)  # type: ignore[arg-type]
        broken = []
        for imported in sorted(graph.modules):
            app, _, inside = imported.partition(".")
            if app not in apps or self._through_door(app, inside, doors):
                continue
            for importer in sorted(graph.find_modules_that_directly_import(imported)):
                if importer.partition(".")[0] != app:
                    broken.append((importer, imported))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    @staticmethod
    def _through_door(app: str, inside: str, doors: set[str]) -> bool:
        if not inside:
            return True  # the app package itself (its __init__ holds nothing)
        first = inside.split(".")[0]
        return first in doors or f"{app}.{first}" in doors

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported in check.metadata["broken"]:
            output.print_error(f"{importer} -> {imported} (not a front door of {imported.partition('.')[0]})")
        output.new_line()
