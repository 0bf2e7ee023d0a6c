"""Regenerates the committed protobuf/gRPC code under monitor/pb from proto/monitor/pb."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
PROTO_FILES = sorted(
    path.relative_to(PROTO_ROOT).as_posix() for path in (PROTO_ROOT / "monitor" / "pb").glob("*.proto")
)


def _plugin(name: str) -> str:
    """Finds a protoc plugin installed next to this interpreter (mypy-protobuf ships two)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: pip install mypy-protobuf")
    return found


def generate(out_dir: Path) -> None:
    """Writes *_pb2.py, *_pb2_grpc.py and their typed stubs for every proto into out_dir."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *PROTO_FILES,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT, help="root to write monitor/pb into")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
