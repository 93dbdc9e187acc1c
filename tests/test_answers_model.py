"""The typed settings answer the questions every command asks of them, in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from airbox.config.settings import Settings
from airbox.render import manifests
from tests.answers_factory import answers


@pytest.mark.parametrize(
    ("storage", "context", "local"),
    [
        ("default", None, True),
        ("s3-keys", None, False),
        ("azure", None, False),
        ("s3-keys", "prod", False),
        # Validation refuses it; the model still never claims a store it cannot run.
        ("default", "prod", False),
    ],
)
def test_one_predicate_says_whether_airbox_runs_the_object_store(
    tmp_path: Path, storage: str, context: str | None, local: bool
) -> None:
    """MinIO runs only in the kind cluster airbox makes, and only without a storage
    section; the Helm values point at it exactly then, never at a store nothing deploys."""
    data = answers("vault", storage, directory=tmp_path)
    if context:
        data["cluster"] = {"kubeContext": context}
    settings = Settings.from_answers(data)
    assert settings.runs_local_store is local
    values = manifests.helm_values(settings)
    endpoint = values.get("storage", {}).get("minio", {}).get("endpoint", "")
    assert (manifests.LOCAL_STORE in endpoint) is local, values.get("storage")


def _saved(tmp_path: Path, name: str, damage: tuple[str, bytes]) -> Path:
    from airbox.config.gather import save
    from airbox.paths import StateDir

    state = StateDir.for_name(name)
    save(state, answers("aws-keys", "s3-keys", directory=tmp_path, name=name))
    file, data = damage
    (state.root / file).write_bytes(data)
    return state.root


def test_a_data_plane_known_by_its_name_alone_gets_no_invented_secrets_manager(
    tmp_path: Path, isolated: Path
) -> None:
    """Unreadable saved settings: what uninstall works from is the name's identity (the
    kind cluster airbox-<name>, the default namespace), with neither a secrets manager nor
    a storage made up to fill a full ``Settings``."""
    from airbox.installed import Installed, load_for_removal

    root = _saved(tmp_path, "dp7", ("settings.yaml", b"name: dp7\nsecretsManager: [unclosed\n"))
    found = load_for_removal("dp7")
    assert found is not None and not isinstance(found, Installed)
    assert not isinstance(found.settings, Settings)
    assert not hasattr(found.settings, "secrets_manager")
    assert not hasattr(found.settings, "storage")
    assert (found.settings.cluster_name, found.settings.namespace) == ("airbox-dp7", "airbyte")
    assert found.damaged is not None and str(root / "settings.yaml") in found.damaged


def test_readable_settings_beside_damaged_credentials_stay_whole(
    tmp_path: Path, isolated: Path
) -> None:
    from airbox.installed import Installed, load_for_removal

    _saved(tmp_path, "dp8", ("credentials.yaml", b"dataPlane:\n  clientSecret: \xff\xfe\n"))
    found = load_for_removal("dp8")
    assert isinstance(found, Installed) and found.damaged
    assert found.settings.secrets_manager.type == "AWS_SECRET_MANAGER"
    assert found.settings.storage is not None and found.settings.storage.type == "s3"


def test_a_support_bundle_over_unreadable_settings_does_not_judge_status(
    tmp_path: Path, isolated: Path
) -> None:
    """Status judges against the secrets manager and storage; unreadable settings name
    neither, so the bundle says status was not judged instead of a report against a
    guessed Vault and a guessed local store."""
    import subprocess
    import tarfile

    from tests.helpers import airbox_bin, airbox_env

    _saved(tmp_path, "dp9", ("settings.yaml", b"- 1\n- 2\n"))
    out = tmp_path / "bundle.tar.gz"
    result = subprocess.run(
        [airbox_bin(), "support-bundle", "--name", "dp9", "-o", str(out)],
        capture_output=True,
        text=True,
        env=airbox_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status: not judged: the saved settings are unreadable" in result.stderr
    with tarfile.open(out) as archive:
        names = [m.name.split("/", 1)[-1] for m in archive.getmembers()]
        errors = archive.extractfile(
            next(m for m in archive.getmembers() if m.name.endswith("/errors.txt"))
        )
        assert errors is not None
        text = errors.read().decode()
    assert "status.json" not in names
    assert "status: not judged" in text
