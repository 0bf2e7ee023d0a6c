"""The simulator's modules import each other without a circle, imports under TYPE_CHECKING included."""

from __future__ import annotations

import grimp


def _sim_imports() -> dict[str, set[str]]:
    graph = grimp.build_graph("monitor", cache_dir=None)  # TYPE_CHECKING imports are kept by default
    sim = {m for m in graph.modules if m.startswith("monitor.sim.")}
    return {m: graph.find_modules_directly_imported_by(m) & sim for m in sim}


def _cycle(imports: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        for target in sorted(imports[module]):
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done and (found := visit(target, [*path, target])):
                return found
        done.add(module)
        return None

    for module in sorted(imports):
        if module not in done and (found := visit(module, [module])):
            return found
    return None


def test_the_simulator_has_no_import_circle() -> None:
    circle = _cycle(_sim_imports())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_kinds_are_a_leaf() -> None:
    assert _sim_imports()["monitor.sim.kinds"] == set()


def test_the_cycle_finder_finds_one() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(imports) == ["a", "b", "c", "a"]
