"""Hub repositories. Only the repository description exists so far: loading
from a hub comes with hub support."""
from dataclasses import dataclass


@dataclass(frozen=True)
class RepoInfo:
    """Where a kernel loaded through `get_kernel` came from."""

    repo_id: str
    revision: str
