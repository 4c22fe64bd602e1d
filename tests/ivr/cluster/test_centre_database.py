"""`ivr cluster up`'s PostgreSQL: a real server in a folder, its URL for the nodes, and the
fallback to one SQLite file per node when it cannot start."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ivr.cluster.database import CentreDatabase
from ivr.store.postgres import probe


async def test_the_centres_database_starts_gives_a_url_and_stops() -> None:
    # under /tmp: the server's own account (when the tests run as root) must reach the folder
    folder = Path(tempfile.mkdtemp(prefix="hotline-centre-"))
    folder.chmod(0o711)  # as a cluster's workdir must be (docs/cluster.md)
    said: list[str] = []
    db = CentreDatabase(folder / "postgres", said.append)
    try:
        assert CentreDatabase.available()
        await db.start()
        assert db.url.startswith("postgresql://hotline:")
        assert (await probe(db.url)).startswith("15")
        assert said and "***" in said[0] and db.url.split(":")[2].split("@")[0] not in said[0]
    finally:
        await db.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_database_that_cannot_start_leaves_the_nodes_on_sqlite(tmp_path: Path) -> None:
    blocker = tmp_path / "postgres"
    blocker.write_text("a file where the server's folder should be")
    said: list[str] = []
    db = CentreDatabase(blocker, said.append)
    await db.start()
    assert db.url == ""
    assert "each node keeps its own SQLite file" in said[-1]
    await db.stop()  # nothing to stop
