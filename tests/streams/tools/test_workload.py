"""The simulated workload follows Hopsworks' life cycles and leaves the tables Hopsworks would."""

from __future__ import annotations

import pytest

from streams.tools.simulate import run_workload
from streams.tools.workload import WorkloadConfig, plan


@pytest.mark.unit
def test_plan_follows_hopsworks_life_cycles() -> None:
    steps = plan(
        WorkloadConfig(
            users=4,
            projects=2,
            members_per_project=2,
            libraries_per_project=1,
            failed_installs_per_project=1,
            delete_projects=1,
        )
    )
    actions = [s.action for s in steps]
    # a project is created ONGOING and only then marked DONE
    assert actions.index("create project") < actions.index("project ready")
    # a member is marked 'Under removal' before the row goes
    assert actions.index("remove member") + 1 == actions.index("member removed")
    # an install goes NEW -> ONGOING -> success, and a failing one ends FAILED
    first_install = actions.index("request install")
    assert actions[first_install : first_install + 3] == [
        "request install",
        "install running",
        "install succeeded",
    ]
    assert "install failed" in actions
    # deletion comes last and marks members, writes REMOVE, deletes the project in one transaction
    delete = steps[-1]
    assert delete.action == "delete project"
    assert [sql.split()[0] for sql, _ in delete.statements] == ["UPDATE", "INSERT", "DELETE"]


@pytest.mark.unit
def test_plan_is_deterministic_per_seed() -> None:
    assert plan(WorkloadConfig(seed=3)) == plan(WorkloadConfig(seed=3))


@pytest.mark.integration
def test_workload_leaves_the_tables_hopsworks_would(mysql_db) -> None:
    cfg = WorkloadConfig(
        users=5,
        projects=3,
        members_per_project=3,
        libraries_per_project=2,
        failed_installs_per_project=1,
        delete_projects=1,
    )
    conn = mysql_db.connect()
    conn.autocommit(False)
    run_workload(conn, plan(cfg))
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM users WHERE status = 2")
        assert cur.fetchone()[0] == 5
        cur.execute("SELECT projectname, creation_status, docker_image FROM project ORDER BY projectname")
        projects = cur.fetchall()
        assert [p[0] for p in projects] == ["demo_proj1", "demo_proj2"]  # proj0 deleted
        assert all(p[1] == 0 for p in projects)
        assert all(p[2].endswith(".4") or p[2].endswith(".6") for p in projects)
        cur.execute("SELECT COUNT(*) FROM project_team WHERE team_role = 'Under removal'")
        assert cur.fetchone()[0] == 0
        # successful installs are deleted; failed ones stay FAILED; REMOVE outlives the project
        cur.execute("SELECT op, status FROM conda_commands ORDER BY id")
        rows = cur.fetchall()
        assert sorted(rows) == sorted([("INSTALL", "FAILED")] * 3 + [("REMOVE", "NEW")])
    conn.close()
